"""devhost's memoized timestamp parser gives the SDK exactly what dateutil gives."""

from __future__ import annotations

import importlib

from dateutil.parser import parse as dateutil_parse
from hypothesis import given, settings
from hypothesis import strategies as st

from devhost import history, timestamps


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_devhost_timestamps_parse_to_what_dateutil_gives(epoch_s: float) -> None:
    text = history.timestamp(epoch_s)
    for _ in range(2):  # the first parse and the memoized one
        fast, slow = timestamps.parse(text), dateutil_parse(text)
        assert fast == slow
        assert type(fast.tzinfo) is type(slow.tzinfo)
        assert fast.isoformat() == slow.isoformat()


def test_installed_in_the_sdks_history_events() -> None:
    import devhost.host  # noqa: F401  (installs on import)

    module = importlib.import_module(_SDK_MODULE)
    assert module.dt_parse is timestamps.parse


_SDK_MODULE = "azure.durable_functions.models.history.HistoryEvent"
