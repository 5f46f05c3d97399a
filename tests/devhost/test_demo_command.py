"""`python -m devhost demo` (what `make demo` runs) on the tiny scenario: it onboards the
client on all five platforms through devhost and its summary finds every resource equal
to the sandbox's ground truth, with the run's time against the rate-limit floor."""

from __future__ import annotations

import os
from types import SimpleNamespace

from devhost.demo import demo
from shared.settings import get_settings
from shared.storage.clients import close_shared_clients


async def test_the_demo_command_completes_every_resource(monkeypatch, azurite, capsys) -> None:
    monkeypatch.setattr(os, "environ", os.environ.copy())  # the demo configures the process
    os.environ["TRIBUTARY_STORAGE_CONNECTION"] = azurite.connection_string
    os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112
    args = SimpleNamespace(scenario="tiny", activities=8, faults="none", quiet=True)
    try:
        code = await demo(args)
    finally:
        await close_shared_clients(get_settings())
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every resource of every platform complete" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("amazon ", "etsy "))]
    assert rows and all(row[4] == "0" and row[5] == "0" for row in rows), out  # missing, extra
    assert "against the rate-limit floor" in out and "efficiency" in out
