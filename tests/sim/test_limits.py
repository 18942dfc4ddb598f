"""Plan limits per application: per calendar minute and per calendar month."""

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan
from sim.enphase.limits import RateLimiter, minute_window, month_window
from sim.server import SimServer
from tests.sim.conftest import BATTERY_ID, basic


async def call(
    http: aiohttp.ClientSession, server: SimServer, cloud: EnphaseCloud, token: str
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "key": cloud.api_key}
    async with http.get(
        f"{server.enphase_url}/api/v4/systems/{BATTERY_ID}/summary", headers=headers
    ) as response:
        return response.status, await response.json()


async def test_eleventh_call_in_a_minute_is_refused(
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
    http: aiohttp.ClientSession,
) -> None:
    token = str(enphase_cloud.issue_tokens()["access_token"])
    sim_clock.set(datetime(2026, 1, 15, 2, 0, 30, tzinfo=UTC))
    for _ in range(10):
        assert (await call(http, sim_server, enphase_cloud, token))[0] == 200
    status, body = await call(http, sim_server, enphase_cloud, token)
    minute = int(datetime(2026, 1, 15, 2, 0, tzinfo=UTC).timestamp())
    assert status == 429
    assert body == {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "minute",
        "period_start": minute,
        "period_end": minute + 60,
        "limit": 10,
    }
    assert enphase_cloud.usage() == (10, 10)  # refused calls are not charged
    assert enphase_cloud.requests[-1].status == 429
    sim_clock.advance(timedelta(seconds=30))
    assert (await call(http, sim_server, enphase_cloud, token))[0] == 200
    assert enphase_cloud.usage() == (1, 11)


async def test_thousand_and_first_call_of_a_month_is_refused(
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
    http: aiohttp.ClientSession,
) -> None:
    limiter = enphase_cloud.application.limiter
    for _ in range(999):
        assert limiter.admit(sim_clock()) is None
        sim_clock.advance(timedelta(seconds=7))
    token = str(enphase_cloud.issue_tokens()["access_token"])
    assert (await call(http, sim_server, enphase_cloud, token))[0] == 200
    sim_clock.advance(timedelta(minutes=1))
    status, body = await call(http, sim_server, enphase_cloud, token)
    january = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    february = int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())
    assert status == 429
    assert (body["period"], body["period_start"], body["period_end"], body["limit"]) == (
        "month",
        january,
        february,
        1000,
    )
    sim_clock.set(datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC))
    token = str(enphase_cloud.issue_tokens()["access_token"])
    assert (await call(http, sim_server, enphase_cloud, token))[0] == 200
    assert enphase_cloud.usage() == (1, 1)


async def test_token_requests_count_and_applications_are_separate(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    tokens = enphase_cloud.issue_tokens()
    refresh = str(tokens["refresh_token"])
    async with http.post(
        f"{sim_server.enphase_url}/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": refresh},
        headers=basic(enphase_cloud.client_id, enphase_cloud.client_secret),
    ) as response:
        assert response.status == 200
        token = (await response.json())["access_token"]
    assert enphase_cloud.usage() == (1, 1)
    for _ in range(9):
        assert (await call(http, sim_server, enphase_cloud, token))[0] == 200
    assert (await call(http, sim_server, enphase_cloud, token))[0] == 429
    other = enphase_cloud.add_application("Second app", plan=Plan.KILOWATT)
    other_token = enphase_cloud.oauth.issue_tokens(other)["access_token"]
    headers = {"Authorization": f"Bearer {other_token}", "key": other.api_key}
    async with http.get(f"{sim_server.enphase_url}/api/v4/systems", headers=headers) as response:
        assert response.status == 200
    assert enphase_cloud.usage(other) == (1, 1)


async def test_unauthenticated_calls_are_not_charged(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    for _ in range(12):
        assert (await call(http, sim_server, enphase_cloud, "not-a-token"))[0] == 401
    assert enphase_cloud.usage() == (0, 0)


def test_windows() -> None:
    december = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    window = month_window(december)
    assert window.period == "month"
    assert window.end == int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    minute = minute_window(december)
    assert (minute.end - minute.start, minute.period) == (60, "minute")
    limiter = RateLimiter(Plan("Tiny", per_minute=5, per_month=2))
    assert limiter.admit(december) is None
    assert limiter.admit(december) is None
    refused = limiter.admit(december)
    assert refused is not None
    assert (refused["period"], refused["limit"]) == ("month", 2)  # the month wins over the minute
