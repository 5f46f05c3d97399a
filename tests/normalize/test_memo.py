"""The normalize memo: a page normalized again with the same content gives the same
records without a second pass; any other content, account or scope is normalized afresh."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

import shared.normalize as registry
from shared import jsontext
from shared.errors import ConfigurationError, MalformedPayloadError
from shared.normalize import normalize
from shared.normalize._memo import Memo
from shared.storage.raw_pages import encode_page


def _page(*amounts: Any) -> dict[str, Any]:
    nodes = [
        {
            "id": f"txn_{i}",
            "date": "2026-03-29",
            "description": "DEPOSIT é",  # non-ASCII: stored as is (ensure_ascii=False)
            "amount": amount,
            "entryType": "CREDIT",
            "status": "POSTED",
            "currencyCode": "USD",
            "metadata": None,
            "account": {"id": "acct_1", "name": "Checking"},
        }
        for i, amount in enumerate(amounts)
    ]
    return {"data": {"transactions": {"nodes": nodes, "count": len(nodes)}}}


@pytest.fixture
def memo(monkeypatch: pytest.MonkeyPatch) -> Memo:
    fresh = Memo()
    monkeypatch.setattr(registry, "MEMO", fresh)
    return fresh


def _fresh(*args: Any, **kwargs: Any) -> list:
    """``normalize`` with an empty memo: what a first pass gives."""
    registry.MEMO.clear()
    return normalize(*args, **kwargs)


def test_a_page_read_back_from_storage_hits_and_gives_the_same_records(memo: Memo) -> None:
    page = _page(12.5, 3)
    first = normalize("quiltt", "bank_transactions", page, account="p1")
    stored = json.loads(gzip.decompress(encode_page(page)))  # what verify decodes
    again = normalize("quiltt", "bank_transactions", stored, account="p1")
    assert (memo.hits, len(memo)) == (1, 0)  # read once, then forgotten
    assert again == first and again is not first
    assert again == _fresh("quiltt", "bank_transactions", stored, account="p1")


@pytest.mark.parametrize(
    "change",
    [
        {"account": "p2"},
        {"scope": "group-1"},
        {"page": _page(12.5, 4)},  # one digit differs
        {"page": json.dumps(_page(12.5, 3))},  # the same JSON as text is another payload kind
    ],
)
def test_other_content_account_or_scope_misses(memo: Memo, change: dict[str, Any]) -> None:
    normalize("quiltt", "bank_transactions", _page(12.5, 3), account="p1")
    args = {"page": _page(12.5, 3), "account": "p1", "scope": ""} | change
    records = normalize(
        "quiltt", "bank_transactions", args["page"], account=args["account"], scope=args["scope"]
    )
    assert memo.hits == 0
    expected = _fresh(
        "quiltt", "bank_transactions", args["page"], account=args["account"], scope=args["scope"]
    )
    assert records == expected


def test_errors_are_not_kept(memo: Memo) -> None:
    bad = _page(12.5)
    del bad["data"]["transactions"]["nodes"][0]["id"]
    for _ in range(2):
        with pytest.raises(MalformedPayloadError):
            normalize("quiltt", "bank_transactions", bad, account="p1")
    assert (memo.hits, len(memo)) == (0, 0)


def test_a_swapped_normalizer_never_meets_the_old_ones_results(
    memo: Memo, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(1)
    normalize("quiltt", "bank_transactions", page, account="p1")
    module = __import__("shared.platforms.quiltt.normalize", fromlist=["bank_transactions"])
    monkeypatch.setattr(module, "bank_transactions", lambda ctx, payload: [])
    assert normalize("quiltt", "bank_transactions", page, account="p1") == []


def test_the_memo_holds_at_most_its_records_oldest_out() -> None:
    memo = Memo(max_records=3)
    memo.put(("a",), [1, 2])  # type: ignore[arg-type, list-item]
    memo.put(("b",), [3])  # type: ignore[arg-type, list-item]
    memo.put(("c",), [4, 5])  # type: ignore[arg-type, list-item]  # 5 held: "a" goes
    memo.put(("d",), [6, 7, 8, 9])  # type: ignore[arg-type, list-item]  # more than the bound
    assert memo.take(("a",)) is None  # type: ignore[arg-type]
    assert memo.take(("d",)) is None  # type: ignore[arg-type]
    assert memo.take(("b",)) == [3]  # type: ignore[arg-type]
    assert memo.take(("c",)) == [4, 5]  # type: ignore[arg-type]
    assert len(memo) == 0


def test_paused_neither_reads_nor_fills(memo: Memo) -> None:
    normalize("quiltt", "bank_transactions", _page(1), account="p1")
    with memo.paused():
        normalize("quiltt", "bank_transactions", _page(1), account="p1")
        normalize("quiltt", "bank_transactions", _page(2), account="p1")
    assert (memo.hits, len(memo)) == (0, 1)
    assert memo.active
    normalize("quiltt", "bank_transactions", _page(1), account="p1")
    assert memo.hits == 1


def test_dict_pages_are_keyed_whatever_their_normalizer_costs() -> None:
    """Keying a dict page costs its compact JSON, which the page's blob reuses: a cheap
    normalizer's pages are keyed too (so verify does not normalize them again)."""

    def cheap(ctx: Any, payload: Any) -> list:
        return []

    memo = Memo()
    for _ in range(50):
        memo.cost(cheap, 1.0, 0.01)  # normalizes a hundred times faster than it keys
    args = ("quiltt", "bank_transactions", "p1", "")
    key, _ = memo.key(cheap, *args, {"a": 1})
    assert key is not None
    assert memo.json_text_key(cheap, *args, '{"a":1}') == key
    assert memo.key(cheap, *args, '{"a": 1}')[0] is not None  # text: hashed as it is
    assert [c["normalize_over_key"] for c in memo.costs().values()] == [0.01]


def _stored_text(page: Any) -> str:
    return gzip.decompress(encode_page(page)).decode()


def test_a_stored_json_page_the_process_fetched_is_not_even_decoded(
    memo: Memo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.normalize import normalize_stored

    page = _page(12.5, 3)
    first = normalize("quiltt", "bank_transactions", page, account="p1")
    text = _stored_text(page)
    with monkeypatch.context() as patched:
        patched.setattr(registry.json, "loads", lambda *_: pytest.fail("decoded"))
        again = normalize_stored("quiltt", "bank_transactions", text, json_page=True, account="p1")
    assert again == first and memo.hits == 1
    # not fetched here (or fetched with other content): decoded and normalized afresh
    other = _stored_text(_page(12.5, 4))
    expected = _fresh("quiltt", "bank_transactions", json.loads(other), account="p1")
    records = normalize_stored("quiltt", "bank_transactions", other, json_page=True, account="p1")
    assert records == expected


def test_stored_pages_normalize_as_their_decoded_payloads(memo: Memo) -> None:
    from shared.normalize import normalize_stored

    text = _stored_text(_page(7))
    assert normalize_stored("quiltt", "bank_transactions", text, json_page=True) == _fresh(
        "quiltt", "bank_transactions", json.loads(text)
    )
    with pytest.raises(MalformedPayloadError, match="not JSON"):
        normalize_stored("quiltt", "bank_transactions", text[:-1], json_page=True)
    with pytest.raises(MalformedPayloadError):  # a JSON page that is not an object
        normalize_stored("quiltt", "bank_transactions", "[1, 2]", json_page=True)
    with pytest.raises(ConfigurationError):
        normalize_stored("quiltt", "bank_transactions", text, json_page=True, account=3)  # type: ignore[arg-type]


def test_a_fetched_page_is_encoded_once_for_its_key_and_its_blob(
    memo: Memo, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, twin = _page(12.5, 3), _page(12.5, 3)
    normalize("quiltt", "bank_transactions", page, account="p1")
    dumps = []
    real = jsontext.dumps
    monkeypatch.setattr(jsontext, "dumps", lambda *a, **k: dumps.append(a[0]) or real(*a, **k))
    written = gzip.decompress(encode_page(page))
    assert dumps == [], "the page's text came from the memo"
    assert written == json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    assert gzip.decompress(encode_page(page)) == written and dumps == [page]  # given once
    assert gzip.decompress(encode_page(twin)) == written and dumps[-1] is twin  # not equal ones


def test_a_page_changed_after_it_was_keyed_is_stored_as_it_was_keyed(memo: Memo) -> None:
    """The memo gives the text of the page when it was normalized: a normalizer that
    changed its payload would not change what is stored (none does)."""
    page = _page(7)
    normalize("quiltt", "bank_transactions", page, account="p1")
    keyed = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    page["data"]["transactions"]["count"] = 99
    assert gzip.decompress(encode_page(page)) == keyed
