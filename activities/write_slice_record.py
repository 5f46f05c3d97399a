"""The vertical slice's activity: write one record per block to Table storage and its raw
page to Blob storage (Azurite locally). Idempotent: a retried block overwrites itself."""

from __future__ import annotations

import azure.durable_functions as df
from pydantic import BaseModel

from shared.settings import get_settings
from shared.storage.raw_pages import RawPageStore
from shared.storage.records import RecordStore

bp = df.Blueprint()
NAME = "write_slice_record"


class SliceBlock(BaseModel):
    client_id: str
    block: int


@bp.activity_trigger(input_name="payload", activity=NAME)
async def write_slice_record(payload: dict) -> int:
    block = SliceBlock.model_validate(payload)
    settings = get_settings()
    page = {"block": block.block, "records": [{"id": f"slice-{block.block}"}]}
    record = {
        "platform": "slice",
        "account": block.client_id,
        "resource": "orders",
        "natural_key": f"slice-{block.block}",
        "block": block.block,
    }
    raw = RawPageStore(settings)
    await raw.put(block.client_id, "slice", block.client_id, "orders", f"b{block.block}", 0, page)
    records = RecordStore(settings)
    return await records.upsert(block.client_id, [record])
