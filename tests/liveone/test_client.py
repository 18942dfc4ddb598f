"""The push client over loopback HTTP against the simulated receiver and a non-LiveOne server.

Every status maps to the error that says what the sender must do.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from custom_components.liveone_enphase.liveone import (
    Batch,
    LiveOneAuthError,
    LiveOneBatchRejectedError,
    LiveOneClient,
    LiveOneError,
    LiveOneInvalidUrlError,
    LiveOneTransientError,
    LiveOneUnknownSiteError,
    StoreResult,
    gush_url,
    validate_request,
)
from custom_components.liveone_enphase.liveone.points import Point
from sim.clock import ManualClock
from sim.liveone import DEMO_API_KEY, DEMO_SITE_ID, LiveOneReceiver
from sim.server import SimServer

from .helpers import make_batch


class NotLiveOne:
    """A web server that is not a LiveOne receiver.

    `/status/<code>/<kind>/api/gush` answers `code` with a JSON, HTML, key-echoing or
    success-less body; `/moved/<code>/api/gush` redirects.
    """

    def install(self, app: web.Application) -> None:
        app.router.add_post("/status/{code}/{kind}/api/gush", self._answer)
        app.router.add_post("/moved/{code}/api/gush", self._redirect)

    async def _answer(self, request: web.Request) -> web.Response:
        status = int(request.match_info["code"])
        kind = request.match_info["kind"]
        if kind == "html":
            return web.Response(status=status, text="<h1>Not here</h1>", content_type="text/html")
        if kind == "echo":
            key = (await request.json())["apiKey"]
            return web.json_response({"error": f"key {key} is\n not valid"}, status=status)
        if kind == "long":
            return web.json_response({"error": "x" * 500}, status=status)
        if kind == "nosuccess":
            return web.json_response({"stored": True}, status=status)
        return web.json_response({"success": False, "message": f"said {status}"}, status=status)

    async def _redirect(self, request: web.Request) -> web.Response:
        status = int(request.match_info["code"])
        return web.Response(status=status, headers={"Location": "https://liveone.example/"})


@pytest.fixture
async def foreign(socket_enabled: None) -> AsyncIterator[str]:
    async with SimServer(liveone=NotLiveOne()) as running:
        yield running.liveone_url


def foreign_client(session: aiohttp.ClientSession, base: str, path: str) -> LiveOneClient:
    return LiveOneClient(session, f"{base}/{path}", DEMO_SITE_ID, DEMO_API_KEY, timeout=5)


def assert_no_key(err: BaseException) -> None:
    assert DEMO_API_KEY not in str(err)
    assert DEMO_API_KEY not in repr(err)


async def test_test_action_succeeds_with_good_credentials(
    client: LiveOneClient, receiver: LiveOneReceiver
) -> None:
    await client.test()
    assert [r.status for r in receiver.posts(action="test")] == [200]
    assert len(receiver.ledger) == 0


async def test_store_is_acknowledged_and_lands_in_liveone_signs(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    batch = make_batch(clock, DEMO_SITE_ID, step=0)
    result = await client.store(batch)

    assert result == StoreResult(batch.session_label, len(batch.readings), len(batch.readings))
    battery = receiver.ledger.get(DEMO_SITE_ID, "battery_w", clock())
    grid = receiver.ledger.get(DEMO_SITE_ID, "grid_w", clock())
    assert battery is not None
    assert grid is not None
    assert battery.value == 400.0  # the sample charges at 400 W (HA: -400)
    assert grid.value == 1500.0 - 2000.0 + 400.0
    assert validate_request(receiver.posts()[0].body) == []


async def test_resending_a_batch_stores_it_once(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    batch = make_batch(clock, DEMO_SITE_ID)
    first = await client.store(batch)
    second = await client.store(batch)

    assert (first.points_stored, second.points_stored) == (len(batch.readings), 0)
    assert len(receiver.ledger) == len(batch.readings)
    assert receiver.ledger.duplicates == len(batch.readings)


async def test_store_goes_to_the_configured_site(
    session: aiohttp.ClientSession,
    server: SimServer,
    receiver: LiveOneReceiver,
    clock: ManualClock,
) -> None:
    client = LiveOneClient(session, server.liveone_url, f"  {DEMO_SITE_ID} ", f" {DEMO_API_KEY}")
    await client.store(make_batch(clock, "a-mistyped-site"))
    assert receiver.ledger.keys(DEMO_SITE_ID)


async def test_wrong_key_is_an_auth_error(
    session: aiohttp.ClientSession, server: SimServer
) -> None:
    client = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, "wrong-key")
    with pytest.raises(LiveOneAuthError) as caught:
        await client.test()
    assert caught.value.status == 401
    assert "invalid API key" in str(caught.value)


async def test_unknown_site_is_its_own_error(
    session: aiohttp.ClientSession, server: SimServer, clock: ManualClock
) -> None:
    client = LiveOneClient(session, server.liveone_url, "nobody", DEMO_API_KEY)
    with pytest.raises(LiveOneUnknownSiteError) as caught:
        await client.store(make_batch(clock, "nobody"))
    assert caught.value.status == 404
    assert "'nobody'" in str(caught.value)


async def test_a_batch_with_nothing_storable_is_rejected_for_good(
    client: LiveOneClient, clock: ManualClock
) -> None:
    nameless = Point("mystery", "", "")
    batch = Batch.create(DEMO_SITE_ID, [nameless.reading(1, clock())], created_at=clock())
    with pytest.raises(LiveOneBatchRejectedError) as caught:
        await client.store(batch)
    assert caught.value.status == 422
    assert "no readings could be stored" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, LiveOneBatchRejectedError, "bad request"),
        (401, LiveOneAuthError, "invalid API key"),
        (422, LiveOneBatchRejectedError, "no readings could be stored"),
        (429, LiveOneTransientError, "too many requests"),
        (500, LiveOneTransientError, "internal server error"),
        (502, LiveOneTransientError, "bad gateway"),
        (503, LiveOneTransientError, "datastore unavailable"),
        (504, LiveOneTransientError, "gateway timeout"),
    ],
)
async def test_each_forced_status_maps_to_what_the_sender_must_do(
    client: LiveOneClient,
    receiver: LiveOneReceiver,
    clock: ManualClock,
    *,
    status: int,
    error: type[LiveOneError],
    text: str,
) -> None:
    receiver.force_status(status)
    with pytest.raises(error) as caught:
        await client.store(make_batch(clock, DEMO_SITE_ID))
    assert caught.value.status == status
    assert text in str(caught.value)
    assert_no_key(caught.value)
    assert len(receiver.ledger) == 0


async def test_retry_after_is_passed_on(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    receiver.force_status(429, retry_after=120)
    with pytest.raises(LiveOneTransientError) as caught:
        await client.store(make_batch(clock, DEMO_SITE_ID))
    assert caught.value.retry_after == 120


async def test_a_dropped_connection_is_transient(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    receiver.set_down()
    with pytest.raises(LiveOneTransientError, match=r"cannot reach LiveOne \(Server") as caught:
        await client.store(make_batch(clock, DEMO_SITE_ID))
    assert caught.value.status is None
    assert len(receiver.posts()) == 1


async def test_a_refused_connection_is_transient(
    session: aiohttp.ClientSession, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    server = SimServer(liveone=receiver)
    await server.start()
    url = server.liveone_url
    await server.stop()
    client = LiveOneClient(session, url, DEMO_SITE_ID, DEMO_API_KEY)
    with pytest.raises(LiveOneTransientError, match="cannot reach LiveOne"):
        await client.store(make_batch(clock, DEMO_SITE_ID))


async def test_a_slow_receiver_times_out_as_transient(
    session: aiohttp.ClientSession, server: SimServer, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    client = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY, timeout=0.05)
    receiver.set_slow(until=clock() + timedelta(minutes=1))
    with pytest.raises(LiveOneTransientError, match=r"did not answer within 0\.05 s"):
        await client.store(make_batch(clock, DEMO_SITE_ID))
    clock.advance(timedelta(minutes=1))
    await client.test()
    await asyncio.sleep(0)
    assert receiver.waiting == 0


@pytest.mark.parametrize(
    ("path", "error", "text"),
    [
        ("status/404/html", LiveOneInvalidUrlError, "not a LiveOne receiver"),
        ("status/400/html", LiveOneInvalidUrlError, "not a LiveOne receiver"),
        ("status/405/json", LiveOneInvalidUrlError, "unexpected HTTP 405 from LiveOne: said 405"),
        ("status/404/json", LiveOneUnknownSiteError, "HTTP 404: said 404"),
        ("status/403/json", LiveOneAuthError, "HTTP 403"),
        ("status/413/json", LiveOneBatchRejectedError, "HTTP 413"),
        ("status/408/html", LiveOneTransientError, "HTTP 408)"),
        ("status/502/html", LiveOneTransientError, "HTTP 502)"),
        ("status/200/html", LiveOneTransientError, "HTTP 200 without success"),
        ("status/200/nosuccess", LiveOneTransientError, "HTTP 200 without success"),
        ("status/202/json", LiveOneTransientError, "HTTP 202 without success"),
        ("status/400/nosuccess", LiveOneBatchRejectedError, "rejected the batch (HTTP 400)"),
        ("moved/301", LiveOneInvalidUrlError, "redirects (HTTP 301)"),
        ("moved/307", LiveOneInvalidUrlError, "redirects (HTTP 307)"),
    ],
)
async def test_a_server_that_is_not_liveone_never_causes_a_drop(
    session: aiohttp.ClientSession,
    foreign: str,
    clock: ManualClock,
    *,
    path: str,
    error: type[LiveOneError],
    text: str,
) -> None:
    with pytest.raises(error) as caught:
        await foreign_client(session, foreign, path).store(make_batch(clock, DEMO_SITE_ID))
    assert text in str(caught.value)


async def test_an_echoed_key_is_scrubbed_from_messages(
    session: aiohttp.ClientSession, foreign: str, clock: ManualClock
) -> None:
    client = foreign_client(session, foreign, "status/422/echo")
    with pytest.raises(LiveOneBatchRejectedError) as caught:
        await client.store(make_batch(clock, DEMO_SITE_ID))
    assert str(caught.value) == "LiveOne rejected the batch (HTTP 422: key *** is not valid)"
    assert_no_key(caught.value)
    assert DEMO_API_KEY not in repr(client)


async def test_a_long_error_text_is_shortened(
    session: aiohttp.ClientSession, foreign: str, clock: ManualClock
) -> None:
    with pytest.raises(LiveOneBatchRejectedError) as caught:
        await foreign_client(session, foreign, "status/422/long").store(
            make_batch(clock, DEMO_SITE_ID)
        )
    assert str(caught.value) == f"LiveOne rejected the batch (HTTP 422: {'x' * 200})"


async def test_an_unparseable_retry_after_is_ignored(
    session: aiohttp.ClientSession, clock: ManualClock, socket_enabled: None
) -> None:
    values = ["Wed, 21 Oct 2026 07:28:00 GMT", "-5", "inf"]

    class OddRetryAfter:
        def install(self, app: web.Application) -> None:
            async def answer(request: web.Request) -> web.Response:
                value = values[int(request.match_info["index"])]
                return web.Response(status=429, headers={"Retry-After": value})

            app.router.add_post("/{index}/api/gush", answer)

    async with SimServer(liveone=OddRetryAfter()) as running:
        for index in range(len(values)):
            client = foreign_client(session, running.liveone_url, str(index))
            with pytest.raises(LiveOneTransientError) as caught:
                await client.store(make_batch(clock, DEMO_SITE_ID))
            assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://liveone.example", "https://liveone.example/api/gush"),
        (" https://liveone.example/ ", "https://liveone.example/api/gush"),
        ("https://liveone.example/api/gush", "https://liveone.example/api/gush"),
        ("http://127.0.0.1:3000/app/", "http://127.0.0.1:3000/app/api/gush"),
        ("http://[::1]:8080", "http://[::1]:8080/api/gush"),
    ],
)
def test_gush_url_accepts_plain_http_urls(base: str, url: str) -> None:
    assert gush_url(base) == url


@pytest.mark.parametrize(
    "base",
    [
        "",
        "liveone.example",
        "ftp://liveone.example",
        "https://",
        "https://user:secret@liveone.example",
        "https://liveone.example/?site=1",
        "https://liveone.example/#top",
        "https://liveone.example:99999",
        "https://liveone.example:0",
        "https://live one.example",
        "http://[::1",
        "http://1.2.3.4.5",
        "http://1.2.3",
        "http://01.2.3.4",
    ],
)
def test_gush_url_refuses_anything_else(base: str) -> None:
    with pytest.raises(LiveOneInvalidUrlError):
        gush_url(base)


def test_a_malformed_ipv4_host_is_refused_before_any_request(
    session: aiohttp.ClientSession,
) -> None:
    # aiohttp 3.14 refuses this URL itself, 3.13 would look it up in DNS: ours refuses it on both.
    with pytest.raises(LiveOneInvalidUrlError, match="http\\(s\\) address with a host"):
        LiveOneClient(session, "http://1.2.3.4.5", DEMO_SITE_ID, DEMO_API_KEY)


def test_settings_are_checked_when_the_client_is_made(session: aiohttp.ClientSession) -> None:
    with pytest.raises(LiveOneUnknownSiteError, match="site id is empty"):
        LiveOneClient(session, "https://liveone.example", " ", DEMO_API_KEY)
    with pytest.raises(LiveOneAuthError, match="API key is empty"):
        LiveOneClient(session, "https://liveone.example", DEMO_SITE_ID, "")
    with pytest.raises(ValueError, match="timeout"):
        LiveOneClient(session, "https://liveone.example", DEMO_SITE_ID, DEMO_API_KEY, timeout=0)
    client = LiveOneClient(session, "https://liveone.example", DEMO_SITE_ID, DEMO_API_KEY)
    assert (client.url, client.site_id) == ("https://liveone.example/api/gush", DEMO_SITE_ID)
    assert repr(client) == (
        f"LiveOneClient(url='https://liveone.example/api/gush', site_id='{DEMO_SITE_ID}')"
    )
