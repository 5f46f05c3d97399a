"""Memoized timestamp parsing for the SDK's replay of devhost's histories.

The SDK builds every history event of every episode with ``dateutil.parser.parse`` of
its ``Timestamp`` (``azure.durable_functions.models.history.HistoryEvent``): about a
fifth of devhost's CPU in a long backfill, re-parsing the same strings at each replay
of the same history. ``install()`` swaps that module's ``dt_parse`` for ``parse``:
dateutil's own parse, memoized (datetimes are immutable, so a shared result is safe).
Each distinct timestamp is parsed once, by dateutil, with dateutil's exact result.
Nothing of the replay changes; the real host never runs this (only devhost installs it).
"""

from __future__ import annotations

import importlib
from datetime import datetime
from functools import lru_cache

from dateutil.parser import parse as dateutil_parse

_MODULE = "azure.durable_functions.models.history.HistoryEvent"


@lru_cache(maxsize=1 << 17)
def parse(text: str) -> datetime:
    return dateutil_parse(text)


def install() -> None:
    """Make the SDK's history events parse timestamps with ``parse`` (idempotent)."""
    module = importlib.import_module(_MODULE)
    module.dt_parse = parse
