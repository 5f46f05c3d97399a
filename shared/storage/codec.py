"""Plain field dicts to Table entity properties and back, losslessly.

Table Storage has flat, typed properties (String up to 64 KiB of UTF-16, Int32, Int64,
Double, Boolean, DateTime, Binary, Guid) and no null. Values map as follows:

=========================  ====================================  =====================
Python value               stored as                             read back as
=========================  ====================================  =====================
str, bool, float, bytes    String, Boolean, Double, Binary       the same
int                        Int32, or Int64 beyond 32 bits         int
int beyond 64 bits         String, marker ``i``                  int
Decimal                    String of its exact digits, ``d``     Decimal (exact)
datetime (aware)           DateTime, converted to UTC            datetime in UTC
date                       String ``YYYY-MM-DD``, ``D``          date
Enum                       its value                             the value
None                       no property, marker ``n``             None
dict / list / tuple        String of JSON, marker ``j``          dict / list
=========================  ====================================  =====================

Naive datetimes are refused (ValueError): times are UTC from the moment they are parsed.
Inside JSON, Decimals are written as strings (exact digits), datetimes and dates in ISO
8601; they come back as those strings. Strings longer than ``CHUNK_CHARS`` are split
over ``f``, ``_1_f``, ``_2_f`` … (marker suffix ``*n``), so only the entity limits remain:
at most ``MAX_PROPERTIES`` properties and ``MAX_ENTITY_BYTES`` (Azure's size formula),
both checked here (ValueError). The markers live in one String property ``_types``
(JSON object field -> marker), absent when every field is native.

Field names must be identifiers (letters, digits, underscore; starting with a letter) of
at most 200 characters; names starting with ``_`` are reserved for this codec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from azure.data.tables import EdmType, EntityProperty

from shared import jsontext

TYPES_PROPERTY = "_types"
CHUNK_CHARS = 16_000  # at most 32,000 UTF-16 units: under the 64 KiB property limit
MAX_PROPERTIES = 252
MAX_ENTITY_BYTES = 1024 * 1024
SYSTEM_PROPERTIES = frozenset({"PartitionKey", "RowKey", "Timestamp"})
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,199}$")
_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_GOOD_NAMES: set[str] = set()  # field names already found valid (records repeat them)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _utc(value, "nested").isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} inside a JSON field")


_text = json.encoder.encode_basestring  # a str as _ENCODER writes it


def to_json(value: Any) -> str:
    """Compact JSON; Decimals as exact strings, datetimes as UTC ISO 8601. (``Money``
    dumped, ``{"amount": Decimal, "currency": str}``, the commonest nested value, is
    written directly: the same text, without the encoder's round trip per Decimal.)"""
    if type(value) is dict and len(value) == 2:
        amount, currency = value.get("amount"), value.get("currency")
        if type(amount) is Decimal and type(currency) is str and next(iter(value)) == "amount":
            return f'{{"amount":{_text(str(amount))},"currency":{_text(currency)}}}'
    return jsontext.dumps(value, default=_json_default)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"field {name!r}: naive datetime; times must be timezone-aware")
    return value.astimezone(UTC)


_NATIVE = frozenset({str, bool, float, bytes, UUID})


def _encode_value(name: str, value: Any) -> tuple[Any, str]:
    """``(stored value, marker)``; marker "" for natively stored values."""
    kind = type(value)
    if kind in _NATIVE:
        return value, ""
    if kind is int and -(2**31) <= value < 2**31:
        return value, ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return bool(value), ""
    if isinstance(value, int):
        value = int(value)
        if value in _INT32:
            return value, ""
        if value in _INT64:
            return EntityProperty(value, EdmType.INT64), ""
        return str(value), "i"
    if isinstance(value, str):
        return str(value), ""
    if isinstance(value, float):
        return float(value), ""
    if isinstance(value, bytes | UUID):
        return value, ""
    if isinstance(value, Decimal):
        return str(value), "d"
    if isinstance(value, datetime):
        return _utc(value, name), ""
    if isinstance(value, date):
        return value.isoformat(), "D"
    if isinstance(value, Mapping | list | tuple):
        return to_json(value), "j"
    raise TypeError(f"field {name!r}: cannot store {type(value).__name__}")


def encode_fields(
    fields: Mapping[str, Any], keys: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Entity properties for ``fields`` (see the module table), after ``keys`` (the
    PartitionKey and RowKey, when given). Raises ValueError for a bad field name, a naive
    datetime or an entity beyond Azure's limits; TypeError for a value with no storage
    form."""
    props: dict[str, Any] = dict(keys or {})
    markers: dict[str, str] = {}
    bound = 0  # an upper bound of entity_bytes, to skip the exact count when far below
    for name, value in fields.items():
        if name not in _GOOD_NAMES:
            if not _FIELD_NAME.match(name) or name in SYSTEM_PROPERTIES:
                raise ValueError(f"field name {name!r} cannot be a Table property")
            if len(_GOOD_NAMES) < 4096:
                _GOOD_NAMES.add(name)
        if value is None:
            markers[name] = "n"
            continue
        stored, marker = _encode_value(name, value)
        if isinstance(stored, str):
            bound += 4 * len(stored) + 24 * (len(stored) // CHUNK_CHARS)  # every chunk counts
            if len(stored) > CHUNK_CHARS:
                stored, marker = _split(name, stored, marker, props)
        elif isinstance(stored, bytes):
            bound += len(stored)
        bound += 24 + 2 * len(name)
        props[name] = stored
        if marker:
            markers[name] = marker
    if markers:
        props[TYPES_PROPERTY] = jsontext.dumps(markers)
    if len(props) > MAX_PROPERTIES or bound + 4096 + 8 * len(props) > MAX_ENTITY_BYTES:
        check_entity_limits(props)
    return props


def _split(name: str, text: str, marker: str, props: dict[str, Any]) -> tuple[str, str]:
    """Store all but the first ``CHUNK_CHARS`` piece of ``text`` as ``_i_name`` parts."""
    parts = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    props.update({f"_{i}_{name}": part for i, part in enumerate(parts) if i})
    return parts[0], f"{marker or 's'}*{len(parts)}"


def _plain(value: Any) -> Any:
    if isinstance(value, EntityProperty):
        return value.value
    if isinstance(value, datetime):  # the SDK's datetime subclass -> a plain UTC datetime
        return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=UTC)
    return value


def decode_value(marker: str, value: Any) -> Any:
    """A field's value from its stored form and its marker's kind (chunks joined)."""
    if marker == "d":
        return Decimal(value)
    if marker == "j":
        return jsontext.loads(value)
    if marker == "D":
        return date.fromisoformat(value)
    if marker == "i":
        return int(value)
    return value


_AS_READ = frozenset({str, int, bool, float})  # values ``_plain`` would return unchanged


def decode_fields(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``encode_fields`` was given, from an entity as the SDK returns it
    (system properties, chunk parts and markers are dropped)."""
    fields = {}
    for name, value in entity.items():
        if name[0] == "_" or name in SYSTEM_PROPERTIES:
            continue
        kind = type(value)
        if kind in _AS_READ or (kind is datetime and value.tzinfo is UTC):
            fields[name] = value  # a plain UTC datetime: as ``queries`` returns them
        else:
            fields[name] = _plain(value)
    text = entity.get(TYPES_PROPERTY)
    if text:
        apply_markers(fields, entity, jsontext.loads(text))
    return fields


def apply_markers(
    fields: dict[str, Any], entity: Mapping[str, Any], markers: Mapping[str, str]
) -> None:
    """Decode in ``fields`` the values ``markers`` (the entity's ``TYPES_PROPERTY``, parsed)
    names: None, chunked text joined from the entity's parts, typed values."""
    for name, marker in markers.items():
        if marker == "n":
            fields[name] = None
            continue
        kind, _, count = marker.partition("*")
        value = fields[name]
        if count:
            value = value + "".join(entity[f"_{i}_{name}"] for i in range(1, int(count)))
        fields[name] = decode_value(kind, value)


def _value_bytes(value: Any) -> int:
    if isinstance(value, str):
        return 4 + 2 * len(value) if value.isascii() else 4 + len(value.encode("utf-16-le"))
    if isinstance(value, bytes):
        return 4 + len(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4
    return 8  # Int64, Double, DateTime; Guid is 16 but never large


def entity_bytes(props: Mapping[str, Any]) -> int:
    """Azure's estimate of an entity's size: 4 + per property 8 + 2·len(name) + value."""
    return 4 + sum(8 + 2 * len(name) + _value_bytes(v) for name, v in props.items())


def check_entity_limits(props: Mapping[str, Any]) -> None:
    """Raise ValueError if ``props`` (keys included or not) exceed Azure's entity limits."""
    custom = sum(1 for name in props if name not in SYSTEM_PROPERTIES)
    if custom > MAX_PROPERTIES:
        raise ValueError(f"entity has {custom} properties; Azure allows {MAX_PROPERTIES}")
    size = entity_bytes(props)
    if size > MAX_ENTITY_BYTES:
        raise ValueError(f"entity is about {size} bytes; Azure allows {MAX_ENTITY_BYTES}")
