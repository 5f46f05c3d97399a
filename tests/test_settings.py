"""Settings: one typed object; every key of local.settings.sample.json is one it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.settings import PLATFORMS, Settings

ROOT = Path(__file__).resolve().parent.parent
HOST_KEYS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsFeatureFlags",
    "PYTHON_THREADPOOL_THREAD_COUNT",
}


@pytest.fixture
def sample() -> dict[str, str]:
    return json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]


def _env_keys() -> set[str]:
    keys = {"AzureWebJobsStorage"}
    for name, field in Settings.model_fields.items():
        if name in PLATFORMS:
            nested = field.annotation.model_fields
            keys |= {f"TRIBUTARY_{name.upper()}__{sub.upper()}" for sub in nested}
        elif name != "storage_connection":
            keys.add(f"TRIBUTARY_{name.upper()}")
    return keys


def test_sample_lists_exactly_the_keys_the_app_reads(sample: dict[str, str]) -> None:
    assert set(sample) - HOST_KEYS == _env_keys()


def test_sample_values_load_and_secrets_stay_hidden(
    sample: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in sample.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.ebay.base_url == "https://api.ebay.com"
    assert settings.etsy.client_secret.get_secret_value() == "fake-etsy-shared-secret"
    assert "fake-etsy-shared-secret" not in repr(settings)
    assert "fake-etsy-shared-secret" not in str(settings.model_dump())


def test_platform_overrides_point_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIBUTARY_AMAZON__BASE_URL", "http://127.0.0.1:8700/amazon")
    monkeypatch.setenv("TRIBUTARY_AMAZON__LIMITS", '{"getOrders.rate": 0.5}')
    settings = Settings()
    assert settings.platform("amazon").base_url == "http://127.0.0.1:8700/amazon"
    assert settings.amazon.limits == {"getOrders.rate": 0.5}
    with pytest.raises(KeyError, match="unknown platform"):
        settings.platform("myspace")
