"""Config entry diagnostics: useful for support, and free of secrets and personal data."""

import json
from datetime import timedelta

import pytest
from homeassistant.core import HomeAssistant
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.liveone_enphase.diagnostics import async_get_config_entry_diagnostics
from sim.enphase import EnphaseCloud
from sim.server import SimServer

from .conftest import TimeMachine, setup_entry

pytestmark = pytest.mark.usefixtures("credentials")


async def test_diagnostics(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    snapshot: SnapshotAssertion,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    await time_machine.advance(timedelta(minutes=10))

    # Called directly: HA's HTTP login tokens do not survive the frozen simulated clock.
    result = json.loads(json.dumps(await async_get_config_entry_diagnostics(hass, entry)))

    text = json.dumps(result)
    secrets = [
        entry.data["token"]["access_token"],
        entry.data["token"]["refresh_token"],
        enphase_cloud.api_key,
        enphase_cloud.client_id,
        enphase_cloud.client_secret,
        enphase_cloud.user_id,
    ]
    assert not [secret for secret in secrets if secret in text]
    assert result["systems"]["4201001"]["info"]["has_battery"] is True
    assert result["budget"]["used"] == enphase_cloud.usage()[1]
    assert result == snapshot(
        exclude=props("entry_id", "created_at", "modified_at", "dev_cloud_url")
    )
