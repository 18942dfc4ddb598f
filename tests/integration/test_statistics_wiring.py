"""The integration as a whole writes hourly statistics equal to the simulator's truth.

Set up against the simulated cloud (both demo sites, free plan) with the recorder loaded, the
coordinator imports every poll's interval answers and fetches the past days the statistics
miss as history calls. After polls across a local midnight, every hour written equals what the
simulator measured in it, with no hour missing, and the running sums run on.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager

from custom_components.liveone_enphase.budget.model import Role
from custom_components.liveone_enphase.const import CONF_SYSTEM_IDS, DOMAIN
from custom_components.liveone_enphase.coordinator import LiveOneEnphaseCoordinator
from custom_components.liveone_enphase.history import Series
from custom_components.liveone_enphase.statistics import statistic_id
from sim.enphase import EnphaseCloud
from sim.server import SimServer

from .conftest import BATTERY_SITE, SOLAR_SITE, TimeMachine, setup_entry

pytestmark = pytest.mark.usefixtures("credentials")

HOUR = timedelta(hours=1)
TRUTH_FIELD = {
    Series.SOLAR_PRODUCTION: "solar_wh",
    Series.CONSUMPTION: "load_wh",
    Series.GRID_IMPORT: "import_wh",
    Series.GRID_EXPORT: "export_wh",
    Series.BATTERY_CHARGE: "charge_wh",
    Series.BATTERY_DISCHARGE: "discharge_wh",
}


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Prepare the recorder's database before `hass` exists (the integration conftest's
    autouse fixture asks for `hass` first, which `recorder_mock` would otherwise come after).
    """


async def hourly_rows(hass: HomeAssistant, system_id: int) -> dict[Series, list[dict[str, Any]]]:
    """Every hourly row of a system's statistics, oldest first."""
    await async_wait_recording_done(hass)
    ids = {statistic_id(system_id, series): series for series in Series}
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2000, 1, 1, tzinfo=UTC),
        None,
        set(ids),
        "hour",
        None,
        {"state", "sum"},
    )
    return {ids[key]: [dict(row) for row in rows] for key, rows in found.items()}


def hour_starts(rows: list[dict[str, Any]]) -> Iterator[datetime]:
    return (datetime.fromtimestamp(row["start"], UTC) for row in rows)


async def test_polls_across_midnight_write_the_truth_hour_by_hour(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    start = time_machine.now()
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    coordinator: LiveOneEnphaseCoordinator = entry.runtime_data.coordinator
    roles: list[Role] = []
    seen = None

    # Through the next local midnight (Melbourne) and on into the morning's polls.
    until = start + timedelta(hours=22)
    while time_machine.now() < until:
        await time_machine.advance(timedelta(minutes=15), step=timedelta(minutes=15))
        report = coordinator.last_report
        if report is not None and report is not seen:
            seen = report
            roles += [result.role for result in report.results]

    assert Role.HISTORY in roles  # past days were fetched for the statistics
    midnight = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 2026-01-16 00:00 in Melbourne
    for system_id in (BATTERY_SITE, SOLAR_SITE):
        rows = await hourly_rows(hass, system_id)
        solar = list(hour_starts(rows[Series.SOLAR_PRODUCTION]))
        assert solar[0] <= start - timedelta(days=7)  # a week backfilled before the install
        assert {Series.SOLAR_PRODUCTION, Series.CONSUMPTION, Series.GRID_IMPORT} <= set(rows)
        assert solar[0] < midnight < solar[-1]
        for series, series_rows in rows.items():
            previous = 0.0
            for hour, row in zip(hour_starts(series_rows), series_rows, strict=True):
                counters = enphase_cloud.truth.energy(system_id, hour, hour + HOUR)
                truth = getattr(counters, TRUTH_FIELD[series])
                assert row["state"] * 1000 == pytest.approx(truth, abs=1e-6), (series, hour)
                assert row["sum"] - previous == pytest.approx(row["state"], abs=1e-9)
                previous = row["sum"]
            hours = list(hour_starts(series_rows))
            assert hours == [hours[0] + n * HOUR for n in range(len(hours))], series


async def test_a_system_left_out_is_forgotten_and_removal_deletes_the_store(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    hass_storage: dict[str, Any],
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    await time_machine.advance(timedelta(minutes=5))
    key = f"{DOMAIN}.{entry.entry_id}.history"
    assert set(hass_storage[key]["data"]["systems"]) == {str(BATTERY_SITE), str(SOLAR_SITE)}

    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_SYSTEM_IDS: [BATTERY_SITE]}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert set(hass_storage[key]["data"]["systems"]) == {str(BATTERY_SITE)}
    # The statistics stay: they are the user's history.
    assert (await hourly_rows(hass, SOLAR_SITE))[Series.SOLAR_PRODUCTION]

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
