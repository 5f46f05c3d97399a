"""Application-wide quotas: use while work waited and the clients' shares, from exchanges
made up here (the figures are computed by hand below), and the recorder's attribution of
requests to clients through their tokens."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.quotas import application_quotas, describe, lane_use
from bench.recorder import Exchange, Recorder, owners_of
from shared.ambassador.policies import PlatformPolicy

DAY = 86_400.0
T0 = 1_800_000_000.0  # a run's start; 07:00 UTC is 28,800 s after its midnight
ETSY = PlatformPolicy.from_settings("etsy", {})
EBAY = PlatformPolicy.from_settings("ebay", {})


def _calls(client: str, start: float, n: int, every: float, status: int = 200) -> list:
    return [Exchange(start + i * every, "etsy", "api", status, 1, client) for i in range(n)]


def test_a_day_waited_through_counts_its_calls_against_the_platforms_limit() -> None:
    # two clients, 4,500 calls each in the first day, then 100 each in the second;
    # client b finishes in the second day, client a is still unfinished at the stop
    ex = _calls("a", T0, 4500, 0.2) + _calls("b", T0 + 0.1, 4500, 0.2)
    ex += _calls("a", T0 + DAY, 100, 1.0) + _calls("b", T0 + DAY + 0.5, 100, 1.0)
    ex += _calls("a", T0 + 10, 7, 1.0, status=429)  # refused: not counted
    use = lane_use(
        ex,
        ETSY,
        "api",
        started_at=T0,
        stopped_at=T0 + DAY + 3600,
        ended={"b": T0 + DAY + 200},
        clients=["a", "b"],
    )
    qpd = use["limits"]["qpd"]
    assert [w["calls"] for w in qpd["windows"]] == [9000, 200]
    assert [w["waited_through"] for w in qpd["windows"]] == [True, False]
    assert qpd["use_while_waiting"] == 0.9  # 9,000 of 10,000: the reserve kept 10 %
    assert use["calls"] == 9200 and use["status_429"] == 7 and not use["work_ended"]
    # capacity: 10,000 in the first day, then what 10/s allows in the hour of the second
    assert use["capacity"] == 10_000 + 10_000
    assert use["use_of_capacity"] == pytest.approx(9200 / 20_000)
    (window,) = use["shares"]["windows"]
    assert window["clients"] == 2 and window["jain"] == 1.0
    common = use["shares"]["common_stretch"]
    assert common["end_s"] == DAY + 200  # until b ended
    assert common["calls"] == 9000 + 100 + 100  # b's 100 of day two all fell before 200 s
    assert use["clients"] == {
        "a": {"calls": 4600, "ended_s": None},
        "b": {"calls": 4600, "ended_s": DAY + 200},
    }


def test_unequal_shares_lower_jains_index() -> None:
    ex = _calls("a", T0, 300, 0.1) + _calls("b", T0 + 0.05, 100, 0.3)
    use = lane_use(
        ex, ETSY, "api", started_at=T0, stopped_at=T0 + 60, ended={}, clients=["a", "b", "c"]
    )
    common = use["shares"]["common_stretch"]
    # x = (300, 100, 0): (400)^2 / (3 * 100,000) = 0.5333; mean 133.3
    assert common["clients"] == 3 and common["jain"] == pytest.approx(0.5333, abs=1e-4)
    assert common["min_share"] == 0.0 and common["max_share"] == pytest.approx(2.25)
    assert use["limits"]["qpd"]["use_while_waiting"] is None  # no day ended while waiting
    assert use["capacity"] == 610  # 10/s for 60 s, plus the second's 10
    assert use["unattributed_calls"] == 0


def test_ebay_quota_windows_follow_the_reset_time() -> None:
    midnight = T0 - T0 % DAY
    start = midnight + 6 * 3600  # an hour before the 07:00 reset
    ex = [Exchange(start + 60 * i, "ebay", "finances", 200, 1, "a") for i in range(120)]
    ex.append(Exchange(start, "ebay", "auth", 200, 1, "a"))  # token calls: no lane
    out = application_quotas(
        ex,
        {"ebay": EBAY, "etsy": ETSY},
        started_at=start,
        stopped_at=start + 7200,
        ended={("a", "ebay"): start + 7200},
        clients={"ebay": ["a"]},
    )
    assert set(out) == {"ebay"} and set(out["ebay"]) == {"finances"}
    windows = out["ebay"]["finances"]["limits"]["quota"]["windows"]
    assert [(w["start_s"], w["calls"]) for w in windows] == [(-23 * 3600.0, 60), (3600.0, 60)]
    assert out["ebay"]["finances"]["capacity"] == 30_000  # two windows touched
    assert any("ebay finances: 120 calls" in line for line in describe(out))


def _recorder() -> Recorder:
    credentials = {
        "c1": {"etsy": {"keystring": "app-key", "refresh_token": "r-one", "shop_id": "11111"}},
        "c2": {"etsy": {"keystring": "app-key", "refresh_token": "r-two", "shop_id": "22222"}},
    }
    owners = owners_of(credentials)
    assert "app-key" not in owners["etsy"]  # shared by both: identifies neither
    return Recorder(clock=type("C", (), {"now": staticmethod(lambda: T0)})(), owners=owners)


async def test_requests_are_attributed_through_the_tokens_their_exchange_returned() -> None:
    recorder = _recorder()
    served = {"n": 0}

    async def app(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            served["n"] += 1
            n = served["n"]
            return httpx.Response(200, json={"access_token": f"a{n}", "refresh_token": f"r{n}"})
        return httpx.Response(200, json={"results": []})

    transport = recorder.wrap("etsy", httpx.MockTransport(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox/etsy") as c:
        await c.post("/v3/public/oauth/token", data={"refresh_token": "r-two"})
        await c.get("/v3/application/users/9/x", headers={"Authorization": "Bearer a1"})
        await c.post("/v3/public/oauth/token", data={"refresh_token": "r1"})  # rotated
        await c.get("/v3/application/me", headers={"Authorization": "Bearer a2"})
        await c.get("/v3/application/shops/11111/receipts")  # by its shop id
        await c.get("/v3/application/me", headers={"Authorization": "Bearer unknown"})
        reply = await c.post("/v3/public/oauth/token", data={"refresh_token": "r2"})
    assert json.loads(reply.content)["access_token"] == "a3"  # the answer still reads
    clients = [(e.bucket, e.client) for e in recorder.exchanges]
    assert clients == [
        ("auth", "c2"),
        ("api", "c2"),
        ("auth", "c2"),
        ("api", "c2"),
        ("api", "c1"),
        ("api", None),
        ("auth", "c2"),
    ]
