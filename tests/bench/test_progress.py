"""The progress rows of a long run: counts of the exchanges recorded so far (each read
once), application-wide lanes' use so far equal to ``lane_use`` on the same exchanges,
stage rows, and the side file. The run's parts a snapshot reads (recorder, clock, host,
scenario) are stand-ins holding plain data here; the whole path runs for real in
tests/bench/test_bench_tiny.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

from bench.progress import Watch, rss_mb
from bench.quotas import lane_use
from bench.recorder import Exchange
from shared.ambassador.policies import PlatformPolicy

T0 = 1_800_000_000.0
POLICIES = {p: PlatformPolicy.from_settings(p, {}) for p in ("etsy", "ebay", "amazon")}


@dataclass
class _Clock:
    t: float

    def now(self) -> float:
        return self.t


@dataclass
class _Stack:
    clock: _Clock
    exchanges: list[Exchange] = field(default_factory=list)
    done: tuple[bool, ...] = ()

    @property
    def started_at(self) -> float:
        return T0

    @property
    def recorder(self):
        return SimpleNamespace(exchanges=self.exchanges)

    @property
    def host(self):
        instances = {str(i): SimpleNamespace(done=d) for i, d in enumerate(self.done)}
        return SimpleNamespace(
            instances=instances, counters=SimpleNamespace(history_events_replayed=1234)
        )

    @property
    def scenario(self):
        both = ("etsy", "ebay", "amazon")
        return SimpleNamespace(
            clients=[SimpleNamespace(client_id=c, platforms=both) for c in ("a", "b", "c")]
        )


def _etsy(client: str, start: float, n: int, status: int = 200) -> list[Exchange]:
    return [Exchange(start + i * 0.1, "etsy", "api", status, 1, client) for i in range(n)]


def test_a_snapshot_counts_requests_and_a_lanes_use_so_far(tmp_path) -> None:
    stack = _Stack(_Clock(T0 + 100.0), done=(True, False, False))
    stack.exchanges += _etsy("a", T0, 300) + _etsy("b", T0 + 0.05, 300)
    stack.exchanges += _etsy("c", T0 + 1, 5, status=429)  # refused: a request, not a use
    stack.exchanges.append(Exchange(T0 + 2, "ebay", "fulfillment", 200, 1, "a"))
    stack.exchanges.append(Exchange(T0 + 2, "ebay", "auth", 200, 1, "a"))  # no lane
    stack.exchanges.append(Exchange(T0 + 3, "amazon", "getOrders", 200, 1, "b"))  # per client
    watch = Watch(tmp_path / "p.jsonl")
    ended = {("c", "etsy"): T0 + 50.0}
    snap = watch.snapshot(stack, POLICIES, ended=ended, connected=9)
    assert snap["requests"] == 608
    assert snap["per_platform"] == {"amazon": 1, "ebay": 2, "etsy": 605}
    assert (snap["instances_done"], snap["instances"]) == (1, 3)
    assert (snap["onboardings_ended"], snap["onboardings"]) == (1, 9)
    assert snap["events_replayed"] == 1234 and snap["virtual_h"] == round(100 / 3600, 4)
    assert set(snap["lanes"]) == {"etsy.api", "ebay.fulfillment"}
    etsy = lane_use(
        [e for e in stack.exchanges if e.platform == "etsy"],
        POLICIES["etsy"],
        "api",
        started_at=T0,
        stopped_at=T0 + 100.0,
        ended={"c": T0 + 50.0},
        clients=["a", "b", "c"],
    )
    assert snap["lanes"]["etsy.api"] == {"calls": 600, "use": etsy["use_of_capacity"]}
    assert 0 < etsy["use_of_capacity"] < 1


def test_a_later_snapshot_reads_only_the_new_exchanges(tmp_path) -> None:
    stack = _Stack(_Clock(T0 + 10.0))
    stack.exchanges += _etsy("a", T0, 10)
    watch = Watch(None)
    assert watch.snapshot(stack, POLICIES, ended={}, connected=1)["requests"] == 10
    stack.exchanges[:] = [Exchange(0, "etsy", "api", 500)] * 10  # already counted: not re-read
    stack.exchanges += _etsy("a", T0 + 5, 3)
    snap = watch.snapshot(stack, POLICIES, ended={}, connected=1)
    assert snap["requests"] == 13 and snap["per_platform"] == {"etsy": 13}
    assert snap["lanes"]["etsy.api"]["calls"] == 13


def test_stages_and_ticks_go_to_the_side_file_and_to_stderr(tmp_path, capsys) -> None:
    path = tmp_path / "sub" / "r.progress.jsonl"
    watch = Watch(path, echo=True)
    watch.stage("world built", clients=3)
    stack = _Stack(_Clock(T0 + 7200.0), done=(True,))
    stack.exchanges += _etsy("a", T0, 4)
    watch.tick(watch.snapshot(stack, POLICIES, ended={}, connected=3))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get("stage") for r in rows] == ["world built", None]
    assert rows[0]["clients"] == 3 and rows[1]["tick"] == 1 and rows[1]["virtual_h"] == 2.0
    for row in rows:
        assert row["wall_s"] >= 0 and row["cpu_s"] >= 0 and row["rss_mb"] > 0
    err = capsys.readouterr().err.splitlines()
    assert "stage: world built, clients 3" in err[0]
    assert "virtual +2.000 h, requests 4 (etsy 4)" in err[1] and "etsy.api 4@" in err[1]
    Watch(path)  # a new run's watch starts the file afresh
    assert path.read_text() == ""


def test_rss_is_this_process_resident_size() -> None:
    blob = bytearray(b"x" * (64 * 1024 * 1024))  # written: resident
    before = rss_mb()
    del blob
    assert before >= 64
