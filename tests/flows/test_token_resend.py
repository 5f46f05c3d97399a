"""A request sent again after a token refresh is sent on a permit of its own.

A connector that is refused for an expired token refreshes it and sends the request
again; that second request draws on the same limit as the first (Etsy counts a 401 in
its 10 a second: the QPS check comes before the token check). The fetch activity's gate
(``shared.platforms.base.may_resend``) gives the retry the batch's next permit, at that
permit's time, or withholds it when the batch has none left: the run then ends with the
refused answer and the next permit sends it, with no backoff. Checked on the tiny
world's Etsy onboarding with tokens dying on use (real devhost, sandbox, Azurite):
every API request the sandbox served was a permit's, none was refused for the rate,
and the records equal the ground truth.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import activities.fetch_pages as fetch_pages
from sandbox.faults import FaultRates, Faults
from shared.flows.chains import resources_of
from tests.flows.harness import Stack
from tests.flows.test_onboarding import assert_matches_truth, onboard

TOKEN_CALL = "POST /v3/public/oauth/token"


async def test_every_resend_after_a_token_refresh_takes_a_permit(monkeypatch, azurite) -> None:
    sent = Counter()
    real_take = fetch_pages._Batch.take

    async def take(self):
        at = await real_take(self)
        sent["permits"] += at is not None
        return at

    real_fetch_one = fetch_pages._fetch_one

    async def fetch_one(*args):
        summary = await real_fetch_one(*args)
        sent["withheld"] += summary.withheld
        return summary

    monkeypatch.setattr(fetch_pages._Batch, "take", take)
    monkeypatch.setattr(fetch_pages, "_fetch_one", fetch_one)
    faults = Faults("none", seed=3, per_platform={"etsy": FaultRates(token_expiry=0.15)})
    stack = Stack(
        monkeypatch,
        azurite.connection_string,
        platforms=("etsy",),
        faults=faults,
        quiet_for=timedelta(hours=12).total_seconds(),
    )
    async with stack.running():
        status = await onboard(stack, "etsy")
        assert status["runtimeStatus"] == "Completed", status
        await assert_matches_truth(stack, "etsy", resources_of("etsy"))
    accounting = stack.world.accounting
    api_calls = sum(n for (p, e), n in accounting.calls.items() if p == "etsy" and e != TOKEN_CALL)
    expired = accounting.faults[("etsy", "token_expiry")]
    assert expired >= 5, "tokens died too seldom to prove anything"
    assert api_calls == sent["permits"]  # each request the sandbox saw was a permit's
    assert sum(n for (p, _), n in accounting.throttled.items() if p == "etsy") == 0
    assert sent["withheld"] > 0, "no resend was withheld: that path went unexercised"


async def test_a_token_is_fetched_before_the_permits_time_not_after(monkeypatch, azurite) -> None:
    """``Connector.ready`` gets the access token before the permit is taken: the call
    goes out at the time the permit gave it, not a token call (80-400 ms in the sandbox)
    later, past the permit's lease (0.25 s on Etsy), when the platform may count it in
    its next second. The process's tokens are forgotten as the first fetch begins, so
    that fetch must get one."""
    from shared.flows import clock
    from shared.platforms.etsy import auth as etsy_auth
    from shared.platforms.etsy.client import EtsyConnector

    taken: list = []
    at_first: list[int] = []  # token calls made when the first fetch began
    delays: list[float] = []
    real_init, real_take, real_send = (
        fetch_pages._Batch.__init__,
        fetch_pages._Batch.take,
        EtsyConnector._send,
    )

    def init(self, run, out):
        if not taken and not at_first:  # the first fetch: no token in the process
            etsy_auth.PROCESS_CACHE.entries.clear()
            at_first.append(stack.world.accounting.calls[("etsy", TOKEN_CALL)])
        real_init(self, run, out)

    async def take(self):
        at = await real_take(self)
        taken.append(at)
        return at

    async def send(self, request, token):
        delays.append((clock.utcnow() - taken[-1]).total_seconds())
        return await real_send(self, request, token)

    monkeypatch.setattr(fetch_pages._Batch, "__init__", init)
    monkeypatch.setattr(fetch_pages._Batch, "take", take)
    monkeypatch.setattr(EtsyConnector, "_send", send)
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("etsy",))
    async with stack.running():
        status = await onboard(stack, "etsy")
        assert status["runtimeStatus"] == "Completed", status
    during = stack.world.accounting.calls[("etsy", TOKEN_CALL)] - at_first[0]
    assert during >= 1, "no token was fetched during the load: nothing was proved"
    assert delays and max(delays) == 0.0, sorted(delays)[-5:]
