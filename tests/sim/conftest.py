"""Fixtures for the simulator's own tests: a roomy plan and an authenticated API caller."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.server import SimServer

ROOMY = Plan("Roomy", per_minute=1_000_000, per_month=1_000_000_000)
BATTERY_ID = SiteConfig.demo_battery().system_id
SOLAR_ID = SiteConfig.demo_solar_only().system_id
EASTERN_ID = SiteConfig.demo_us_eastern().system_id


def basic(client_id: str, secret: str) -> dict[str, str]:
    """An HTTP Basic client-authentication header."""
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


@dataclass
class Api:
    """Calls the simulated API over loopback with a live token and the right key."""

    http: aiohttp.ClientSession
    base: str
    cloud: EnphaseCloud
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "key": self.cloud.api_key}

    def renew_token(self) -> None:
        """Take a fresh token (after moving the clock past the old one's expiry)."""
        self.token = str(self.cloud.issue_tokens()["access_token"])

    async def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        async with self.http.get(
            f"{self.base}/api/v4/{path}",
            params=params,
            headers=self.headers if headers is None else headers,
        ) as response:
            return response.status, await response.json()


@pytest.fixture
def roomy_cloud(sim_clock: ManualClock) -> EnphaseCloud:
    """Three demo sites on a plan whose limits no functional test reaches."""
    sites = [SiteConfig.demo_battery(), SiteConfig.demo_solar_only(), SiteConfig.demo_us_eastern()]
    return EnphaseCloud(clock=sim_clock, sites=sites, plan=ROOMY)


@pytest.fixture
async def http(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(roomy_cloud: EnphaseCloud, http: aiohttp.ClientSession) -> AsyncIterator[Api]:
    async with SimServer(enphase=roomy_cloud, host="127.0.0.1") as server:
        token = str(roomy_cloud.issue_tokens()["access_token"])
        yield Api(http, server.enphase_url, roomy_cloud, token)
