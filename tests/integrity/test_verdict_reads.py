"""The link checks' reads (``shared.flows.verdicts._Context.stored``) on Azurite: a row
test narrows which stored rows are validated into records, never what a caller keeps;
each row is validated once per check; rows no caller keeps are not validated at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shared.flows import verdicts
from shared.flows.verdicts import _among, _Context, _in, linked
from shared.models import Payout
from shared.platforms.base import Window
from shared.storage.codec import decode_fields, encode_fields
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore
from tests.integrity.test_integrity_linked import ACCOUNT, CLIENT, JUNE, item, spec, txn

START, END = JUNE.start, JUNE.end
EDGES = [START - timedelta(microseconds=1), START, START + timedelta(days=3)]
EDGES += [END - timedelta(microseconds=1), END, END + timedelta(days=2)]


def _row(record) -> dict:
    """The row ``stored`` tests: the record's fields as a read gives them back."""
    return decode_fields(encode_fields(record.model_dump()))


instants = st.one_of(
    st.none(),
    st.sampled_from(EDGES),
    st.datetimes(
        min_value=datetime(2026, 5, 1), max_value=datetime(2026, 8, 1), timezones=st.just(UTC)
    ),
)


@hsettings(max_examples=200, deadline=None)
@given(at=instants)
def test_a_time_test_passes_every_row_the_callers_window_test_keeps(at):
    record = txn("t", "1.00", "p1", at)
    kept = record.posted_at is not None and START <= record.posted_at < END
    assert _in("posted_at", JUNE)(_row(record)) == kept  # exact for times as stored


def test_a_time_test_leaves_values_that_are_not_times_to_the_caller():
    window = Window(start=START, end=END)
    assert _in("created_at", window)({"created_at": "2026-06-02T00:00:00Z"})
    assert _in("created_at", window)({"created_at": datetime(2026, 6, 2)})  # naive
    assert not _in("created_at", window)({"created_at": None})
    assert not _in("created_at", window)({})


@hsettings(max_examples=50, deadline=None)
@given(
    payout=st.sampled_from([None, "p1", "p2", "p3"]), wanted=st.sets(st.sampled_from(["p1", "p2"]))
)
def test_a_membership_test_is_the_callers_own(payout, wanted):
    record = txn("t", "1.00", payout, START)
    assert _among("payout_id", wanted)(_row(record)) == (record.payout_id in wanted)


@pytest.fixture
def counted(monkeypatch):
    """How often ``stored`` validated a row."""
    calls = []
    real = verdicts.record_from_json

    def validate(row):
        calls.append(row["natural_key"])
        return real(row)

    monkeypatch.setattr(verdicts, "record_from_json", validate)
    return calls


async def test_stored_with_a_row_test_keeps_what_the_caller_keeps_and_validates_once(
    settings, counted
):
    store = RecordStore(settings)
    transactions = [
        txn(f"t{i}", f"{i}.00", payout, at)
        for i, (payout, at) in enumerate(
            (p, at) for p in (None, "p1", "p2", "p3") for at in [None, *EDGES]
        )
    ]
    await store.upsert(CLIENT, transactions)
    await store.upsert(
        CLIENT, [txn("other", "1.00", "p1", START).model_copy(update={"account": "x"})]
    )
    context = _Context(settings, spec("ebay", "transactions"), None)
    periods = ["2026-05", "2026-06", "2026-07", "-"]

    wanted = {"p1", "p3"}
    by_payout = await context.stored("transactions", periods, _among("payout_id", wanted))
    assert counted and len(counted) == len(by_payout)  # only the kept rows were validated
    dated = await context.stored("transactions", periods, _in("posted_at", JUNE))
    every = await context.stored("transactions", periods)

    assert {t.natural_key for t in every} == {t.natural_key for t in transactions}
    assert by_payout == [t for t in every if t.payout_id in wanted]
    assert dated == [t for t in every if t.posted_at and START <= t.posted_at < END]
    assert len(counted) == len(every) == len(set(counted))  # each row validated once
    again = await context.stored("transactions", periods, _among("payout_id", wanted))
    assert all(a is b for a, b in zip(again, by_payout, strict=True))  # not validated again


async def test_rows_no_caller_keeps_are_not_validated(settings):
    store = RecordStore(settings)
    good = item("o1", at=START + timedelta(days=1))
    broken = store.to_entity(CLIENT, item("o2", at=START + timedelta(days=2)))
    broken["quantity"] = -1  # refused by the record's validation
    table = await store._table(CLIENT, "ebay", "order_items")
    await table.upsert_entity(broken)
    await store.upsert(CLIENT, [good])
    context = _Context(settings, spec("ebay", "order_items"), None)

    kept = await context.stored("order_items", ["2026-06"], _among("order_id", {"o1"}))
    assert kept == [good]
    with pytest.raises(ValueError):  # a pydantic ValidationError once the row is kept
        await context.stored("order_items", ["2026-06"])


async def test_a_check_lists_the_accounts_blocks_once(settings, monkeypatch):
    listings = []
    real = Ledger.list_blocks

    async def counted_listing(self, *args, **kwargs):
        listings.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "list_blocks", counted_listing)
    payout = Payout(
        platform="ebay", account=ACCOUNT, natural_key="p1", payout_id="p1", status="SUCCEEDED"
    )
    transactions = [txn("t1", "1.00", "p1", START), txn("t2", "2.00", "p2", START)]
    await RecordStore(settings).upsert(CLIENT, [payout, *transactions])
    links = await linked(settings, spec("ebay", "transactions"), transactions)
    assert links.counts  # payouts named and stored were judged: both block lists were asked
    assert len(listings) == 1
