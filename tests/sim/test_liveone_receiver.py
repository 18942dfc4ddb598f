"""The simulated LiveOne receiver over loopback HTTP, driven with raw request bodies."""

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sim.clock import ManualClock
from sim.liveone import DEMO_API_KEY, DEMO_SITE_ID, PATH, LiveOneReceiver
from sim.server import SimServer

START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
T1 = "2026-06-01T00:00:00Z"
T2 = "2026-06-01T00:05:00Z"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def receiver(clock: ManualClock) -> LiveOneReceiver:
    return LiveOneReceiver(clock=clock, sites={DEMO_SITE_ID: DEMO_API_KEY, "keyless": None})


@pytest.fixture
async def url(receiver: LiveOneReceiver, socket_enabled: None) -> AsyncIterator[str]:
    async with SimServer(liveone=receiver) as server:
        yield server.liveone_url + PATH


@pytest.fixture
async def http(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def reading(key: str = "solar_w", value: object = 1200, **extra: object) -> dict[str, object]:
    return {"physicalPathTail": key, "value": value, "metricType": "power", "metricUnit": "W"} | {
        name: item for name, item in extra.items()
    }


def store_body(*readings: object, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "vendorSiteId": DEMO_SITE_ID,
        "apiKey": DEMO_API_KEY,
        "action": "store",
        "sessionLabel": "liveone_enphase/1780272000000",
        "measurementTime": T1,
        "readings": list(readings) or [reading()],
    }
    return body | overrides


async def post(
    http: aiohttp.ClientSession, url: str, body: object
) -> tuple[int, Any, Mapping[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={"Content-Type": "application/json"}) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_get_describes_the_contract(http: aiohttp.ClientSession, url: str) -> None:
    async with http.get(url) as response:
        description = await response.json()
    assert response.status == 200
    assert description["endpoint"] == "/api/gush"
    assert set(description["responses"]) >= {"200", "400", "401", "404", "422", "429", "503"}


async def test_test_action_checks_credentials_and_stores_nothing(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    body = {"vendorSiteId": DEMO_SITE_ID, "apiKey": DEMO_API_KEY, "action": "test"}
    status, answer, _ = await post(http, url, body)
    assert (status, answer["success"], answer["action"]) == (200, True, "test")
    assert len(receiver.ledger) == 0
    assert receiver.posts(action="test")[0].status == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body must be a JSON object"),
        ([1, 2], "body must be a JSON object"),
        ({"apiKey": DEMO_API_KEY, "action": "test"}, "vendorSiteId is required"),
        ({"vendorSiteId": DEMO_SITE_ID, "action": "test"}, "apiKey is required"),
        (
            {"vendorSiteId": DEMO_SITE_ID, "apiKey": DEMO_API_KEY, "action": "delete"},
            "action must be",
        ),
        (store_body(sessionLabel=""), "sessionLabel is required"),
        (store_body(readings=[]), "readings must be a non-empty array"),
        (store_body(readings="solar"), "readings must be a non-empty array"),
        (store_body(measurementTime="yesterday"), "not an ISO 8601 UTC time"),
    ],
)
async def test_a_missing_or_invalid_required_field_is_400(
    http: aiohttp.ClientSession, url: str, body: object, message: str
) -> None:
    status, answer, _ = await post(http, url, body)
    assert status == 400
    assert answer["success"] is False
    assert message in answer["error"]


async def test_batch_time_is_required_unless_every_reading_has_its_own(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    body = store_body(reading(measurementTime=T1), reading("load_w"))
    del body["measurementTime"]
    assert (await post(http, url, body))[0] == 400

    body = store_body(reading(measurementTime=T1), reading("load_w", measurementTime=T2))
    del body["measurementTime"]
    status, answer, _ = await post(http, url, body)
    assert (status, answer["pointsStored"]) == (200, 2)
    assert receiver.ledger.get(DEMO_SITE_ID, "load_w", datetime(2026, 6, 1, 0, 5, tzinfo=UTC))


async def test_unknown_site_is_404_and_wrong_or_unset_key_is_401(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    assert (await post(http, url, store_body(vendorSiteId="elsewhere")))[0] == 404
    assert (await post(http, url, store_body(apiKey="wrong")))[0] == 401
    assert (await post(http, url, store_body(vendorSiteId="keyless")))[0] == 401
    assert len(receiver.ledger) == 0
    assert [record.status for record in receiver.posts()] == [404, 401, 401]


async def test_store_keeps_each_reading_with_its_description(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    total = reading(
        "solar_kwh_total",
        1234.5,
        metricType="energy",
        metricUnit="kWh",
        transform="d",
        subsystem="solar",
        logicalPathStem="solar",
        defaultName="Solar energy",
        measurementTime="2026-06-01T10:00:00+10:00",
    )
    clock.advance(timedelta(minutes=1))
    status, answer, _ = await post(http, url, store_body(reading(), total))

    assert status == 200
    assert answer == {
        "success": True,
        "action": "store",
        "sessionLabel": "liveone_enphase/1780272000000",
        "pointsStored": 2,
        "duplicates": 0,
        "skipped": 0,
    }
    stored = receiver.ledger.get(DEMO_SITE_ID, "solar_kwh_total", START)
    assert stored is not None
    assert (stored.value, stored.metric_unit, stored.transform) == (1234.5, "kWh", "d")
    assert (stored.subsystem, stored.logical_path_stem, stored.default_name) == (
        "solar",
        "solar",
        "Solar energy",
    )
    assert stored.stored_at == START + timedelta(minutes=1)
    assert stored.session_label == "liveone_enphase/1780272000000"
    assert receiver.ledger.keys(DEMO_SITE_ID) == {"solar_w", "solar_kwh_total"}


async def test_unusable_readings_are_skipped_and_none_usable_is_422(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    unusable: list[object] = [
        {"physicalPathTail": "a", "value": 1, "metricUnit": "W"},
        {"physicalPathTail": "b", "value": 1, "metricType": "power"},
        reading("c", None),
        reading("d", True),
        reading("e", measurementTime="soon"),
        reading("f", measurementTime="2026-06-01T00:00:00"),
        reading("g", [1]),
        reading("h", measurementTime=1780272000),
        {"value": 1, "metricType": "power", "metricUnit": "W"},
        "not an object",
    ]
    status, answer, _ = await post(http, url, store_body(*unusable))
    assert (status, answer["error"]) == (422, "no readings could be stored")

    status, answer, _ = await post(http, url, store_body(reading("kept", "text"), *unusable))
    assert (status, answer["pointsStored"], answer["skipped"]) == (200, 1, len(unusable))
    assert [row.key for row in receiver.ledger] == ["kept"]
    assert receiver.posts()[-1].skipped == len(unusable)


async def test_non_finite_numbers_are_skipped(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    raw = json.dumps(store_body(reading("nan", 1.5), reading("ok", 2.5)))
    status, answer, _ = await post(http, url, raw.replace("1.5", "NaN").encode())
    assert (status, answer["pointsStored"], answer["skipped"]) == (200, 1, 1)


async def test_store_is_idempotent_on_site_point_and_time(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    body = store_body(reading("solar_w", 1000), reading("solar_w", 1100, measurementTime=T2))
    first = await post(http, url, body)
    again = await post(http, url, body)
    changed = await post(
        http, url, store_body(reading("solar_w", 9999, measurementTime="2026-06-01T10:00:00+10:00"))
    )

    assert (first[1]["pointsStored"], first[1]["duplicates"]) == (2, 0)
    assert (again[0], again[1]["pointsStored"], again[1]["duplicates"]) == (200, 0, 2)
    assert (changed[0], changed[1]["duplicates"]) == (200, 1)
    assert len(receiver.ledger) == 2
    assert receiver.ledger.duplicates == 3
    assert [row.value for row in receiver.ledger.series(DEMO_SITE_ID, "solar_w")] == [1000, 1100]


async def test_sites_are_separate(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    receiver.sites["second"] = "second-key"
    await post(http, url, store_body())
    await post(http, url, store_body(vendorSiteId="second", apiKey="second-key"))
    assert len(receiver.ledger) == 2
    assert [row.site_id for row in receiver.ledger.for_site("second")] == ["second"]
    assert len(receiver.posts(site_id="second")) == 1


async def test_ledger_queries_by_site_point_and_time(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    await post(
        http,
        url,
        store_body(
            reading("solar_w", 1),
            reading("load_w", 2),
            reading("solar_w", 3, measurementTime=T2),
        ),
    )
    ledger = receiver.ledger
    assert [(r.key, r.value) for r in ledger.for_site(DEMO_SITE_ID)] == [
        ("load_w", 2),
        ("solar_w", 1),
        ("solar_w", 3),
    ]
    assert {key: row.value for key, row in ledger.at(DEMO_SITE_ID, START).items()} == {
        "solar_w": 1,
        "load_w": 2,
    }
    assert ledger.get(DEMO_SITE_ID, "load_w", START + timedelta(minutes=5)) is None
    ledger.clear()
    assert (len(ledger), ledger.duplicates) == (0, 0)


async def test_request_log_redacts_the_api_key(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    await post(http, url, store_body(reading(), reading("load_w")))
    record = receiver.posts(action="store")[0]
    assert record.body["apiKey"] == "***"
    assert (record.site_id, record.session_label, record.received, record.stored) == (
        DEMO_SITE_ID,
        "liveone_enphase/1780272000000",
        2,
        2,
    )
    assert DEMO_API_KEY not in repr(receiver.requests)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, "invalid API key"),
        (422, "no readings could be stored"),
        (429, "too many requests"),
        (500, "internal server error"),
        (503, "datastore unavailable"),
        (418, "error"),
    ],
)
async def test_forced_status_answers_every_post_until_cleared(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver, status: int, error: str
) -> None:
    receiver.force_status(status)
    for _ in range(2):
        got, answer, _ = await post(http, url, store_body())
        assert (got, answer) == (status, {"success": False, "error": error})
    receiver.clear_faults()
    assert (await post(http, url, store_body()))[0] == 200
    assert len(receiver.ledger) == 1


async def test_forced_status_can_be_limited_and_carry_retry_after(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    receiver.force_status(429, count=2, retry_after=30)
    first = await post(http, url, store_body())
    second = await post(http, url, store_body())
    third = await post(http, url, store_body())
    assert [first[0], second[0], third[0]] == [429, 429, 200]
    assert first[2]["Retry-After"] == "30"
    with pytest.raises(ValueError, match="error status"):
        receiver.force_status(200)


async def test_down_closes_every_connection_without_an_answer(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    receiver.set_down()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, url, store_body())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.get(url)
    # aiohttp retries an idempotent GET once on a dropped keep-alive connection; never a POST.
    assert [(r.method, r.status) for r in receiver.requests[:2]] == [("POST", None), ("GET", None)]
    assert {r.status for r in receiver.requests} == {None}
    assert len(receiver.ledger) == 0

    receiver.set_down(False)
    assert (await post(http, url, store_body()))[0] == 200


async def test_slow_holds_requests_until_released(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver
) -> None:
    receiver.set_slow()
    pending = asyncio.create_task(post(http, url, store_body()))
    await receiver.wait_for_waiting(1)
    assert receiver.waiting == 1
    assert len(receiver.ledger) == 0

    receiver.release_slow()
    status, _, _ = await pending
    assert (status, receiver.waiting, len(receiver.ledger)) == (200, 0, 1)
    assert (await post(http, url, store_body(reading("next"))))[0] == 200


async def test_slow_until_a_time_releases_when_the_clock_passes_it(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    receiver.set_slow(until=START + timedelta(seconds=30))
    first = asyncio.create_task(post(http, url, store_body(reading("a"))))
    second = asyncio.create_task(post(http, url, store_body(reading("b"))))
    await receiver.wait_for_waiting(2)

    clock.advance(timedelta(seconds=10))
    receiver.check_clock()
    await asyncio.sleep(0)
    assert receiver.waiting == 2

    clock.advance(timedelta(seconds=20))
    receiver.check_clock()
    assert [(await first)[0], (await second)[0]] == [200, 200]
    assert receiver.ledger.keys(DEMO_SITE_ID) == {"a", "b"}


async def test_any_request_rechecks_the_slow_deadline(
    http: aiohttp.ClientSession, url: str, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    receiver.set_slow(until=START + timedelta(seconds=5))
    held = asyncio.create_task(post(http, url, store_body(reading("held"))))
    await receiver.wait_for_waiting(1)
    clock.advance(timedelta(seconds=5))
    async with http.get(url) as response:
        assert response.status == 200
    assert (await held)[0] == 200


async def test_shutdown_lets_held_requests_go_unanswered(
    http: aiohttp.ClientSession, clock: ManualClock, socket_enabled: None
) -> None:
    receiver = LiveOneReceiver(clock=clock)
    server = SimServer(liveone=receiver)
    await server.start()
    receiver.set_slow()
    held = asyncio.create_task(post(http, server.liveone_url + PATH, store_body()))
    await receiver.wait_for_waiting(1)

    await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await held
    assert len(receiver.ledger) == 0
    assert receiver.requests[0].status is None


async def test_default_site_is_the_demo_site(clock: ManualClock) -> None:
    receiver = LiveOneReceiver(clock=clock)
    app = web.Application()
    receiver.install(app)
    assert receiver.sites == {DEMO_SITE_ID: DEMO_API_KEY}
    assert {route.method for route in app.router.routes()} >= {"GET", "POST"}
