"""Shared fixtures: a manual clock, the simulated Enphase cloud, and a loopback server for it."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, SiteConfig
from sim.server import SimServer

# Property tests judge behaviour, not speed: on a loaded 2-core CI machine a fixed per-example
# deadline only adds flakiness.
settings.register_profile("liveone", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("liveone")

SUMMER_NOON = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 13:00 in Melbourne, 12:00 in Brisbane


@pytest.fixture
def sim_clock() -> ManualClock:
    """A manual clock at an Australian summer midday."""
    return ManualClock(SUMMER_NOON)


@pytest.fixture
def enphase_cloud(sim_clock: ManualClock) -> EnphaseCloud:
    """The simulated cloud with the battery demo site and the solar-only demo site."""
    return EnphaseCloud(
        clock=sim_clock, sites=[SiteConfig.demo_battery(), SiteConfig.demo_solar_only()]
    )


@pytest.fixture
async def sim_server(enphase_cloud: EnphaseCloud, socket_enabled: None) -> AsyncIterator[SimServer]:
    """The cloud served on a free loopback port."""
    async with SimServer(enphase=enphase_cloud, host="127.0.0.1") as server:
        yield server
