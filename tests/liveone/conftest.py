"""Fixtures for the LiveOne push tests: a manual clock and the simulated receiver on loopback."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from custom_components.liveone_enphase.liveone import LiveOneClient
from sim.clock import ManualClock
from sim.liveone import DEMO_API_KEY, DEMO_SITE_ID, LiveOneReceiver
from sim.server import SimServer

START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def receiver(clock: ManualClock) -> LiveOneReceiver:
    return LiveOneReceiver(clock=clock)


@pytest.fixture
async def server(receiver: LiveOneReceiver, socket_enabled: None) -> AsyncIterator[SimServer]:
    async with SimServer(liveone=receiver) as running:
        yield running


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def client(session: aiohttp.ClientSession, server: SimServer) -> LiveOneClient:
    return LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY, timeout=5)
