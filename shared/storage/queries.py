"""Entity queries read without the SDK's generated deserializer.

Why not ``TableClient.query_entities``: azure-data-tables passes every page of a query
through its generated model deserializer (each property value walked as an ``object``)
and then ``_convert_to_entity``: about 0.12 ms of CPU per record of a dozen fields,
against 0.035 ms here (5,000 order records, 2-core dev machine) — reading a block's
records back for its integrity check is a large share of a load. This module
sends the same request (``GET {account}/{table}()?$filter=…``, JSON with minimal
metadata, API version 2019-02-02) through the TableClient's own pipeline, so
authentication, retries and logging stay the SDK's, follows the service's continuation
headers, and converts each value by its ``@odata.type`` annotation as
``_convert_to_entity`` does.

What an entity comes back as: a dict of ``PartitionKey``, ``RowKey`` and every custom
property (``Timestamp`` and the ``odata.*`` metadata are dropped, as ``codec``'s readers
never use them). Values: String, Int32, Boolean and un-annotated Double as JSON gives
them; Int64 as ``EntityProperty(int, EdmType.INT64)`` and DateTime as an aware UTC
datetime (microseconds, the service's 7th digit cut as the SDK does), Double annotated
as float (``NaN`` / ``Infinity`` included), Binary as bytes, Guid as UUID — so
``codec.decode_fields`` of it equals ``decode_fields`` of the SDK's entity (a test
holds the two side by side).

``query(..., fields=True)`` yields ``codec.decode_fields`` of each entity instead, made
in one pass over the reply's JSON (``fields_from_json``): a record read for a link check
cost about as much to convert twice (entity, then fields) as to validate.

Like ``transactions``, it leans on ``TableClient._client.send_request``;
``transactions.lean_available`` says whether it is there, and callers fall back to
``query_entities`` if not.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from uuid import UUID

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.data.tables import EdmType, EntityProperty
from azure.data.tables.aio import TableClient

from shared import jsontext
from shared.storage.clients import storage_errors
from shared.storage.codec import (
    SYSTEM_PROPERTIES,
    TYPES_PROPERTY,
    apply_markers,
    decode_fields,
)
from shared.storage.transactions import API_VERSION, lean_available

_NEXT_PARTITION = "x-ms-continuation-NextPartitionKey"
_NEXT_ROW = "x-ms-continuation-NextRowKey"
_HEADERS = {
    "x-ms-version": API_VERSION,
    "DataServiceVersion": "3.0",
    "Accept": "application/json;odata=minimalmetadata",
}
_ANNOTATION = "@odata.type"
_DROPPED = frozenset({"Timestamp"})


def _datetime(text: str) -> datetime:
    head, dot, fraction = text.rstrip("Z").partition(".")
    if dot:
        head = f"{head}.{fraction[:6].ljust(6, '0')}"
    return datetime.fromisoformat(head).replace(tzinfo=UTC)


_CONVERSIONS: Mapping[str, Callable[[Any], Any]] = {
    EdmType.INT64.value: lambda v: EntityProperty(int(v), EdmType.INT64),
    EdmType.DATETIME.value: _datetime,
    EdmType.DOUBLE.value: float,
    EdmType.BINARY.value: base64.b64decode,
    EdmType.GUID.value: UUID,
    EdmType.INT32.value: int,
    EdmType.BOOLEAN.value: bool,
    EdmType.STRING.value: str,
}


def entity_from_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """One entity of a query reply (minimal metadata) as described in the module
    docstring. Raises ValueError for an annotation this module does not know."""
    out: dict[str, Any] = {}
    types: dict[str, str] = {}
    for name, value in item.items():
        if name.endswith(_ANNOTATION):
            types[name[: -len(_ANNOTATION)]] = value
        elif not name.startswith("odata.") and name not in _DROPPED:
            out[name] = value
    for name, kind in types.items():
        if name in out:
            convert = _CONVERSIONS.get(kind)
            if convert is None:
                raise ValueError(f"property {name!r}: unknown type {kind!r}")
            out[name] = convert(out[name])
    return out


_TO_FIELD = {**_CONVERSIONS, EdmType.INT64.value: int}  # ``decode_fields`` unwraps Int64


@lru_cache(maxsize=1024)  # records of one resource share a handful of marker texts
def _markers(text: str) -> dict[str, str]:
    return jsontext.loads(text)


def fields_from_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """``codec.decode_fields(entity_from_json(item))`` in one pass: the fields an entity
    of a query reply was written with. Raises ValueError for an annotation this module
    does not know."""
    fields: dict[str, Any] = {}
    annotated = None
    for name, value in item.items():
        if "." in name:  # metadata (``odata.etag``) or an annotation: never a field name
            if name.endswith(_ANNOTATION):
                if annotated is None:
                    annotated = []
                annotated.append((name[: -len(_ANNOTATION)], value))
            continue
        if name[0] != "_" and name not in SYSTEM_PROPERTIES:
            fields[name] = value
    if annotated is not None:
        for name, kind in annotated:
            if name not in fields:
                continue
            convert = _TO_FIELD.get(kind)
            if convert is None:
                raise ValueError(f"property {name!r}: unknown type {kind!r}")
            fields[name] = convert(fields[name])
    text = item.get(TYPES_PROPERTY)
    if text:
        apply_markers(fields, item, _markers(text))
    return fields


def literal(value: str) -> str:
    """``value`` as an OData string literal (quotes doubled), for a ``$filter``."""
    return "'" + value.replace("'", "''") + "'"


def _url(table: TableClient, params: Mapping[str, str]) -> str:
    base, _, signed = table.url.partition("?")
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{base}/{quote(table.table_name)}()?{query}" + (f"&{signed}" if signed else "")


async def query(
    table: TableClient, query_filter: str, *, select: str | None = None, fields: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Every entity of ``table`` matching ``query_filter`` (OData, values already
    literals: see ``literal``), page after page in the service's order. ``select``
    names the properties to return (comma-separated); ``fields`` yields each entity's
    ``codec.decode_fields`` instead (``fields_from_json``). Raises TransientError /
    ThrottledError when storage fails for now, ResourceNotFoundError if the table is
    missing.

    The next page is asked for as soon as a reply names it, so the service reads it
    while this one is converted and consumed (on Azurite, which scans the table for
    every page, the two overlap on two cores)."""
    if not lean_available(table):
        with storage_errors():
            async for entity in table.query_entities(query_filter, select=select):
                yield decode_fields(dict(entity)) if fields else dict(entity)
        return
    params: dict[str, str] = {"$filter": query_filter}
    if select:
        params["$select"] = select
    convert = fields_from_json if fields else entity_from_json
    pending: asyncio.Future[_Page] | None = asyncio.ensure_future(_page(table, params))
    try:
        while pending is not None:
            body, next_partition, next_row = await pending
            pending = None
            if next_partition or next_row:  # asked for now: the service works on it
                params = {k: v for k, v in params.items() if not k.startswith("Next")}
                params["NextPartitionKey"] = next_partition or ""
                if next_row:
                    params["NextRowKey"] = next_row
                pending = asyncio.ensure_future(_page(table, params))
                await asyncio.sleep(0)  # let it send before this page's conversion runs
            for item in jsontext.loads(body)["value"]:  # while this page is converted
                yield convert(item)
    finally:
        if pending is not None:  # the caller stopped early, or converting failed
            pending.cancel()
            pending.add_done_callback(_retrieve)


def _retrieve(done: asyncio.Future[Any]) -> None:
    """Take a dropped page's outcome, so a failure of it is not reported as unseen."""
    if not done.cancelled():
        done.exception()


_Page = tuple[bytes, str | None, str | None]
"""A reply's body and its continuation (next PartitionKey, next RowKey)."""


async def _page(table: TableClient, params: Mapping[str, str]) -> _Page:
    with storage_errors():
        request = HttpRequest("GET", _url(table, params), headers=_HEADERS)
        response = await table._client.send_request(request, stream=True)
        body = await response.read()
        if response.status_code != 200:
            error = ResourceNotFoundError if response.status_code == 404 else HttpResponseError
            raise error(response=response, message=body[:300].decode("utf-8", "replace"))
    return body, response.headers.get(_NEXT_PARTITION), response.headers.get(_NEXT_ROW)
