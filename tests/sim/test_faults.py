"""Credentials checks on every API call, and every fault switch."""

import asyncio
import json
from datetime import timedelta

import aiohttp
import pytest

from sim.clock import ManualClock
from sim.enphase import Plan
from sim.enphase.faults import ERROR_CODE_7_BODY, Faults
from sim.enphase.routes import nullify
from tests.sim.conftest import BATTERY_ID, SOLAR_ID, Api, basic

SUMMARY = "systems/{system_id}/summary"
UNAVAILABLE = {"message": "Internal Server Error", "details": "unable to fetch data", "code": 500}


def not_authorized(details: str) -> dict[str, object]:
    return {"message": "Not Authorized", "details": details, "code": 401}


async def test_api_key_is_required_in_header_or_query(api: Api) -> None:
    bearer = {"Authorization": f"Bearer {api.token}"}
    status, body = await api.get("systems", headers=bearer)
    assert (status, body) == (401, not_authorized("API Key missing in url/headers!"))
    status, _ = await api.get("systems", params={"key": api.cloud.api_key}, headers=bearer)
    assert status == 200
    status, body = await api.get("systems", headers={**bearer, "key": "unknown"})
    assert (status, body) == (401, not_authorized("Invalid API key"))


async def test_key_of_another_application_is_a_mismatch(api: Api) -> None:
    other = api.cloud.add_application("Someone else")
    headers = {"Authorization": f"Bearer {api.token}", "key": other.api_key}
    status, body = await api.get("systems", headers=headers)
    assert (status, body) == (401, not_authorized("API Key -Client mismatch"))


async def test_bad_missing_and_expired_tokens(api: Api, sim_clock: ManualClock) -> None:
    key = {"key": api.cloud.api_key}
    for headers in (key, {**key, "Authorization": "Bearer nope"}, {**key, "Authorization": "x"}):
        status, body = await api.get("systems", headers=headers)
        assert (status, body) == (401, not_authorized("User is not authorized"))
    sim_clock.advance(timedelta(days=1))
    status, _ = await api.get("systems")
    assert status == 401
    api.renew_token()
    assert (await api.get("systems"))[0] == 200


async def test_revoked_tokens(api: Api) -> None:
    api.cloud.faults.revoke_token(api.token)
    assert (await api.get("systems"))[0] == 401
    api.renew_token()
    assert (await api.get("systems"))[0] == 200
    api.cloud.faults.revoke_all_tokens()
    assert (await api.get("systems"))[0] == 401
    api.renew_token()
    assert (await api.get("systems"))[0] == 200


async def test_server_error_for_n_requests_on_one_endpoint(api: Api) -> None:
    api.cloud.faults.server_error(endpoint=SUMMARY, count=2)
    path = f"systems/{BATTERY_ID}/summary"
    assert await api.get(path) == (500, UNAVAILABLE)
    assert (await api.get(f"systems/{BATTERY_ID}"))[0] == 200  # other endpoints unaffected
    assert await api.get(path) == (500, UNAVAILABLE)
    assert (await api.get(path))[0] == 200
    assert api.cloud.faults.rules == []


async def test_server_error_in_a_time_window_with_error_code_7(
    api: Api, sim_clock: ManualClock
) -> None:
    start = sim_clock() + timedelta(minutes=10)
    api.cloud.faults.server_error(
        start=start, until=start + timedelta(minutes=30), error_code_7=True
    )
    assert (await api.get("systems"))[0] == 200
    sim_clock.advance(timedelta(minutes=15))
    assert await api.get("systems") == (500, ERROR_CODE_7_BODY)
    assert (await api.get(f"systems/{SOLAR_ID}/latest_telemetry"))[0] == 500
    sim_clock.advance(timedelta(minutes=30))
    assert (await api.get("systems"))[0] == 200


async def test_other_5xx_statuses(api: Api) -> None:
    api.cloud.faults.server_error(status=503, count=1)
    status, body = await api.get("systems")
    assert (status, body["code"], body["message"]) == (503, 503, "Service Unavailable")


async def test_hang_until_the_client_gives_up(api: Api) -> None:
    api.cloud.faults.hang(endpoint="systems", count=1)
    with pytest.raises(TimeoutError):
        await api.http.get(
            f"{api.base}/api/v4/systems",
            headers=api.headers,
            timeout=aiohttp.ClientTimeout(total=0.2),
        )
    assert (await api.get("systems"))[0] == 200  # the hang was for one request only


async def test_hang_released_answers_504(api: Api) -> None:
    api.cloud.faults.hang(endpoint="systems")
    pending = asyncio.create_task(api.get("systems"))
    for _ in range(1000):
        if api.cloud.faults.hanging:
            break
        await asyncio.sleep(0.001)  # let the request reach the server
    assert api.cloud.faults.hanging == 1
    api.cloud.faults.clear()
    status, body = await pending
    assert (status, body["code"]) == (504, 504)
    assert api.cloud.requests[-1].status == 504
    assert api.cloud.faults.hanging == 0


async def test_token_endpoint_faults(api: Api) -> None:
    refresh = str(api.cloud.issue_tokens()["refresh_token"])
    api.cloud.faults.server_error(endpoint="oauth/token", count=1)
    url = f"{api.base}/oauth/token"
    params = {"grant_type": "refresh_token", "refresh_token": refresh}
    auth = basic(api.cloud.client_id, api.cloud.client_secret)["Authorization"]
    async with api.http.post(url, params=params, headers={"Authorization": auth}) as response:
        assert response.status == 500
    api.cloud.faults.hang(endpoint="oauth/token", count=1)
    with pytest.raises(TimeoutError):
        await api.http.post(
            url,
            params=params,
            headers={"Authorization": auth},
            timeout=aiohttp.ClientTimeout(total=0.2),
        )
    api.cloud.faults.respond({"access_token": "x", "token_type": "bearer"}, endpoint="oauth/token")
    async with api.http.post(url, params=params, headers={"Authorization": auth}) as response:
        assert (response.status, await response.json()) == (
            200,
            {"access_token": "x", "token_type": "bearer"},
        )
    api.cloud.faults.clear()
    async with api.http.post(url, params=params, headers={"Authorization": auth}) as response:
        assert response.status == 200  # the refresh token survived the faults


async def test_malformed_json(api: Api) -> None:
    api.cloud.faults.malformed_json(endpoint="systems", count=1)
    async with api.http.get(f"{api.base}/api/v4/systems", headers=api.headers) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        text = await response.text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_html_error_page(api: Api) -> None:
    api.cloud.faults.html_error(status=502, count=1)
    async with api.http.get(f"{api.base}/api/v4/systems", headers=api.headers) as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert "502 Bad Gateway" in await response.text()


async def test_nulls_everywhere(api: Api) -> None:
    _, normal = await api.get(f"systems/{BATTERY_ID}/latest_telemetry")
    api.cloud.faults.nulls(endpoint="systems/{system_id}/latest_telemetry", count=1)
    status, nulled = await api.get(f"systems/{BATTERY_ID}/latest_telemetry")
    assert status == 200
    assert nulled == nullify(normal)
    assert nulled["system_id"] is None
    assert nulled["devices"]["meters"][0] == dict.fromkeys(normal["devices"]["meters"][0])
    api.cloud.faults.nulls(count=1, keep=("system_id", "id", "name", "channel"))
    _, partial = await api.get(f"systems/{BATTERY_ID}/latest_telemetry")
    assert partial["system_id"] == BATTERY_ID
    assert partial["items"] is None
    first = partial["devices"]["meters"][0]
    assert (first["name"], first["channel"], first["power"]) == ("production", 1, None)
    api.cloud.faults.nulls(count=1)
    status, _ = await api.get("systems/12345")  # errors are not nulled
    assert status == 404


async def test_forbidden_endpoints(api: Api) -> None:
    api.cloud.faults.forbid("systems/{system_id}/devices", count=1)
    status, body = await api.get(f"systems/{BATTERY_ID}/devices")
    assert (status, body["message"]) == (403, "Forbidden")
    assert (await api.get(f"systems/{BATTERY_ID}/devices"))[0] == 200


async def test_battery_outside_the_plan(api: Api) -> None:
    api.cloud.application.limiter.plan = Plan.WATT.without_battery()
    status, body = await api.get(f"systems/{BATTERY_ID}/telemetry/battery")
    assert (status, body["details"]) == (403, "Not authorized to access this resource")
    assert (await api.get(f"systems/{BATTERY_ID}/battery_lifetime"))[0] == 403
    assert (await api.get(f"systems/{BATTERY_ID}/summary"))[0] == 200


def test_fault_rules_validate_their_budget(sim_clock: ManualClock) -> None:
    faults = Faults(sim_clock)
    with pytest.raises(ValueError, match="count"):
        faults.server_error(count=0)
    rule = faults.hang(endpoint="systems", until=sim_clock() + timedelta(minutes=1))
    assert rule.applies("systems", sim_clock())
    assert not rule.applies("systems/{system_id}", sim_clock())
    assert not rule.applies("systems", sim_clock() + timedelta(minutes=2))


async def test_server_error_for_one_system_only(api: Api) -> None:
    api.cloud.faults.server_error(status=503, system_id=SOLAR_ID)
    assert (await api.get(f"systems/{SOLAR_ID}/summary"))[0] == 503
    assert (await api.get(f"systems/{BATTERY_ID}/summary"))[0] == 200
    assert (await api.get("systems"))[0] == 200  # a request of no system is not caught


async def test_a_regenerated_api_key_retires_the_old_one(api: Api) -> None:
    old = api.cloud.api_key
    new = api.cloud.regenerate_api_key()
    assert new != old
    status, body = await api.get("systems", headers={**api.headers, "key": old})
    assert (status, body) == (401, not_authorized("Invalid API key"))
    assert (await api.get("systems"))[0] == 200  # api.headers carries the current key
