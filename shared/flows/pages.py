"""A block's stored raw pages read back with their metadata (for the integrity check).

``fetch_pages`` wrote each data page with ``RawPageStore.put`` and the metadata listed
in its docstring; here they are read back in page order, decoded (JSON or report text)
and re-normalized — the raw pages are the audit trail, so the check sees exactly what
was stored, not what an orchestrator remembered.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass
from typing import Any

from shared import jsontext
from shared.flows.models import BlockSpec
from shared.flows.storage_retry import retried
from shared.models import Record
from shared.normalize import normalize_stored
from shared.settings import Settings
from shared.storage.blobs import get_blob
from shared.storage.clients import shared_clients
from shared.storage.keys import container_name
from shared.storage.raw_pages import RawPageStore, page_path

DOWNLOADS_IN_FLIGHT = 8


@dataclass(frozen=True)
class StoredPage:
    number: int
    text: str  # as stored, decompressed
    metadata: dict[str, str]
    records: list[Record]

    @property
    def payload(self) -> Any:
        """The page: report text as is, a JSON page decoded."""
        return self.text if self.metadata.get("format") == "text" else jsontext.loads(self.text)

    @property
    def has_next(self) -> bool:
        return self.metadata.get("has_next") == "1"

    @property
    def cursor(self) -> str | None:
        return self.metadata.get("cursor") or None

    @property
    def reported(self) -> int | None:
        text = self.metadata.get("reported", "")
        return int(text) if text.isdigit() else None


async def read_pages(settings: Settings, spec: BlockSpec) -> list[StoredPage]:
    """Every stored page of the block, ascending by number. Downloads overlap (at most
    ``DOWNLOADS_IN_FLIGHT``), each retried in place when storage fails for a moment
    (``storage_retry``); decoding and normalizing run in page order."""
    parts = (spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    numbers = await RawPageStore(settings).list_pages(*parts)
    container = await shared_clients(settings).container(container_name(settings.raw_container))
    slots = asyncio.Semaphore(DOWNLOADS_IN_FLIGHT)

    async def fetch(number: int) -> tuple[bytes, dict[str, str]]:
        return await get_blob(container, page_path(*parts, number))

    async def download(number: int) -> tuple[bytes, dict[str, str]]:
        async with slots:
            return await retried(lambda: fetch(number))

    downloads = [asyncio.ensure_future(download(n)) for n in numbers]
    try:
        blobs = await asyncio.gather(*downloads)
    finally:
        for pending in downloads:
            pending.cancel()
    pages = []
    for number, (data, metadata) in zip(numbers, blobs, strict=True):
        text = gzip.decompress(data).decode()
        kind = metadata.get("format")
        records = []
        if kind != "empty":  # a JSON page the memo holds is not even decoded
            records = normalize_stored(
                spec.platform,
                spec.resource,
                text,
                json_page=kind != "text",
                account=spec.account,
                scope=metadata.get("scope", ""),
            )
        pages.append(StoredPage(number, text, metadata, records))
    return pages
