"""SimServer in-process, and `python -m sim serve` as a subprocess."""

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import sim
from sim.__main__ import main, parse_args, serve
from sim.clock import ManualClock, SystemClock
from sim.enphase import EnphaseCloud
from sim.server import SimServer
from tests.sim.conftest import basic

ROOT = Path(__file__).resolve().parents[2]


class Echo:
    """A stand-in for the LiveOne receiver: anything with install(app)."""

    def install(self, app: web.Application) -> None:
        async def hello(_: web.Request) -> web.Response:
            return web.json_response({"hello": "liveone"})

        app.router.add_get("/hello", hello)


async def test_both_services_on_their_own_ports(
    sim_clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    cloud = EnphaseCloud(clock=sim_clock)
    async with SimServer(enphase=cloud, liveone=Echo()) as server:
        assert server.enphase_url != server.liveone_url
        assert server.liveone_url.startswith("http://127.0.0.1:")
        async with http.get(f"{server.liveone_url}/hello") as response:
            assert await response.json() == {"hello": "liveone"}
        async with http.get(f"{server.enphase_url}/api/v4/systems") as response:
            assert response.status == 401


async def test_without_liveone_there_is_no_liveone_url(sim_server: SimServer) -> None:
    assert sim_server.enphase_url.startswith("http://127.0.0.1:")
    with pytest.raises(KeyError):
        _ = sim_server.liveone_url


async def test_stopping_releases_hanging_requests(
    sim_clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    cloud = EnphaseCloud(clock=sim_clock)
    server = SimServer(enphase=cloud)
    await server.start()
    cloud.faults.hang()
    token = cloud.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "key": cloud.api_key}
    pending = asyncio.create_task(http.get(f"{server.enphase_url}/api/v4/systems", headers=headers))
    for _ in range(1000):
        if cloud.faults.hanging:
            break
        await asyncio.sleep(0.001)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 2
    response = await pending
    assert response.status == 504
    response.release()


def test_system_clock_is_aware() -> None:
    assert SystemClock()().tzinfo is not None


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(datetime(2026, 1, 1, 10, tzinfo=timezone(timedelta(hours=10))))
    assert clock() == datetime(2026, 1, 1, 0, tzinfo=UTC)
    assert clock.advance(timedelta(minutes=5)) == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert clock.set(datetime(2026, 1, 2, tzinfo=UTC)) == datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))


async def read_announcement(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    for _ in range(2000):
        out = capsys.readouterr().out
        if out:
            return dict(json.loads(out))
        await asyncio.sleep(0.005)
    raise AssertionError("no announcement")


async def test_serve_in_process_with_my_redirect(
    capsys: pytest.CaptureFixture[str], socket_enabled: None, http: aiohttp.ClientSession
) -> None:
    args = parse_args(["serve", "--port", "0", "--my-redirect", "http://127.0.0.1:8123"])
    stop = asyncio.Event()
    task = asyncio.create_task(serve(args, stop))
    info = await read_announcement(capsys)
    form = {
        "response_type": "code",
        "client_id": str(info["client_id"]),
        "redirect_uri": "https://my.home-assistant.io/redirect/oauth",
        "state": "s",
        "user_oauth_approval": "true",
    }
    async with http.post(
        f"{info['enphase_base_url']}/oauth/authorize", data=form, allow_redirects=False
    ) as response:
        assert response.headers["Location"].startswith(
            "http://127.0.0.1:8123/auth/external/callback?code="
        )
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_serve_without_the_liveone_simulator(
    capsys: pytest.CaptureFixture[str], socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sim.liveone", None)
    monkeypatch.delattr(sim, "liveone", raising=False)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(parse_args(["serve", "--port", "0"]), stop))
    info = await read_announcement(capsys)
    assert "liveone_url" not in info
    assert info["system_ids"] == [4_201_001, 4_201_002]
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "serve" in capsys.readouterr().err


async def test_python_m_sim_serve(socket_enabled: None, http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sim",
        "serve",
        "--port",
        "0",
        "--seed",
        "3",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        info = json.loads(line)
        assert info["enphase_base_url"].startswith("http://127.0.0.1:")
        assert info["client_id"] == "sim-client-id-0000-not-real"
        assert info["system_ids"] == [4_201_001, 4_201_002]
        assert {"client_secret", "api_key"} <= info.keys()
        assert {"liveone_url", "liveone_site_id", "liveone_api_key"} <= info.keys()
        async with http.post(
            f"{info['enphase_base_url']}/oauth/token",
            params={"grant_type": "refresh_token", "refresh_token": "stale"},
            headers=basic(info["client_id"], info["client_secret"]),
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "invalid_grant"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
    assert process.returncode == 0
