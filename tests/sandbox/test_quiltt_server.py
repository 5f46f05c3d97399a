"""Server mode: ``python -m sandbox serve`` as a real process on loopback, crawled over HTTP.

Only Quiltt is served (``--platforms quiltt``) so the test does not depend on the other
sandboxes. ``--speed 60`` makes the simulated latency (and every limit window) 60x shorter.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.quiltt_support import QuilttCrawler, by_id

ROOT = Path(__file__).resolve().parents[2]
SPEED = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--scenario",
            "tiny",
            "--port",
            str(port),
            "--platforms",
            "quiltt",
            "--speed",
            str(SPEED),
            "--faults",
            "none",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the sandbox server did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_served_world_crawls_over_real_http(server: str) -> None:
    creds = json.loads(run_cli("credentials", "--scenario", "tiny", "--platforms", "quiltt"))
    quiltt_creds = creds["c-tiny"]["quiltt"]
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["platforms"] == {"quiltt": "/quiltt"} and health["scenario"] == "tiny"
        started_real, started_world = time.time(), health["now"]

        def world_now() -> float:
            return started_world + (time.time() - started_real) * SPEED

        q = QuilttCrawler(http, quiltt_creds, world_now, lambda s: asyncio.sleep(s / SPEED))
        transactions = await q.transactions(first=40)
        accounts = await q.accounts()
        assert (await http.get("/nothing")).status_code == 404
        end = (await http.get("/health")).json()["now"]
    assert all(r.headers["Ratelimit-Limit"] in ("25", "100") for r in q.responses)
    # the server's clock runs at 60x: compare with the truth at the end of the crawl (a
    # card charge may have posted meanwhile, so statuses are compared on ids only)
    w = World(load("tiny"), clock=ManualClock(end), platforms=("quiltt",))
    truth = by_id(w.ground_truth("c-tiny", "quiltt", "bank_transactions"))
    assert by_id(transactions).keys() == truth.keys()
    assert by_id(accounts).keys() == by_id(w.ground_truth("c-tiny", "quiltt", "accounts")).keys()
    assert end - started_world > 0


def test_credentials_command_prints_valid_json() -> None:
    creds = json.loads(run_cli("credentials", "--scenario", "multi", "--platforms", "quiltt"))
    assert len(creds) == 50
    profiles = {c["quiltt"]["profile_id"] for c in creds.values()}
    assert len(profiles) == 50 and all(p.startswith("p_") for p in profiles)
    w = World(load("multi"), platforms=("quiltt",))
    assert creds == w.credentials()


def test_truth_command_counts_records() -> None:
    counts = json.loads(
        run_cli("truth", "--scenario", "tiny", "--platforms", "quiltt", "--client", "c-tiny")
    )
    w = World(load("tiny"), platforms=("quiltt",))
    assert counts == {
        "c-tiny": {
            "quiltt": {
                "bank_transactions": len(w.ground_truth("c-tiny", "quiltt", "bank_transactions")),
                "accounts": 3,
            }
        }
    }


def test_serve_refuses_non_loopback_hosts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--platforms", "quiltt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "loopback" in done.stderr
