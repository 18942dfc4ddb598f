"""Home Assistant's own Energy dashboard accepts the integration's sensors."""

from datetime import timedelta
from typing import Any

import pytest
import voluptuous as vol
from homeassistant.components.energy.data import BATTERY_SOURCE_SCHEMA
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockUser
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from sim.enphase import EnphaseCloud
from sim.server import SimServer

from .conftest import TimeMachine, setup_entry

pytestmark = pytest.mark.usefixtures("credentials")

SENSOR = "sensor.demo_battery_home_"


def _battery_source() -> dict[str, Any]:
    """The battery source, with state of charge and capacity where this HA's schema takes them.

    Older releases (2026.3) reject both keys as extra; asking the schema keeps the test honest on
    every release instead of guessing from the version number.
    """
    source: dict[str, Any] = {
        "type": "battery",
        "stat_energy_from": SENSOR + "battery_energy_discharged",
        "stat_energy_to": SENSOR + "battery_energy_charged",
        "stat_rate": SENSOR + "battery_power",
    }
    with_soc = source | {"stat_soc": SENSOR + "state_of_charge", "capacity": 10.08}
    try:
        BATTERY_SOURCE_SCHEMA(with_soc)
    except vol.Invalid:
        return source
    return with_soc


BATTERY = _battery_source()
PREFS: dict[str, Any] = {
    "energy_sources": [
        {
            "type": "solar",
            "stat_energy_from": SENSOR + "solar_energy",
            "stat_rate": SENSOR + "solar_power",
        },
        {
            "type": "grid",
            "stat_energy_from": SENSOR + "grid_energy_imported",
            "stat_energy_to": SENSOR + "grid_energy_exported",
            "stat_rate": SENSOR + "grid_power",
            "cost_adjustment_day": 0,
        },
        BATTERY,
    ],
    "device_consumption": [{"stat_consumption": SENSOR + "consumption_energy"}],
}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """The recorder must start before custom integrations are enabled."""


async def test_the_energy_dashboard_accepts_the_sensors(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    assert await async_setup_component(hass, "energy", {})
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    await time_machine.advance(timedelta(minutes=10))  # the first poll's batches are in
    start = time_machine.now()
    await time_machine.advance(timedelta(minutes=5))
    await async_wait_recording_done(hass)
    # Compile the statistics of the five minutes just past: the dashboard reads those.
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)
    # A token minted now: the frozen simulated clock is far from the real one.
    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, CLIENT_ID)
    client = await hass_ws_client(hass, hass.auth.async_create_access_token(refresh))

    await client.send_json_auto_id({"type": "energy/save_prefs", **PREFS})
    saved = await client.receive_json()
    assert saved["success"], saved
    await client.send_json_auto_id({"type": "energy/validate"})
    validation = await client.receive_json()

    assert validation["success"], validation
    assert validation["result"]["energy_sources"] == [[], [], []]
    assert validation["result"]["device_consumption"] == [[]]
