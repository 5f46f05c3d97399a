"""The official specs in ../shared/specs, read in place (never copied into the repo).

``examples`` pulls the full response examples a spec carries for an operation (Swagger's
``examples`` and Amazon's ``x-amzn-api-sandbox`` static responses). ``validator`` checks a
test fixture against a spec schema *strictly*: every object schema that lists properties
refuses properties it does not list, so a fixture cannot use a field name the spec does
not have (OpenAPI ``nullable`` is honoured).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"


@cache
def load(name: str) -> dict[str, Any]:
    text = (SPECS / name).read_text()
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def examples(name: str, path: str, method: str = "get", status: str = "200") -> list[Any]:
    """Every full response example of one operation's response in spec ``name``."""
    return [example for example, _ in example_cases(name, path, method, status)]


def example_cases(
    name: str, path: str, method: str = "get", status: str = "200"
) -> list[tuple[Any, dict[str, Any]]]:
    """(response example, request parameters) pairs of one operation's response; plain
    ``examples`` have no request, Amazon's sandbox cases name their parameters."""
    response = load(name)["paths"][path][method].get("responses", {}).get(status, {})
    found: list[tuple[Any, dict[str, Any]]] = [
        (e, {}) for e in response.get("examples", {}).values()
    ]
    for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
        if "response" in case:  # some cases (DELETE) define only the request
            found.append((case["response"], case.get("request", {}).get("parameters", {})))
    return copy.deepcopy(found)


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _root(name: str) -> dict[str, Any]:
    spec = load(name)
    if "definitions" in spec:
        return {"definitions": _strict(spec["definitions"])}
    return {"components": {"schemas": _strict(spec["components"]["schemas"])}}


def validator(name: str, schema: str) -> Draft4Validator:
    """A strict validator for ``schema`` (a definition / component name) of spec ``name``."""
    root = _root(name)
    where = "definitions" if "definitions" in root else "components/schemas"
    return Draft4Validator({"$ref": f"#/{where}/{schema}", **root})


def assert_valid(name: str, schema: str, instance: Any) -> None:
    errors = sorted(validator(name, schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
