"""Site and plan configuration, and account set-up errors."""

from dataclasses import replace
from datetime import timedelta

import pytest

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.enphase.config import BATTERY_ENDPOINTS


def test_invalid_site_configurations_are_refused() -> None:
    site = SiteConfig.demo_battery()
    with pytest.raises(ValueError, match="15-minute"):
        replace(site, report_interval=timedelta(minutes=10))
    with pytest.raises(ValueError, match="lag"):
        replace(site, publish_lag_max=timedelta(minutes=1))
    with pytest.raises(ValueError, match="channels"):
        replace(site, active_meter_channels=4)
    with pytest.raises(ValueError, match="battery"):
        replace(site, battery_units=0)


def test_demo_sites() -> None:
    battery, solar, eastern = (
        SiteConfig.demo_battery(),
        SiteConfig.demo_solar_only(),
        SiteConfig.demo_us_eastern(),
    )
    assert battery.has_battery
    assert battery.has_consumption_meter
    assert not solar.has_battery
    assert solar.api_timezone == "Australia/Queensland"
    assert eastern.api_timezone == "US/Eastern"
    assert not eastern.has_consumption_meter
    assert battery.api_timezone == battery.timezone


def test_plans() -> None:
    assert (Plan.WATT.per_minute, Plan.WATT.per_month) == (10, 1_000)
    restricted = Plan.WATT.without_battery()
    assert restricted.excluded_endpoints == BATTERY_ENDPOINTS
    assert Plan.WATT.excluded_endpoints == frozenset()
    assert restricted.without("systems").excluded_endpoints == BATTERY_ENDPOINTS | {"systems"}


def test_duplicate_sites_and_clients_are_refused(sim_clock: ManualClock) -> None:
    cloud = EnphaseCloud(clock=sim_clock, sites=[SiteConfig.demo_battery()])
    with pytest.raises(ValueError, match="duplicate system"):
        cloud.add_site(SiteConfig.demo_battery())
    with pytest.raises(ValueError, match="duplicate client"):
        cloud.add_application("Again", client_id=cloud.client_id)
    second = cloud.add_application("Second")
    assert second.client_id != cloud.client_id
    assert second.api_key not in repr(second)
    assert second.client_secret not in repr(second)
    assert cloud.system_ids == [SiteConfig.demo_battery().system_id]
