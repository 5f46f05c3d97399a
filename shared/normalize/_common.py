"""Parsing helpers shared by the platform normalizers. Pure; no I/O, no clock.

Contracts:
- Decimals are built from the payload's own text (``str`` as is, ``int`` exactly, a JSON
  ``float`` through its shortest repr, so ``25.37`` stays ``Decimal("25.37")``); booleans,
  NaN, infinities and locale formats (``"1,00"``) are refused.
- Minor units (Etsy ledger entries, Etsy payment adjustments) are scaled by the currency's
  ISO 4217 exponent: 0 for zero-decimal currencies such as JPY and KRW, 3 for BHD, KWD ...
  and 2 otherwise. Etsy ``{amount, divisor}`` money is divided exactly or refused.
- Instants: ISO 8601 text with ``Z`` or an explicit offset becomes aware UTC; text without
  an offset is refused (ambiguous). Epoch seconds (integers) become UTC. A bare date
  ``YYYY-MM-DD`` becomes UTC midnight of that date.
- ``Node`` reads a JSON object (or a report row) at a known path; every getter raises
  ``MalformedPayloadError`` naming platform, resource and the field's path. Optional
  getters treat a missing key, ``null`` and ``""`` alike as absent.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context as DecimalContext
from decimal import Decimal, Inexact, InvalidOperation
from functools import lru_cache
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError

from shared import jsontext
from shared.errors import MalformedPayloadError
from shared.models import Money, Record

R = TypeVar("R", bound=Record)

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
ZERO_DECIMAL = frozenset(_ZERO.split())
THREE_DECIMAL = frozenset(_THREE.split())
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENCY_TEXT = re.compile(r"[A-Za-z]{3}")
_MAX_EPOCH_S = 10**11  # beyond year 5000: milliseconds sent by mistake


def minor_unit_digits(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (JPY 0, USD 2, KWD 3)."""
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def parse_decimal(value: object) -> Decimal:
    """An exact, finite Decimal from a JSON number or decimal text (ValueError if not)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        result = Decimal(value.strip())
    else:
        raise ValueError(f"expected a decimal number, got {value!r}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    if result.as_tuple().exponent > 0:  # type: ignore[operator]
        result = Decimal(int(result))  # "1e2" reads 100, not 1E+2
    return result


def parse_currency(value: object) -> str:
    """An ISO 4217 code, upper-cased (ValueError unless three letters)."""
    if not isinstance(value, str) or not _CURRENCY_TEXT.fullmatch(value.strip()):
        raise ValueError(f"expected a three-letter currency code, got {value!r}")
    return value.strip().upper()


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, str) and not re.fullmatch(r"[+-]?\d+", value.strip()):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def from_minor_units(value: object, currency: str) -> Decimal:
    """An integer count of minor units as major units (1999 USD -> 19.99, 1999 JPY -> 1999)."""
    return Decimal(_whole(value)).scaleb(-minor_unit_digits(currency))


def divide_exact(amount: object, divisor: object) -> Decimal:
    """``amount / divisor`` exactly (Etsy Money); ValueError for a zero, negative or
    inexact divisor."""
    numerator, denominator = _whole(amount), _whole(divisor)
    if denominator <= 0:
        raise ValueError(f"divisor must be positive, got {divisor!r}")
    exact = DecimalContext(prec=60, traps=[Inexact, InvalidOperation])
    try:
        return exact.divide(Decimal(numerator), Decimal(denominator))
    except Inexact as exc:
        raise ValueError(f"{amount}/{divisor} is not an exact decimal") from exc


def parse_instant(value: object) -> datetime:
    """Aware UTC datetime from ISO 8601 text with ``Z`` or an offset."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an ISO 8601 date-time, got {value!r}")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"date-time without a UTC offset is ambiguous: {value!r}")
    return parsed.astimezone(UTC)


def parse_epoch(value: object) -> datetime:
    """Aware UTC datetime from whole epoch seconds (Etsy)."""
    seconds = _whole(value)
    if not 0 <= seconds < _MAX_EPOCH_S:
        raise ValueError(f"epoch seconds out of range (milliseconds?): {value!r}")
    return datetime.fromtimestamp(seconds, UTC)


def parse_day(value: object) -> datetime:
    """UTC midnight of a ``YYYY-MM-DD`` date (Quiltt)."""
    if not isinstance(value, str) or not _DAY_TEXT.fullmatch(value.strip()):
        raise ValueError(f"expected a YYYY-MM-DD date, got {value!r}")
    day = date.fromisoformat(value.strip())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _number_text(value: int | float | Decimal) -> str:
    number = parse_decimal(value)
    return "0" if number == 0 else format(number.normalize(), "f")


_EXACT_INT = 10**27
_encode_text = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False)
_encode_key = json.encoder.encode_basestring_ascii  # json.dumps(text)


def canonical_json(value: object) -> str:
    """Deterministic text of a JSON value: keys sorted, numbers in canonical decimal form
    (``10``, ``10.0`` and ``1E+1`` all read ``10``), no whitespace."""
    kind = type(value)
    if kind is str:  # exactly json.dumps(value, ensure_ascii=False)
        return _encode_text(value)
    if kind is dict and all(type(k) is str for k in value):  # a decoded JSON object
        heads, parts = _KEY_HEADS, []
        for key in sorted(value):
            head = heads.get(key)
            if head is None:
                head = f"{_encode_key(key)}:"
                if len(heads) < _MAX_KEY_HEADS:
                    heads[key] = head
            parts.append(head + canonical_json(value[key]))
        return "{" + ",".join(parts) + "}"
    if kind is list:
        return "[" + ",".join([canonical_json(v) for v in value]) + "]"
    if kind is float:
        return _float_text(value)
    if kind is int and -_EXACT_INT < value < _EXACT_INT:  # its own digits (Decimal's
        return str(value)  # normalize rounds past 28 digits: those take the long way)
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_encode_key(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


_KEY_HEADS: dict[str, str] = {}  # key -> its JSON text and colon (payloads repeat keys)
_MAX_KEY_HEADS = 4096


@lru_cache(maxsize=16_384)  # pure; money amounts repeat across events and pages
def _float_text(value: float) -> str:
    return _number_text(value)


def content_hash(*parts: object) -> str:
    """SHA-256 (hex, first 32 digits) of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:32]


_MONEY: dict[tuple[type, str, str], Money] = {}  # Context.money's instances, by exact input
_MAX_MONEY = 65_536


@dataclass(frozen=True)
class Context:
    """Who is normalizing what: names every error and stamps every record."""

    platform: str
    resource: str
    account: str
    scope: str = ""

    def fail(self, field: str, problem: str) -> NoReturn:
        raise MalformedPayloadError(self.platform, self.resource, field, problem)

    def node(self, data: object, path: str = "$") -> Node:
        if not isinstance(data, dict):
            self.fail(path, f"expected a JSON object, got {type(data).__name__}")
        return Node(self, data, path)

    def make(self, cls: type[R], path: str, **fields: Any) -> R:
        """A ``cls`` record stamped with platform and account; a value the model refuses
        becomes a MalformedPayloadError naming the payload path and the model field."""
        try:
            return cls(platform=self.platform, account=self.account, **fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            self.fail(path, f"{cls.__name__}.{where}: {first['msg']}")

    def money(self, path: str, amount: Decimal, currency: str) -> Money:
        """``Money(amount, currency)``; an amount or currency it refuses fails at ``path``.
        Equal inputs give one shared instance (``Money`` is frozen): pages repeat their
        prices and fees, and building the model is most of the cost."""
        key = (type(amount), str(amount), currency)  # the exact digits, "1.0" != "1.00"
        found = _MONEY.get(key)
        if found is not None:
            return found
        try:
            made = Money(amount=amount, currency=currency)
        except ValidationError as exc:
            self.fail(path, exc.errors()[0]["msg"])
        if len(_MONEY) >= _MAX_MONEY:
            _MONEY.clear()
        _MONEY[key] = made
        return made


class Node:
    """A JSON object (or report row) at ``path``, with typed, error-naming getters."""

    __slots__ = ("ctx", "data", "path")

    def __init__(self, ctx: Context, data: dict[str, Any], path: str) -> None:
        self.ctx, self.data, self.path = ctx, data, path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def fail(self, key: str, problem: str) -> NoReturn:
        self.ctx.fail(self.at(key), problem)

    def has(self, key: str) -> bool:
        value = self.data.get(key)
        return value is not None and value != ""

    def pick(self, *keys: str) -> str:
        """The first of ``keys`` present (platform versions rename fields), else the first."""
        data = self.data
        for key in keys:
            value = data.get(key)
            if value is not None and value != "":
                return key
        return keys[0]

    def get(self, key: str) -> Any:
        return self.data.get(key) if self.has(key) else None

    def req(self, key: str) -> Any:
        if not self.has(key):
            self.fail(key, "is missing")
        return self.data[key]

    def _parse(self, key: str, parser: Any, required: bool) -> Any:
        if not self.has(key):
            if required:
                self.fail(key, "is missing")
            return None
        try:
            return parser(self.data[key])
        except ValueError as exc:
            self.fail(key, str(exc))

    def text(self, key: str) -> str:
        value = self.req(key)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {value!r}")
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def ident(self, key: str) -> str:
        """An id given as a string or an integer, as text."""
        value = self.req(key)
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(key, f"expected an id (string or integer), got {value!r}")
        return str(value)

    def opt_ident(self, key: str) -> str | None:
        return self.ident(key) if self.has(key) else None

    def integer(self, key: str) -> int:
        return self._parse(key, _whole, True)

    def opt_integer(self, key: str) -> int | None:
        return self._parse(key, _whole, False)

    def flag(self, key: str) -> bool | None:
        """A boolean given as JSON true/false or the text "true"/"false" (Amazon IsGift)."""
        value = self.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(key, f"expected a boolean, got {value!r}")

    def decimal(self, key: str) -> Decimal:
        return self._parse(key, parse_decimal, True)

    def opt_decimal(self, key: str) -> Decimal | None:
        return self._parse(key, parse_decimal, False)

    def currency(self, key: str) -> str:
        return self._parse(key, parse_currency, True)

    def instant(self, key: str) -> datetime:
        return self._parse(key, parse_instant, True)

    def opt_instant(self, key: str) -> datetime | None:
        return self._parse(key, parse_instant, False)

    def epoch(self, key: str) -> datetime:
        return self._parse(key, parse_epoch, True)

    def opt_epoch(self, key: str) -> datetime | None:
        return self._parse(key, parse_epoch, False)

    def day(self, key: str) -> datetime:
        return self._parse(key, parse_day, True)

    def money(self, amount_key: str, currency_key: str) -> Money:
        """Money from two fields of this object (``{"Amount", "CurrencyCode"}`` and kin)."""
        amount, currency = self.decimal(amount_key), self.currency(currency_key)
        return self.ctx.money(self.at(amount_key), amount, currency)

    def obj(self, key: str) -> Node:
        return self.ctx.node(self.req(key), self.at(key))

    def opt_obj(self, key: str) -> Node | None:
        return self.obj(key) if self.has(key) else None

    def objs(self, key: str, *, required: bool = False) -> list[Node]:
        """The objects of a JSON array; a missing array is empty unless ``required``."""
        if not self.has(key) and not required:
            return []
        items = self.req(key)
        if not isinstance(items, list):
            self.fail(key, f"expected an array, got {type(items).__name__}")
        ctx, base = self.ctx, self.at(key)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                ctx.fail(f"{base}[{i}]", f"expected a JSON object, got {type(item).__name__}")
        return [Node(ctx, item, f"{base}[{i}]") for i, item in enumerate(items)]

    def connection(self, key: str, *, required: bool = True) -> list[Node]:
        """The nodes of a GraphQL connection, as ``edges[].node`` or ``nodes[]``."""
        if not self.has(key) and not required:
            return []
        conn = self.obj(key)
        if conn.has("nodes") and not conn.has("edges"):
            return conn.objs("nodes")
        return [edge.obj("node") for edge in conn.objs("edges", required=True)]

    def truncated(self, key: str) -> bool:
        """True when the connection at ``key`` says it has more pages than it holds."""
        conn = self.opt_obj(key)
        info = conn.opt_obj("pageInfo") if conn else None
        return bool(info and info.get("hasNextPage") is True)


def tab_rows(ctx: Context, text: str, required: tuple[str, ...]) -> list[Node]:
    """The rows of a tab-separated report with a header line, as Nodes over column name ->
    text (path ``line[n]``, 1-based, header is line 1). Columns in ``required`` must be in
    the header; a row with the wrong number of cells is refused."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        ctx.fail("line[1]", "report has no header line")
    header = [h.strip() for h in lines[0].split("\t")]
    for column in required:
        if column not in header:
            ctx.fail(f"line[1].{column}", "column missing from the report header")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            ctx.fail(f"line[{number}]", f"{len(cells)} cells for {len(header)} columns")
        rows.append(Node(ctx, dict(zip(header, cells, strict=True)), f"line[{number}]"))
    return rows


def json_lines(ctx: Context, text: str) -> list[Node]:
    """The objects of a JSON Lines document (path ``line[n]``, 1-based; blank lines skipped)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = jsontext.loads(line)
        except json.JSONDecodeError as exc:
            ctx.fail(f"line[{number}]", f"not JSON: {exc.msg}")
        out.append(ctx.node(value, f"line[{number}]"))
    return out


def load_json(ctx: Context, text: str) -> object:
    """A JSON document given as text (a raw page read back from storage)."""
    try:
        return jsontext.loads(text)
    except json.JSONDecodeError as exc:
        ctx.fail("$", f"not JSON: {exc.msg} at line {exc.lineno}")


def sum_money(ctx: Context, path: str, parts: list[Money | None]) -> Money | None:
    """The sum of the present amounts (None when none is present); mixed currencies are
    refused."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    currencies = sorted({p.currency for p in present})
    if len(currencies) > 1:
        ctx.fail(path, f"mixed currencies {currencies}")
    total = sum((p.amount for p in present), Decimal(0))
    return Money(amount=total, currency=currencies[0])


def scaled(money: Money | None, factor: int) -> Money | None:
    """``money`` times ``factor`` (-1 to flip a sign)."""
    if money is None:
        return None
    return Money(amount=money.amount * factor, currency=money.currency)


def magnitude(money: Money | None) -> Money | None:
    """``money`` as a positive amount (discounts some platforms print negative)."""
    if money is None:
        return None
    return Money(amount=abs(money.amount), currency=money.currency)
