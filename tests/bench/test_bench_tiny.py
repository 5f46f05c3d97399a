"""``python -m bench run`` on the tiny scenario, end to end: every platform onboarded
through devhost, the sandboxes and Azurite; the report has exactly its fields, and the
stored records equal the ground truth (no timing asserts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.report import PLATFORM_FIELDS, TOP_FIELDS


def test_bench_on_tiny_reports_every_field_and_loses_nothing(monkeypatch, azurite, tmp_path):
    monkeypatch.setenv("TRIBUTARY_STORAGE_CONNECTION", azurite.connection_string)
    out = tmp_path / "tiny.json"
    status = main(
        ["run", "--scenario", "tiny", "--strategy", "tributary", "--quiet", "--out", str(out)]
    )
    report = json.loads(out.read_text())
    assert status == 0
    assert tuple(report) == TOP_FIELDS
    assert (report["scenario"], report["faults"], report["strategy"]) == (
        "tiny",
        "none",
        "tributary",
    )
    assert set(report["platforms"]) == {"amazon", "shopify", "ebay", "etsy", "quiltt"}
    for name, platform in report["platforms"].items():
        assert tuple(platform) == PLATFORM_FIELDS, name
        assert platform["records_expected"] > 0, name
        assert platform["missing"] == 0 and platform["duplicates"] == 0, (name, platform)
        assert platform["records_stored"] == platform["records_expected"], name
        assert platform["requests"] >= platform["requests_minimal"] > 0, name
    assert report["missing"] == 0 and report["duplicates"] == 0
    assert report["records_stored"] == report["records_expected"]
    assert report["blocks_parked"] == 0 and report["alerts"] == 0
    assert report["http_429"] == report["faults_injected"] == 0
    assert report["makespan_s"] > 0 and report["history_events_replayed"] > 0
    # floor_s and makespan_s are reported rounded to 0.1 s, efficiency from exact values
    ratio = report["floor_s"] / report["makespan_s"]
    assert report["efficiency"] == pytest.approx(ratio, abs=1e-3)
    details = json.loads((tmp_path / "tiny.details.json").read_text())
    assert details["floor_per_record"]["floor_s"] >= details["floor_tributary"]["floor_s"]
    planned = details["floor_planned_paths"]
    assert details["floor_per_record"]["floor_s"] >= planned["floor_s"] >= report["floor_s"]
    # (calls are not compared: a bulk path costs a run and a poll where a short paged
    # load may take one call; the floor is time, and time is ordered above)
    assert details["blocks_parked"] == {}  # nothing parked: no reasons listed
    assert details["floor_tributary"]["floor_s"] == report["floor_s"]
    # Amazon's inventory: every marketplace listed twice, page for page as the floor counts
    (inventory,) = [
        b for b in details["floor_tributary"]["buckets"] if b["lane"] == "getInventorySummaries"
    ]
    listed = details["lanes_used"]["amazon"]["getInventorySummaries"]["calls"]
    assert listed == inventory["calls"] > 0
    assert (tmp_path / "tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [
        json.loads(line) for line in (tmp_path / "tiny.progress.jsonl").read_text().splitlines()
    ]
    stages = [r["stage"] for r in rows if "stage" in r]
    assert stages == [
        "world built",
        "quiet start found",
        "forked truth and census",
        "connected",
        "driven",
        "truth and census read",
        "records read back",
    ]
    last = [r for r in rows if "tick" in r][-1]  # ticked as driving ended
    assert last["per_platform"] == {n: p["requests"] for n, p in report["platforms"].items()}
    assert last["onboardings_ended"] == last["onboardings"] == 5
    assert set(last["lanes"]) >= {"etsy.api"} and last["lanes"]["etsy.api"]["use"] > 0


def test_a_cut_run_says_so_and_gives_a_lower_bound(monkeypatch, azurite, tmp_path, capsys):
    """Stopped at 18 s virtual, before any Amazon report can be ready (the sandbox takes
    20 s and more per report): the sidecar says the run was cut and the makespan is the
    virtual time at the stop; the summary marks it as a bound."""
    monkeypatch.setenv("TRIBUTARY_STORAGE_CONNECTION", azurite.connection_string)
    out = tmp_path / "tiny-none-tributary.json"
    argv = ["run", "--scenario", "tiny", "--platforms", "amazon", "--quiet", "--out", str(out)]
    status = main([*argv, "--max-virtual-h", "0.005"])
    report = json.loads(out.read_text())
    details = json.loads((tmp_path / "tiny-none-tributary.details.json").read_text())
    assert status == 1 and tuple(report) == TOP_FIELDS
    assert report["missing"] > 0
    cut = details["cut"]
    assert cut["why"] == "max_virtual_s" and cut["makespan_is_lower_bound"] is True
    assert cut["unfinished_onboardings"] == 1
    assert report["makespan_s"] == report["platforms"]["amazon"]["makespan_s"]
    assert 18.0 <= report["makespan_s"] == pytest.approx(cut["at_virtual_s"], abs=0.1)
    assert "CUT (max_virtual_s)" in capsys.readouterr().out
    # what the app held at the cut: the Amazon ambassadors' states, and the unfinished
    # onboarding with what each of its instances last did
    state = json.loads((tmp_path / "tiny-none-tributary.state.json").read_text())
    assert state["at_virtual_s"] == pytest.approx(cut["at_virtual_s"], abs=0.1)
    ambassadors = [k for k in state["entities"] if k.startswith("@ambassador@amazon")]
    assert ambassadors and all(state["entities"][k] for k in ambassadors)
    names = {i["name"] for i in state["unfinished"]}
    assert {"sync_client", "sync_resource"} <= names
    assert state["unfinished_by_name"]["sync_client"] == 1
    assert all(i["last_events"] and i["status"] != "Completed" for i in state["unfinished"])
    assert main(["summary", str(out)]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert f">={report['makespan_s'] / 3600:.2f}" in row and " cut " in f" {row} "


def test_a_stop_signal_cuts_the_run_and_it_still_reports(azurite, tmp_path):
    """SIGTERM while driving (a kill by name): the run stops driving, reads back what is
    stored and writes its report, marked cut by ``signal``; exit status 1."""
    out = tmp_path / "stopped.json"
    progress = tmp_path / "stopped.progress.jsonl"
    env = {**os.environ, "TRIBUTARY_STORAGE_CONNECTION": azurite.connection_string}
    argv = [sys.executable, "-m", "bench", "run", "--scenario", "tiny", "--platforms", "amazon"]
    argv += ["--quiet", "--out", str(out)]
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(argv, cwd=root, env=env, stderr=subprocess.PIPE, text=True) as run:
        deadline = time.monotonic() + 120
        while '"stage": "connected"' not in (progress.read_text() if progress.exists() else ""):
            assert run.poll() is None and time.monotonic() < deadline, run.stderr.read()
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=120) == 1, run.stderr.read()
    report = json.loads(out.read_text())
    details = json.loads((tmp_path / "stopped.details.json").read_text())
    assert tuple(report) == TOP_FIELDS and report["missing"] > 0
    assert details["cut"]["why"] == "signal" and details["cut"]["unfinished_onboardings"] == 1
    stages = [json.loads(line).get("stage") for line in progress.read_text().splitlines()]
    assert stages[-3:] == ["driven", "truth and census read", "records read back"]
