"""The foundation's vertical slice end to end: HTTP trigger -> orchestration -> block
sub-orchestrations -> permit entity (denials waited out on durable timers) -> activity
writing to Azurite. Runs the real ``function_app`` through devhost on the virtual clock.

Replaced by the real flows' end-to-end tests once they cover the same path (issue 6)."""

from __future__ import annotations

import json

import pytest

import function_app
from devhost.clock import VirtualClock
from devhost.host import DevHost
from shared import settings as settings_module
from shared.settings import Settings
from shared.storage.raw_pages import RawPageStore
from shared.storage.records import RecordStore

pytest.importorskip("orchestrators.slice_client")


@pytest.fixture
def app_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app reads ``get_settings()``: point it at this test's Azurite tables."""
    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    import activities.write_slice_record as activity

    monkeypatch.setattr(activity, "get_settings", lambda: settings)
    return settings


async def test_slice_runs_end_to_end_against_azurite(app_settings: Settings) -> None:
    host = DevHost(function_app.app, clock=VirtualClock(1_790_000_000), check_determinism=True)
    response = await host.http("POST", "/api/slice/c1", body={"blocks": 8})
    assert response.status_code == 202, response.get_body()
    instance_id = json.loads(response.get_body())["id"]
    status = await host.run_until_done(instance_id)
    assert status["runtimeStatus"] == "Completed", status

    records = await RecordStore(app_settings).read("c1", "slice", "orders")
    assert sorted(r["natural_key"] for r in records) == sorted(f"slice-{i}" for i in range(8))
    pages = await RawPageStore(app_settings).list_pages("c1", "slice", "c1", "orders", "b3")
    assert len(pages) == 1
    assert host.counters.entity_operations >= 8  # every block asked the permit entity

    again = await host.http("POST", "/api/slice/c1", body={"blocks": 0})
    assert again.status_code == 400
    assert "blocks" in json.loads(again.get_body())["problems"][0]["field"]
