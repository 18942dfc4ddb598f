"""A real automation on the state of charge fires when the simulated battery runs low."""

from dataclasses import replace
from datetime import timedelta

import pytest
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_mock_service

from sim.enphase import EnphaseCloud, SiteConfig
from sim.server import SimServer

from .conftest import BATTERY_SITE, CloudSpec, TimeMachine, setup_entry

pytestmark = pytest.mark.usefixtures("credentials")

SOC = "sensor.demo_battery_home_state_of_charge"
# A hungrier house: the battery drains below 20 % before dawn and recharges by mid-morning.
HUNGRY_HOME = replace(SiteConfig.demo_battery(), daily_load_wh=20_000)


@pytest.mark.parametrize("enphase_cloud", [CloudSpec(sites=(HUNGRY_HOME,))], indirect=True)
async def test_a_low_battery_automation_fires_once(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    calls = async_mock_service(hass, "test", "low_battery")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [{"trigger": "numeric_state", "entity_id": SOC, "below": 20}],
                "actions": [
                    {"action": "test.low_battery", "data": {"soc": "{{ trigger.to_state.state }}"}}
                ],
            }
        },
    )
    shown: list[float] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) is not None and state.state[0].isdigit():
            shown.append(float(state.state))

    async_track_state_change_event(hass, SOC, record)
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])

    await time_machine.advance(timedelta(days=1))

    assert len(calls) == 1
    fired_at = float(calls[0].data["soc"])
    assert fired_at < 20
    assert fired_at == next(value for value in shown if value < 20)  # the first low value
    assert shown[0] >= 20  # it started above the threshold
    assert shown[-1] >= 20  # and recovered: the crossing happened once, and only once
