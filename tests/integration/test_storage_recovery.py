"""A corrupt or truncated storage file of ours does not stop the entry.

Each test runs the integration for a while (both demo systems, LiveOne pushing, the recorder
on), so that every store of ours holds real data: the entry's readings and inventory, the
application's call ledger, the LiveOne outbox and the statistics trackers. It then damages one
or all of them and sets the entry up again. The entry must load, log one warning per damaged
store (no traceback), and show its sensors again after the next poll.
"""

import json
import logging
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components.recorder.core import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager

from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.push import (
    CONF_API_KEY,
    CONF_PUSH,
    CONF_SITES,
    CONF_URL,
    storage_key,
)
from custom_components.liveone_enphase.store import application_key
from sim.enphase import EnphaseCloud
from sim.liveone import LiveOneReceiver
from sim.server import SimServer

from .conftest import BATTERY_SITE, SOLAR_SITE, TimeMachine, assert_issue_translated, make_entry

pytestmark = pytest.mark.usefixtures("credentials")

LIVEONE_KEY = "lo_recovery_test_key_0001"
SITES = {BATTERY_SITE: "battery-home", SOLAR_SITE: "solar-home"}
SENSORS = (
    "sensor.demo_battery_home_solar_power",
    "sensor.demo_battery_home_state_of_charge",
    "sensor.demo_solar_home_solar_power",
)
STORE_LOGGER = "custom_components.liveone_enphase.store"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Prepare the recorder's database before `hass` exists (see test_statistics_wiring)."""


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of its own, for the tests that write real storage files."""
    return hass_tmp_config_dir


@pytest.fixture
def liveone_sites() -> dict[str, str]:
    return dict.fromkeys(SITES.values(), LIVEONE_KEY)


def store_keys(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """Our four stores of the entry, by what they hold."""
    application = application_key(entry.runtime_data.coordinator.budget.client_id)
    return {
        "readings": f"{DOMAIN}.readings.{entry.entry_id}",
        "ledger": f"{DOMAIN}.ledger.{application}",
        "outbox": storage_key(entry.entry_id),
        "history": f"{DOMAIN}.{entry.entry_id}.history",
    }


async def run_and_stop(
    hass: HomeAssistant, cloud: EnphaseCloud, server: SimServer, time_machine: TimeMachine
) -> tuple[MockConfigEntry, dict[str, str]]:
    """Set the entry up, let it poll and push for two hours, and unload it (its stores stay)."""
    entry = make_entry(hass, cloud, server.enphase_url)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_PUSH: True,
            CONF_URL: server.liveone_url,
            CONF_API_KEY: LIVEONE_KEY,
            CONF_SITES: {str(system_id): site for system_id, site in SITES.items()},
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await time_machine.advance(timedelta(hours=2))
    keys = store_keys(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return entry, keys


async def start_again(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


def shown(hass: HomeAssistant) -> dict[str, str]:
    """The state of the sensors a user looks at first."""
    return {
        entity_id: state.state if (state := hass.states.get(entity_id)) else "missing"
        for entity_id in SENSORS
    }


def assert_no_traceback(caplog: pytest.LogCaptureFixture, *, anywhere: bool = True) -> None:
    """No traceback logged (by us; with `anywhere`, by anyone) and no error of ours."""
    ours = [r for r in caplog.records if r.name.startswith("custom_components.liveone_enphase")]
    records = caplog.records if anywhere else ours
    assert [record.getMessage() for record in records if record.exc_info] == []
    assert [r.getMessage() for r in ours if r.levelno >= logging.ERROR] == []


def unreadable_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == STORE_LOGGER and record.levelno == logging.WARNING
    ]


def halved(document: Any) -> Any:
    """A document cut off halfway: the first half of every object's keys and of every list."""
    if isinstance(document, dict):
        keep = list(document.items())[: math.ceil(len(document) / 2)]
        return {key: halved(value) for key, value in keep}
    if isinstance(document, list):
        return [halved(value) for value in document[: math.ceil(len(document) / 2)]]
    return document


SHAPES: dict[str, Callable[[Any], Any]] = {
    "a list": lambda _: [],
    "a string": lambda _: "not what was stored",
    "a number": lambda _: 42,
    "an empty object": lambda _: {},
    "the right keys holding nulls": dict.fromkeys,
    "a document cut off halfway": halved,
}


@pytest.mark.parametrize("shape", SHAPES)
async def test_every_store_of_the_wrong_shape_starts_afresh_with_one_warning(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
    shape: str,
) -> None:
    entry, keys = await run_and_stop(hass, enphase_cloud, sim_server, time_machine)
    for key in keys.values():
        hass_storage[key]["data"] = SHAPES[shape](hass_storage[key]["data"])
    caplog.clear()

    await start_again(hass, entry)

    warnings = unreadable_warnings(caplog)
    for key in keys.values():
        assert len([text for text in warnings if key in text]) == 1, (key, warnings)
    assert len(warnings) == len(keys)
    assert_no_traceback(caplog)
    await time_machine.advance(timedelta(hours=1))
    assert STATE_UNAVAILABLE not in shown(hass).values()
    assert "missing" not in shown(hass).values()
    assert_no_traceback(caplog)


async def test_a_lost_ledger_assumes_the_month_was_used_at_an_even_pace(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry, keys = await run_and_stop(hass, enphase_cloud, sim_server, time_machine)
    hass_storage[keys["ledger"]]["data"] = {"version": 1, "used": "a lot"}

    await start_again(hass, entry)

    now = time_machine.now()
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - month) / timedelta(days=31)  # January
    assumed = math.floor(PlanLimits.watt().pollable * elapsed)
    ledger = entry.runtime_data.coordinator.budget.ledger
    assert assumed > 400  # mid-January
    assert ledger.used == assumed  # no call made yet: the restart spends nothing
    (warning,) = unreadable_warnings(caplog)
    assert f"assuming {assumed} calls were used" in warning
    assert_no_traceback(caplog)
    # Polls go on, spaced for the calls left (about an hour apart at this pace).
    before = len(enphase_cloud.requests)
    await time_machine.advance(timedelta(hours=2))
    assert ledger.used > assumed
    assert any(request.status == 200 for request in enphase_cloud.requests[before:])
    assert float(hass.states.get("sensor.demo_battery_home_solar_power").state) > 0  # daylight


async def test_unreadable_readings_waiting_for_liveone_are_counted_in_a_repair(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    receiver: LiveOneReceiver,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.set_down()  # readings pile up in the outbox
    entry, keys = await run_and_stop(hass, enphase_cloud, sim_server, time_machine)
    outbox = hass_storage[keys["outbox"]]["data"]["outbox"]
    batches = outbox["batches"]
    assert batches
    lost = sum(len(batch["readings"]) for batch in batches)
    outbox["batches"] = [batch | {"created_at": "garbled"} for batch in batches]
    receiver.set_down(False)

    await start_again(hass, entry)

    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"liveone_dropped_unreadable_{entry.entry_id}"
    )
    assert_issue_translated(issue)
    assert issue is not None
    assert issue.translation_placeholders == {"name": entry.title, "readings": str(lost)}
    assert_no_traceback(caplog)
    # Readings made after the restart still reach LiveOne.
    stored_before = len(receiver.ledger)
    await time_machine.advance(timedelta(hours=1))
    assert len(receiver.ledger) > stored_before


async def test_a_truncated_file_is_set_aside_by_home_assistant_and_the_entry_goes_on(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hass_config_dir: str,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A file cut off mid-write is not JSON: HA's Store moves it aside (and raises its own
    repair), and our stores start afresh as for a new entry."""
    entry, keys = await run_and_stop(hass, enphase_cloud, sim_server, time_machine)
    folder = Path(hass_config_dir) / ".storage"
    folder.mkdir(exist_ok=True)
    for key in keys.values():
        text = json.dumps(hass_storage.pop(key))
        (folder / key).write_text(text[: len(text) // 2], encoding="utf-8")

    async def read_the_file(store: Store[Any]) -> Any:
        return await store._async_load_data()

    with patch.object(Store, "_async_load", read_the_file):
        await start_again(hass, entry)

    for key in keys.values():
        assert not (folder / key).exists()
        assert list(folder.glob(f"{key}.corrupt.*"))
    corruption = [
        issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == "homeassistant" and issue_id.startswith("storage_corruption_")
    ]
    assert len(corruption) == len(keys)
    # Home Assistant logs the parse failure itself, with its traceback; nothing of ours fails.
    assert_no_traceback(caplog, anywhere=False)
    await time_machine.advance(timedelta(hours=1))
    assert STATE_UNAVAILABLE not in shown(hass).values()
    assert STATE_UNKNOWN not in shown(hass).values()
