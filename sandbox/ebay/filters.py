"""eBay's ``filter`` query syntax: comma-separated ``name:value`` criteria.

Values are a range ``[start..end]`` (either end may be empty; both inclusive) or a set
``{A|B}``. Criteria may also come in repeated ``filter`` parameters (the Finances docs
show ``filter=transactionId:{…}&filter=transactionType:{SALE}``). Commas inside brackets or
braces do not split. The parser only checks the syntax; each API maps a ``FilterSyntax``
to its own errorId and interprets the values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    start: str | None
    end: str | None


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]


class FilterSyntax(ValueError):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"bad filter {name}:{value}")
        self.name = name
        self.value = value


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _value(name: str, value: str) -> Range | Choice:
    if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
        start, sep, end = value[1:-1].partition("..")
        if not sep:
            raise FilterSyntax(name, value)
        return Range(start.strip() or None, end.strip() or None)
    if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        values = tuple(v.strip() for v in value[1:-1].split("|"))
        if not all(values):
            raise FilterSyntax(name, value)
        return Choice(values)
    raise FilterSyntax(name, value)


def parse(raw_values: list[str]) -> dict[str, Range | Choice]:
    """Every criterion of every ``filter`` parameter, by name (a later one wins)."""
    criteria: dict[str, Range | Choice] = {}
    for raw in raw_values:
        for part in _split(raw):
            name, sep, value = part.partition(":")
            if not sep or not name.strip():
                raise FilterSyntax(name.strip(), value)
            criteria[name.strip()] = _value(name.strip(), value.strip())
    return criteria
