"""The recorder names each request's limit bucket as the platform counts it."""

from __future__ import annotations

import re

import httpx
import pytest

from bench.recorder import Recorder, bucket_of, owners_of, throttled
from sandbox.amazon.app import OPERATIONS
from tests.sandbox.test_etsy_limits import T0, _auth, _world


@pytest.mark.parametrize(("method", "path", "operation"), [op[:3] for op in OPERATIONS])
def test_every_amazon_operation_of_the_sandbox_is_its_own_bucket(method, path, operation):
    concrete = re.sub(r"\{[^}]+\}", "A1B2-C3", path)
    assert bucket_of("amazon", method, concrete) == operation


def test_token_and_download_requests_have_their_own_buckets():
    assert bucket_of("amazon", "POST", "/auth/o2/token") == "auth"
    assert bucket_of("amazon", "GET", "/documents/doc-1") == "download"
    assert bucket_of("amazon", "GET", "/nowhere") == "other"


async def test_a_429_is_logged_with_its_limit_headers_and_what_was_sent_around_it():
    """Eleven Etsy calls in one second of a frozen clock: the eleventh is refused, and
    the log says when, for whom, what its headers said ran out, and that 11 calls went to
    the bucket in that second (10 of them, and the token call, not in the api bucket)."""
    world, clock = _world()
    recorder = Recorder(clock, owners_of(world.credentials()))
    transport = recorder.wrap("etsy", world.transport())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        headers = await _auth(http, world)
        shop = world.platforms["etsy"].credentials("c-tiny")["shop_id"]
        url = f"/etsy/v3/application/shops/{shop}/receipts"
        statuses = [(await http.get(url, headers=headers)).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]

    [refused] = throttled(recorder.exchanges, started_at=T0 - 5)
    assert refused["at_s"] == 5.0
    assert (refused["platform"], refused["bucket"], refused["client"]) == ("etsy", "api", "c-tiny")
    assert refused["limits"]["x-remaining-this-second"] == "0"
    assert refused["limits"]["retry-after"] == "1"
    assert refused["sent_in_its_second"] == 11
    assert refused["sent_in_the_day_before"] == 11
    assert [status for _, status, _ in refused["its_second"]] == [200] * 10 + [429]
    assert all(e.limits == () for e in recorder.exchanges if e.status != 429)
