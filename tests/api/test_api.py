import json
import math
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.api import (
    MAX_NAME,
    REQUIRED_CREDENTIALS,
    ConnectRequest,
    DemoRequest,
    ResourceStatus,
    StatusReport,
    eta,
    missing_credentials,
    validate_client_id,
    validation_message,
    validation_problems,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Atzr|s3cr3t-value-never-shown"
TODAY = date(2024, 6, 15)
AMAZON = {
    "client_id": "amzn1.application-oa2-client.x",
    "client_secret": SECRET,
    "refresh_token": SECRET,
    "selling_partner_id": "A1B2C3",
    "marketplace_ids": "ATVPDKIKX0DER",
}


def connect(**fields):
    body = {"platform": "amazon", "account": "acme", "credentials": AMAZON, **fields}
    return ConnectRequest.model_validate_json(json.dumps(body), context={"today": TODAY})


def refusal(model, body, **kwargs) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(text, context={"today": TODAY}, **kwargs)
    message = validation_message(caught.value)
    assert SECRET not in message and "s3cr3t" not in message
    assert SECRET not in json.dumps(validation_problems(caught.value))
    return message


def _sandbox_credentials(*extra: str) -> dict[str, dict[str, str]] | None:
    command = [sys.executable, "-m", "sandbox", "credentials", "--scenario", "tiny", *extra]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return json.loads(out.stdout)["c-tiny"] if out.returncode == 0 else None


@pytest.fixture(scope="module")
def sandbox_credentials() -> dict[str, dict[str, str]]:
    found = _sandbox_credentials()
    if found is None:  # a sandbox still being built: take the platforms that build
        found = {}
        for platform in ("amazon", "shopify", "ebay", "etsy", "quiltt"):
            found.update(_sandbox_credentials("--platforms", platform) or {})
    return found


def test_the_sandbox_credentials_connect_on_every_platform(sandbox_credentials):
    assert {"amazon", "ebay", "etsy", "quiltt"} <= set(sandbox_credentials)
    for platform, credentials in sandbox_credentials.items():
        request = ConnectRequest(platform=platform, account="acct", credentials=credentials)
        assert request.credentials == credentials
        for key in REQUIRED_CREDENTIALS[platform]:
            short = {k: v for k, v in credentials.items() if k != key}
            message = refusal(
                ConnectRequest, {"platform": platform, "account": "a", "credentials": short}
            )
            assert message == f"credentials: {platform} credentials lack {key}"


def test_a_good_request():
    request = connect(history_start="2022-01-31")
    assert request.history_start == date(2022, 1, 31)
    assert request.account == "acme"
    assert SECRET not in repr(request) and SECRET not in str(request)


def test_account_is_trimmed_and_history_start_optional():
    request = connect(account="  acme shop  ")
    assert request.account == "acme shop" and request.history_start is None


def test_history_start_today_is_allowed():
    assert connect(history_start=TODAY.isoformat()).history_start == TODAY


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"platform": "amazn"},
            "platform: Input should be 'amazon', 'shopify', 'ebay', 'etsy' or 'quiltt' "
            "(got 'amazn')",
        ),
        ({"account": ""}, "account: must not be empty (got '')"),
        ({"account": "   "}, "account: must not be empty (got '   ')"),
        ({"account": "a\nb"}, "account: must not contain control characters (got 'a\\nb')"),
        ({"account": "x" * (MAX_NAME + 1)}, f"account: must be at most {MAX_NAME} characters"),
        ({"account": 7}, "account: Input should be a valid string (got 7)"),
        (
            {"history_start": "2024-02-30"},
            "history_start: Input should be a valid date or datetime, day value is outside "
            "expected range (got '2024-02-30')",
        ),
        (
            {"history_start": "2024-06-16"},
            "history_start: must not be in the future (today is 2024-06-15) (got '2024-06-16')",
        ),
        (
            {"history_start": "1999-12-31"},
            "history_start: must be on or after 2000-01-01 (got '1999-12-31')",
        ),
        (
            {"history_start": "yesterday"},
            "history_start: Input should be a valid date or "
            "datetime, input is too short (got 'yesterday')",
        ),
        ({"credentials": []}, "credentials: Input should be an object"),
        (
            {"credentials": {**AMAZON, "refresh_token": 5}},
            "credentials.refresh_token: Input should be a valid string",
        ),
        (
            {"credentials": {**AMAZON, "refresh_token": " "}},
            "credentials: values must not be empty: refresh_token",
        ),
        (
            {"credentials": {**AMAZON, "refresh_token": SECRET + "\x00"}},
            "credentials: values must not contain control characters: refresh_token",
        ),
        (
            {"credentials": {**AMAZON, "refresh_token": SECRET * 200}},
            "credentials: values must be at most 4096 characters: ['refresh_token']",
        ),
        (
            {"credentials": {**AMAZON, "Bad Key": SECRET}},
            "credentials: keys must be lower-case names like 'refresh_token', not 'Bad Key'",
        ),
        (
            {"credentials": {"client_secret": SECRET}},
            "credentials: amazon credentials lack refresh_token, selling_partner_id, "
            "marketplace_ids",
        ),
        ({"refresh_token": SECRET}, "refresh_token: is not a known field"),
    ],
)
def test_bad_connect_requests(fields, expected):
    body = {"platform": "amazon", "account": "acme", "credentials": AMAZON, **fields}
    assert refusal(ConnectRequest, body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{bad json", "body: Invalid JSON: key must be a string at line 1 column 2"),
        ("", "body: Invalid JSON: EOF while parsing a value at line 1 column 0"),
        ("[]", "body: Input should be an object"),
        ("{}", "platform: is required; account: is required; credentials: is required"),
    ],
)
def test_bad_json(body, expected):
    assert refusal(ConnectRequest, body) == expected


def test_truncated_json_does_not_echo_the_credentials():
    body = json.dumps({"platform": "amazon", "account": "a", "credentials": AMAZON})[:-2]
    assert refusal(ConnectRequest, body) == (
        f"body: Invalid JSON: EOF while parsing an object at line 1 column {len(body)}"
    )


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        ({"shop": "acme", "access_token": "t"}, []),
        ({"shop": "acme", "refresh_token": "r", "client_id": "i", "client_secret": "s"}, []),
        ({"shop": "acme"}, ["access_token|refresh_token"]),
        ({"access_token": "t"}, ["shop"]),
    ],
)
def test_shopify_needs_a_shop_and_a_token(credentials, missing):
    assert missing_credentials("shopify", credentials) == missing


def test_the_future_is_judged_by_the_wall_clock_without_a_context():
    body = {"platform": "ebay", "account": "a", "credentials": {"refresh_token": "r"}}
    future = {**body, "history_start": date(datetime.now(UTC).year + 1, 1, 1).isoformat()}
    with pytest.raises(ValidationError, match="future"):
        ConnectRequest.model_validate(future)
    assert ConnectRequest.model_validate({**body, "history_start": "2020-01-01"})


def demo(platforms):
    return {"prospect": "Prospect Ltd", "platforms": platforms}


def test_a_good_demo_request():
    request = DemoRequest.model_validate_json(
        json.dumps(
            demo(
                {
                    "amazon": {"account": "a", "credentials": AMAZON},
                    "ebay": {"account": "e", "credentials": {"refresh_token": SECRET}},
                }
            )
        )
    )
    assert set(request.platforms) == {"amazon", "ebay"}
    assert SECRET not in repr(request)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (demo({}), "platforms: Dictionary should have at least 1 item after validation, not 0"),
        (
            demo({"amazn": {"account": "a", "credentials": AMAZON}}),
            "platforms.amazn.[key]: Input should be 'amazon', 'shopify', 'ebay', 'etsy' or "
            "'quiltt' (got 'amazn')",
        ),
        (
            demo(
                {
                    "ebay": {"account": "e", "credentials": {"token": SECRET}},
                    "etsy": {"account": "y", "credentials": {"refresh_token": SECRET}},
                }
            ),
            "platforms: ebay credentials lack refresh_token; etsy credentials lack shop_id",
        ),
        (
            demo({"ebay": {"account": "", "credentials": {"refresh_token": SECRET}}}),
            "platforms.ebay.account: must not be empty (got '')",
        ),
        (
            {"platforms": {}},
            "prospect: is required; platforms: Dictionary should have at "
            "least 1 item after validation, not 0",
        ),
    ],
)
def test_bad_demo_requests(body, expected):
    assert refusal(DemoRequest, body) == expected


@pytest.mark.parametrize(
    ("value", "ok"), [("c1", True), (" c1 ", True), ("", False), ("a\tb", False)]
)
def test_client_ids(value, ok):
    if ok:
        assert validate_client_id(value) == value.strip()
    else:
        with pytest.raises(ValueError):
            validate_client_id(value)


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (0, 10, 0, None),
        (0, 10, 50, None),
        (5, 10, 50, 50.0),
        (2, 10, 30, 120.0),
        (10, 10, 99, 0.0),
        (12, 10, 99, 0.0),
        (0, 0, 0, 0.0),
    ],
)
def test_eta(done, total, elapsed, expected):
    assert eta(done, total, elapsed) == expected


@pytest.mark.parametrize(("done", "total", "elapsed"), [(-1, 2, 3), (1, -2, 3), (1, 2, math.inf)])
def test_eta_refuses_nonsense(done, total, elapsed):
    with pytest.raises(ValueError):
        eta(done, total, elapsed)


def test_status_report_json_and_totals():
    orders = ResourceStatus(
        blocks_done=3,
        blocks_total=5,
        blocks_parked=1,
        records_stored=300,
        requests=40,
        http_429=2,
        retries=3,
        phase="half_year",
        eta_s=12.5,
    )
    items = ResourceStatus(blocks_done=5, blocks_total=5, records_stored=900, requests=9)
    report = StatusReport(
        client="c1",
        as_of=datetime(2024, 6, 15, tzinfo=UTC),
        platforms={"amazon": {"orders": orders, "order_items": items}},
    )
    data = json.loads(report.model_dump_json())
    assert data["platforms"]["amazon"]["orders"]["blocks_parked"] == 1
    assert StatusReport.model_validate(data) == report
    total = report.totals()
    assert (total.blocks_done, total.blocks_total, total.records_stored) == (8, 10, 1200)
    assert (total.requests, total.http_429, total.retries, total.eta_s) == (49, 2, 3, 12.5)
    assert not orders.complete and not orders.settled and items.complete
    assert ResourceStatus(blocks_done=4, blocks_total=5, blocks_parked=1).settled
