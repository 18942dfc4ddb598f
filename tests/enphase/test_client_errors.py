"""Every error class, driven by the simulator's real behaviour and its fault switches."""

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest

from custom_components.liveone_enphase.enphase import (
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseMalformedResponseError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseRequestRefused,
    EnphaseTransientError,
    RequestOutcome,
)
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.server import SimServer

from .conftest import RecordingGuard, SimOAuth, authorize

SITE = SiteConfig.demo_battery().system_id
SUMMARY = "systems/{system_id}/summary"
BATTERY = "systems/{system_id}/telemetry/battery"


def assert_no_secrets(error: BaseException, *secrets: str) -> None:
    """Neither the message nor the repr of the error (or what it chains) holds a secret."""
    texts = [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    for secret in secrets:
        assert all(secret not in text for text in texts)
    assert error.__suppress_context__ or error.__context__ is None


def make_client(
    http: aiohttp.ClientSession,
    provider: Callable[[], Awaitable[str]],
    api_key: str,
    server: SimServer,
    guard: RecordingGuard,
    *,
    timeout: float = 30.0,
) -> EnphaseClient:
    return EnphaseClient(
        http, provider, api_key, base_url=server.enphase_url, guard=guard, timeout=timeout
    )


def outcomes(guard: RecordingGuard) -> list[tuple[str, int | None, RequestOutcome]]:
    return [(r.endpoint, r.status, r.outcome) for r in guard.records]


# --- 401 ----------------------------------------------------------------------------------


async def test_expired_token_is_an_auth_error(
    client: EnphaseClient, guard: RecordingGuard, sim_clock: ManualClock, oauth: SimOAuth
) -> None:
    sim_clock.advance(timedelta(days=1, seconds=1))

    with pytest.raises(EnphaseAuthError) as caught:
        await client.summary(SITE)

    error = caught.value
    assert (error.status, error.endpoint) == (401, SUMMARY)
    assert not error.key_mismatch
    assert not error.key_missing_or_invalid
    assert not error.refresh_failed
    assert "User is not authorized" in str(error)
    assert outcomes(guard) == [(SUMMARY, 401, RequestOutcome.AUTH)]
    assert_no_secrets(error, oauth.access_token)


async def test_key_of_another_application_is_a_key_mismatch(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    guard: RecordingGuard,
) -> None:
    other = enphase_cloud.add_application("Someone else's app")
    other_oauth = await authorize(
        http, sim_server.enphase_url, other.client_id, other.client_secret
    )
    client = make_client(http, other_oauth.token, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseAuthError) as caught:
        await client.devices(SITE)

    assert caught.value.key_mismatch
    assert not caught.value.key_missing_or_invalid
    assert "API Key -Client mismatch" in str(caught.value)
    assert_no_secrets(caught.value, enphase_cloud.api_key, other_oauth.access_token)


@pytest.mark.parametrize(("api_key", "said"), [("wrong-key", "Invalid API key"), ("", "missing")])
async def test_bad_or_missing_key(
    *,
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    oauth: SimOAuth,
    guard: RecordingGuard,
    api_key: str,
    said: str,
) -> None:
    client = make_client(http, oauth.token, api_key, sim_server, guard)

    with pytest.raises(EnphaseAuthError) as caught:
        await client.system(SITE)

    assert caught.value.key_missing_or_invalid
    assert not caught.value.key_mismatch
    assert said in str(caught.value)


async def test_a_key_echoed_by_the_server_is_redacted(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, oauth: SimOAuth
) -> None:
    rule = enphase_cloud.faults.server_error(status=401, endpoint=SUMMARY)
    rule.body = {
        "message": "Not Authorized",
        "details": f"key {enphase_cloud.api_key} with token {oauth.access_token}",
        "code": 401,
    }

    with pytest.raises(EnphaseAuthError) as caught:
        await client.summary(SITE)

    assert "key *** with token ***" in str(caught.value)
    assert_no_secrets(caught.value, enphase_cloud.api_key, oauth.access_token)


# --- the token provider -------------------------------------------------------------------


async def test_revoked_grant_is_a_refresh_failure_and_sends_nothing(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    enphase_cloud.faults.revoke_all_tokens()
    client = make_client(http, oauth.refreshed_token, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseAuthError) as caught:
        await client.summary(SITE)

    assert caught.value.refresh_failed
    assert caught.value.endpoint == SUMMARY
    assert "HTTP 400" in str(caught.value)
    assert guard.asked == []
    assert guard.records == []
    assert_no_secrets(caught.value, oauth.refresh_token, oauth.client_secret, enphase_cloud.api_key)


async def test_wrong_client_secret_is_a_refresh_failure(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    oauth.client_secret = "not-the-secret"
    client = make_client(http, oauth.refreshed_token, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseAuthError) as caught:
        await client.summary(SITE)

    assert caught.value.refresh_failed
    assert "HTTP 401" in str(caught.value)


async def test_token_endpoint_outage_is_transient(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    enphase_cloud.faults.server_error(status=503, endpoint="oauth/token", count=1)
    client = make_client(http, oauth.refreshed_token, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseTransientError) as caught:
        await client.summary(SITE)

    assert "HTTP 503" in str(caught.value)
    assert guard.asked == []
    summary = await client.summary(SITE)  # the next refresh works
    assert summary.system_id == SITE


async def test_unreachable_token_endpoint_is_transient(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    oauth.base_url = f"http://127.0.0.1:{free_port()}"
    client = make_client(http, oauth.refreshed_token, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseTransientError, match="token provider failed"):
        await client.summary(SITE)


async def test_provider_raising_an_enphase_error_passes_it_through(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    guard: RecordingGuard,
) -> None:
    reauth = EnphaseAuthError("no token stored", refresh_failed=True)

    async def provider() -> str:
        raise reauth

    client = make_client(http, provider, enphase_cloud.api_key, sim_server, guard)

    with pytest.raises(EnphaseAuthError) as caught:
        await client.summary(SITE)

    assert caught.value is reauth


# --- 403, 404, 400/422 --------------------------------------------------------------------


async def test_endpoint_outside_the_plan_is_forbidden(
    sim_clock: ManualClock, http: aiohttp.ClientSession, socket_enabled: None
) -> None:
    cloud = EnphaseCloud(
        clock=sim_clock, sites=[SiteConfig.demo_battery()], plan=Plan.WATT.without_battery()
    )
    guard = RecordingGuard()
    async with SimServer(enphase=cloud) as server:
        oauth = await authorize(http, server.enphase_url, cloud.client_id, cloud.client_secret)
        client = make_client(http, oauth.token, cloud.api_key, server, guard)

        with pytest.raises(EnphaseForbiddenError) as caught:
            await client.battery_telemetry(SITE)
        summary = await client.summary(SITE)

    assert caught.value.status == 403
    assert "Not authorized to access this resource" in str(caught.value)
    assert summary.battery_capacity_wh == 10_080
    assert outcomes(guard) == [
        (BATTERY, 403, RequestOutcome.FORBIDDEN),
        (SUMMARY, 200, RequestOutcome.OK),
    ]


async def test_forbid_switch(client: EnphaseClient, enphase_cloud: EnphaseCloud) -> None:
    enphase_cloud.faults.forbid("systems/{system_id}/latest_telemetry")

    with pytest.raises(EnphaseForbiddenError):
        await client.latest_telemetry(SITE)


async def test_unknown_system_is_not_found(client: EnphaseClient, guard: RecordingGuard) -> None:
    with pytest.raises(EnphaseNotFoundError) as caught:
        await client.summary(1)

    assert 'System not found for {:id=>"1"}' in str(caught.value)
    assert outcomes(guard) == [(SUMMARY, 404, RequestOutcome.NOT_FOUND)]


async def test_future_window_is_an_invalid_request(
    client: EnphaseClient, guard: RecordingGuard
) -> None:
    tomorrow = datetime(2026, 1, 16, tzinfo=UTC)

    with pytest.raises(EnphaseInvalidRequestError) as caught:
        await client.consumption_meter(SITE, start_at=tomorrow)
    with pytest.raises(EnphaseInvalidRequestError, match="Requested date is in the future"):
        await client.consumption_lifetime(SITE, start_date=date(2026, 2, 1))

    assert caught.value.status == 422
    assert "Requested date range is invalid" in str(caught.value)
    assert [r.outcome for r in guard.records] == [RequestOutcome.INVALID] * 2


@pytest.mark.parametrize("status", [400, 405, 409])
async def test_other_client_errors_are_invalid_requests(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, status: int
) -> None:
    enphase_cloud.faults.server_error(status=status, endpoint=SUMMARY, count=1)

    with pytest.raises(EnphaseInvalidRequestError) as caught:
        await client.summary(SITE)

    assert caught.value.status == status


# --- 429 ----------------------------------------------------------------------------------


async def test_minute_limit(
    client: EnphaseClient,
    guard: RecordingGuard,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
) -> None:
    used, _ = enphase_cloud.usage()  # the OAuth token request counted too
    for _ in range(10 - used):
        await client.system(SITE)

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.system(SITE)

    error = caught.value
    assert error.period == "minute"
    assert error.limit == 10
    assert error.period_end == datetime(2026, 1, 15, 2, 1, tzinfo=UTC)
    assert "Usage limit exceeded for plan Watt" in str(error)
    assert guard.records[-1].outcome is RequestOutcome.RATE_LIMITED
    assert guard.records[-1].status == 429
    sim_clock.set(error.period_end)
    assert (await client.system(SITE)).system_id == SITE


async def test_month_limit(
    sim_clock: ManualClock, http: aiohttp.ClientSession, socket_enabled: None
) -> None:
    cloud = EnphaseCloud(
        clock=sim_clock,
        sites=[SiteConfig.demo_battery()],
        plan=Plan("Tiny", per_minute=100, per_month=3),
    )
    guard = RecordingGuard()
    async with SimServer(enphase=cloud) as server:
        oauth = await authorize(http, server.enphase_url, cloud.client_id, cloud.client_secret)
        client = make_client(http, oauth.token, cloud.api_key, server, guard)
        await client.summary(SITE)
        await client.summary(SITE)

        with pytest.raises(EnphaseRateLimitError) as caught:
            await client.summary(SITE)

    assert caught.value.period == "month"
    assert caught.value.limit == 3
    assert caught.value.period_end == datetime(2026, 2, 1, tzinfo=UTC)


# --- 5xx, malformed bodies ----------------------------------------------------------------


async def test_server_error_is_transient(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.server_error(endpoint=SUMMARY, count=1)

    with pytest.raises(EnphaseTransientError) as caught:
        await client.summary(SITE)

    assert caught.value.status == 500
    assert "Internal Server Error: unable to fetch data" in str(caught.value)
    assert outcomes(guard) == [(SUMMARY, 500, RequestOutcome.TRANSIENT)]


async def test_error_code_7_body(client: EnphaseClient, enphase_cloud: EnphaseCloud) -> None:
    enphase_cloud.faults.server_error(endpoint=SUMMARY, error_code_7=True)

    with pytest.raises(EnphaseTransientError, match="Data is temporarily unavailable"):
        await client.summary(SITE)


async def test_html_error_page_is_transient_by_its_status(
    client: EnphaseClient, enphase_cloud: EnphaseCloud
) -> None:
    enphase_cloud.faults.html_error(status=502)

    with pytest.raises(EnphaseTransientError) as caught:
        await client.devices(SITE)

    assert caught.value.status == 502
    assert "<html" not in str(caught.value)


async def test_html_page_with_status_200_is_malformed(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.html_error(status=200, endpoint=SUMMARY)

    with pytest.raises(EnphaseMalformedResponseError, match="not JSON: '<html>"):
        await client.summary(SITE)

    assert outcomes(guard) == [(SUMMARY, 200, RequestOutcome.MALFORMED)]


async def test_truncated_json_is_malformed(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.malformed_json(endpoint=SUMMARY, count=1)

    with pytest.raises(EnphaseMalformedResponseError) as caught:
        await client.summary(SITE)

    assert caught.value.status == 200
    assert outcomes(guard) == [(SUMMARY, 200, RequestOutcome.MALFORMED)]


async def test_all_null_payload_is_malformed_naming_the_field(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.nulls(endpoint=SUMMARY)

    with pytest.raises(EnphaseMalformedResponseError) as caught:
        await client.summary(SITE)

    assert str(caught.value) == f"{SUMMARY}: summary.system_id: missing"
    assert caught.value.endpoint == SUMMARY
    assert outcomes(guard) == [(SUMMARY, 200, RequestOutcome.MALFORMED)]


async def test_redirect_is_not_followed(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.server_error(status=302, endpoint=SUMMARY)

    with pytest.raises(EnphaseMalformedResponseError, match="not a status the API answers"):
        await client.summary(SITE)

    assert outcomes(guard) == [(SUMMARY, 302, RequestOutcome.MALFORMED)]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            405,
            {"reason": "405", "message": ["Method not allowed"]},
            "HTTP 405 (Method not allowed)",
        ),
        (501, {"reason": "501", "message": ["Not", "Implemented"]}, "HTTP 501 (Not; Implemented)"),
        (500, {"message": {"odd": 1}, "details": 7, "code": 500}, "HTTP 500"),
        (500, {"message": "A" * 300}, "HTTP 500 (" + "A" * 200 + "…)"),
    ],
)
async def test_error_body_shapes(
    client: EnphaseClient,
    enphase_cloud: EnphaseCloud,
    status: int,
    body: dict[str, object],
    expected: str,
) -> None:
    enphase_cloud.faults.server_error(status=status, endpoint=SUMMARY).body = body

    with pytest.raises(EnphaseError) as caught:
        await client.summary(SITE)

    assert str(caught.value) == f"{SUMMARY}: {expected}"


async def test_rate_limit_body_without_usable_period(
    client: EnphaseClient, enphase_cloud: EnphaseCloud
) -> None:
    rule = enphase_cloud.faults.server_error(status=429, endpoint=SUMMARY)
    rule.body = {"message": "Too Many Requests", "period": "minute", "period_end": "soon"}

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.summary(SITE)

    assert (caught.value.period, caught.value.period_end, caught.value.limit) == (None, None, None)
    assert str(caught.value) == f"{SUMMARY}: HTTP 429 (Too Many Requests)"


# --- no answer at all ---------------------------------------------------------------------


async def test_hanging_request_times_out_as_transient(
    http: aiohttp.ClientSession,
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    enphase_cloud.faults.hang(endpoint=SUMMARY)
    client = make_client(http, oauth.token, enphase_cloud.api_key, sim_server, guard, timeout=0.05)

    with pytest.raises(EnphaseTransientError) as caught:
        await client.summary(SITE)

    assert caught.value.status is None
    assert "Timeout" in str(caught.value)
    assert outcomes(guard) == [(SUMMARY, None, RequestOutcome.TRANSIENT)]
    assert_no_secrets(caught.value, oauth.access_token, enphase_cloud.api_key)


async def test_connection_refused_is_transient(
    http: aiohttp.ClientSession,
    enphase_cloud: EnphaseCloud,
    oauth: SimOAuth,
    guard: RecordingGuard,
) -> None:
    client = EnphaseClient(
        http,
        oauth.token,
        enphase_cloud.api_key,
        base_url=f"http://127.0.0.1:{free_port()}",
        guard=guard,
    )

    with pytest.raises(EnphaseTransientError) as caught:
        await client.systems()

    assert "ClientConnectorError" in str(caught.value)
    assert outcomes(guard) == [("systems", None, RequestOutcome.TRANSIENT)]
    assert_no_secrets(caught.value, oauth.access_token, enphase_cloud.api_key)


async def test_cancelled_request_is_still_recorded(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, guard: RecordingGuard
) -> None:
    enphase_cloud.faults.hang(endpoint=SUMMARY)
    task = asyncio.create_task(client.summary(SITE))
    await guard.consulted.wait()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert outcomes(guard) == [(SUMMARY, None, RequestOutcome.TRANSIENT)]


# --- the guard ----------------------------------------------------------------------------


async def test_refused_request_sends_nothing(
    client: EnphaseClient, guard: RecordingGuard, enphase_cloud: EnphaseCloud
) -> None:
    sent_before = len(enphase_cloud.requests)
    guard.refusing = True
    guard.refuse_until = datetime(2026, 1, 15, 2, 15, tzinfo=UTC)

    with pytest.raises(EnphaseRequestRefused) as caught:
        await client.production_micro(SITE)

    assert caught.value.retry_at == guard.refuse_until
    assert caught.value.endpoint == "systems/{system_id}/telemetry/production_micro"
    assert isinstance(caught.value, EnphaseError)
    assert guard.records == []
    assert len(enphase_cloud.requests) == sent_before


async def test_guard_sees_failures_in_order(
    client: EnphaseClient, guard: RecordingGuard, enphase_cloud: EnphaseCloud
) -> None:
    enphase_cloud.faults.server_error(endpoint=SUMMARY, count=1)
    with pytest.raises(EnphaseTransientError):
        await client.summary(SITE)
    with pytest.raises(EnphaseNotFoundError):
        await client.devices(404)
    await client.summary(SITE)

    assert outcomes(guard) == [
        (SUMMARY, 500, RequestOutcome.TRANSIENT),
        ("systems/{system_id}/devices", 404, RequestOutcome.NOT_FOUND),
        (SUMMARY, 200, RequestOutcome.OK),
    ]
    received = [
        (r.endpoint, r.status) for r in enphase_cloud.requests if r.endpoint.startswith("sys")
    ]
    assert received == [(r.endpoint, r.status) for r in guard.records]


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
