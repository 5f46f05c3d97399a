# Tributary — the two commands a newcomer needs: `make demo` and `make test`.
# Everything else here is what those two depend on.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint format bench bench-devhost clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

DEMO_SCENARIO ?= reference
DEMO_ACTIVITIES ?= 32

# The two-year reference seller on all five platforms (see the README for its time);
# `make demo DEMO_SCENARIO=tiny` is the small one (a minute or two).
demo: setup
	$(PY) -m devhost demo --scenario $(DEMO_SCENARIO) --activities $(DEMO_ACTIVITIES)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The benchmark's standard set (issue 7): reference x three strategies without faults,
# tributary under default and harsh faults, multi with tributary. One process per run
# (peak RSS is per run); reports, details and plots in $(BENCH_OUT); a summary at the end.
# BENCH_ARGS go to every run, e.g. BENCH_ARGS="--max-wall-s 3600" (a cut run says so;
# multi with 50 clients does not finish in hours on 2 cores: see bench/RESULTS.md).
BENCH_OUT ?= bench/out
BENCH_ARGS ?=
BENCH_RUNS ?= reference:none:tributary reference:none:uniform-worst-case \
	reference:none:reactive-backoff reference:default:tributary reference:harsh:tributary \
	multi:none:tributary

bench: setup
	@mkdir -p $(BENCH_OUT); status=0; \
	for run in $(BENCH_RUNS); do \
		set -- $$(echo $$run | tr ':' ' '); \
		echo "== bench $$1 / $$2 / $$3"; \
		$(PY) -m bench run --scenario $$1 --faults $$2 --strategy $$3 \
			--out $(BENCH_OUT)/$$1-$$2-$$3.json $(BENCH_ARGS) || status=1; \
	done; \
	$(PY) -m bench summary $(BENCH_OUT)/*-*-*.json; exit $$status

bench-devhost: setup
	$(PY) -m scripts.bench_devhost

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
