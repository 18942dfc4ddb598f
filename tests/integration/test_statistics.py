"""Hourly statistics in Home Assistant's recorder, filled from the simulated Enphase cloud.

The client talks HTTP to the simulator; `Importer` plays the coordinator's part as it will be
wired: after each poll it hands the interval answers to `EntryHistory.async_import`, and it
fetches what `EntryHistory.catch_up` lists. Every hour in the recorder is then compared with the
simulator's physical truth, to the Wh, and every running sum with the row before it.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager

from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.enphase import (
    Endpoint,
    EnphaseClient,
    Granularity,
    MeterInterval,
    MeterTelemetry,
)
from custom_components.liveone_enphase.history import (
    CatchUp,
    Fetched,
    HistoryTracker,
    IntervalTelemetry,
    Series,
)
from custom_components.liveone_enphase.statistics import (
    EntryHistory,
    ImportReport,
    SystemHistory,
    async_import_intervals,
    statistic_id,
    statistic_metadata,
)
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.enphase.truth import Counters
from sim.server import SimServer

HOUR = timedelta(hours=1)
ENDPOINTS = (
    Endpoint.PRODUCTION_MICRO,
    Endpoint.CONSUMPTION_METER,
    Endpoint.BATTERY_TELEMETRY,
    Endpoint.ENERGY_IMPORT_TELEMETRY,
    Endpoint.ENERGY_EXPORT_TELEMETRY,
)
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


def local(zone: str, day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall-clock time, in UTC."""
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone)).astimezone(UTC)


@dataclass
class Importer:
    """The coordinator's part: polls from per-endpoint cursors, imports, catches up."""

    hass: HomeAssistant
    cloud: EnphaseCloud
    client: EnphaseClient
    clock: ManualClock
    site: SiteConfig
    history: EntryHistory
    cursors: dict[Endpoint, datetime] = field(default_factory=dict)

    @property
    def system_id(self) -> int:
        return self.site.system_id

    async def fetch(self, endpoint: Endpoint, start_at: datetime) -> Fetched:
        calls: dict[Endpoint, Callable[..., Awaitable[IntervalTelemetry]]] = {
            Endpoint.PRODUCTION_MICRO: self.client.production_micro,
            Endpoint.CONSUMPTION_METER: self.client.consumption_meter,
            Endpoint.BATTERY_TELEMETRY: self.client.battery_telemetry,
            Endpoint.ENERGY_IMPORT_TELEMETRY: self.client.energy_import_telemetry,
            Endpoint.ENERGY_EXPORT_TELEMETRY: self.client.energy_export_telemetry,
        }
        answer = await calls[endpoint](
            self.system_id, start_at=start_at, granularity=Granularity.DAY
        )
        ends = [interval.end_at for interval in answer.intervals]
        cursor = self.cursors.get(endpoint, start_at)
        self.cursors[endpoint] = max([cursor, *ends])
        return Fetched(endpoint, answer, self.clock())

    async def import_(self, answers: list[Fetched]) -> ImportReport:
        return await self.history.async_import(
            self.system_id, self.site.name, self.site.timezone, answers
        )

    async def poll(self) -> ImportReport:
        """A regular poll: each endpoint from its cursor, never more than two days back."""
        now = self.clock()
        today = local(self.site.timezone, now.astimezone(ZoneInfo(self.site.timezone)).date())
        answers = []
        for endpoint in ENDPOINTS:
            start = max(self.cursors.get(endpoint, today), now - timedelta(days=2))
            answers.append(await self.fetch(endpoint, start))
        return await self.import_(answers)

    async def catch_up(self) -> tuple[list[CatchUp], ImportReport]:
        """Fetch what the history still misses, as one poll."""
        needs = self.history.catch_up(self.system_id, ENDPOINTS, self.clock())
        answers = [await self.fetch(need.endpoint, need.start_at) for need in needs]
        return needs, await self.import_(answers)

    async def run(self, until: datetime, every: timedelta = HOUR) -> None:
        """Poll and catch up regularly until `until`."""
        while self.clock() < until:
            await self.poll()
            await self.catch_up()
            self.clock.advance(every)


@pytest.fixture
async def http(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


type MakeImporter = Callable[[SiteConfig, datetime], Awaitable[Importer]]


@pytest.fixture
async def make_importer(
    hass: HomeAssistant, http: aiohttp.ClientSession
) -> AsyncIterator[MakeImporter]:
    """Build a simulated cloud for one site, serve it, and point an importer at it."""
    servers: list[SimServer] = []

    async def make(site: SiteConfig, start: datetime) -> Importer:
        clock = ManualClock(start)
        cloud = EnphaseCloud(
            clock=clock, sites=[site], plan=Plan.KILOWATT, access_ttl=timedelta(days=60)
        )
        server = SimServer(enphase=cloud, host="127.0.0.1")
        await server.start()
        servers.append(server)
        token = str(cloud.issue_tokens()["access_token"])

        async def token_provider() -> str:
            return token

        client = EnphaseClient(
            http, token_provider, cloud.api_key, base_url=server.enphase_url, clock=clock
        )
        importer = Importer(hass, cloud, client, clock, site, EntryHistory(hass, "entry-1"))
        await hass.config.async_update(time_zone=site.timezone)
        return importer

    yield make
    for server in servers:
        await server.stop()


async def stored_rows(hass: HomeAssistant, system_id: int) -> dict[Series, list[dict[str, Any]]]:
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


def truth_wh(cloud: EnphaseCloud, system_id: int, series: Series, start: datetime) -> int:
    counters: Counters = cloud.truth.energy(system_id, start, start + HOUR)
    value: int = getattr(counters, TRUTH_FIELD[series])
    return value


def assert_exact_and_continuous(
    cloud: EnphaseCloud,
    system_id: int,
    rows: dict[Series, list[dict[str, Any]]],
    first: datetime,
    through: datetime,
) -> None:
    """Every hour first..through is there, equals the truth to the Wh, and sums run on."""
    expected_hours = int((through - first) / HOUR) + 1
    for series in Series:
        series_rows = rows[series]
        starts = [datetime.fromtimestamp(row["start"], UTC) for row in series_rows]
        assert starts[0] == first, series
        assert starts[:expected_hours] == [first + n * HOUR for n in range(expected_hours)]
        previous = 0.0
        for start, row in zip(starts, series_rows, strict=True):
            truth = truth_wh(cloud, system_id, series, start)
            assert row["state"] * 1000 == pytest.approx(truth, abs=1e-6), (series, start)
            assert row["sum"] - previous == pytest.approx(row["state"], abs=1e-9), (series, start)
            previous = row["sum"]


# --- the main scenario ------------------------------------------------------------------------


async def test_outage_and_three_days_down_end_exact_to_the_wh(
    recorder_mock: Recorder, hass: HomeAssistant, make_importer: MakeImporter
) -> None:
    zone = "Australia/Melbourne"
    site = replace(SiteConfig.demo_battery(), operational_date=date(2026, 1, 13))
    first_day = date(2026, 1, 15)
    importer = await make_importer(site, local(zone, first_day, 0, 30))
    cloud = importer.cloud
    outage = (local(zone, first_day, 10), local(zone, first_day, 16))
    cloud.faults.take_offline(site.system_id, start=outage[0], until=outage[1])

    # the first poll starts the history; the system only began on the 13th: two days to catch up
    await importer.poll()
    needs, _ = await importer.catch_up()
    assert [need.start_at for need in needs if need.endpoint is Endpoint.CONSUMPTION_METER] == [
        local(zone, date(2026, 1, 13)),
        local(zone, date(2026, 1, 14)),
    ]
    tracker = importer.history.tracker(site.system_id)
    assert tracker is not None
    assert tracker.origin == local(zone, date(2026, 1, 13))

    # the gateway goes silent at 10:00 (so 09:45-10:00, due in the 10:00 report, is missing
    # too): nothing from 09:00 on is imported while it is offline
    await importer.run(until=local(zone, first_day, 14, 40))
    rows = await stored_rows(hass, site.system_id)
    for series in Series:
        last = datetime.fromtimestamp(rows[series][-1]["start"], UTC)
        assert last == outage[0] - 2 * HOUR, series
    # it reports its backlog late; the day goes on
    await importer.run(until=local(zone, first_day, 23, 59))
    rows = await stored_rows(hass, site.system_id)
    assert_exact_and_continuous(
        cloud, site.system_id, rows, local(zone, date(2026, 1, 13)), local(zone, first_day, 22)
    )

    # Home Assistant is down for three days, then polls (two days back at most) and catches up
    importer.clock.set(local(zone, date(2026, 1, 19), 6, 30))
    after_restart = await importer.poll()
    assert min(item.first for item in after_restart.imports) >= local(zone, date(2026, 1, 17), 6)
    needs, caught_up = await importer.catch_up()
    starts = [need.start_at for need in needs]
    assert starts == sorted(starts)
    # per endpoint: from the 15th's last hour a day's window, the next from the 16th's last
    # hour (covering the 17th up to the restart poll's window), then the rest of the 18th
    assert [need.start_at for need in needs if need.endpoint is Endpoint.BATTERY_TELEMETRY] == [
        local(zone, first_day, 23),
        local(zone, date(2026, 1, 16), 23),
        local(zone, date(2026, 1, 18), 6),
    ]
    # the gap is filled and every later hour rewritten with its new running sum
    for item in caught_up.imports:
        assert item.first <= local(zone, date(2026, 1, 16)), item
        assert item.rows > item.changed
    assert importer.history.catch_up(site.system_id, ENDPOINTS, importer.clock()) == []

    await importer.run(until=local(zone, date(2026, 1, 19), 12, 45))
    rows = await stored_rows(hass, site.system_id)
    assert_exact_and_continuous(
        cloud,
        site.system_id,
        rows,
        local(zone, date(2026, 1, 13)),
        local(zone, date(2026, 1, 19), 11),
    )


# --- DST days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "latitude", "longitude", "day", "hours"),
    [
        ("Australia/Melbourne", -37.81, 144.96, date(2026, 4, 5), 25),
        ("Australia/Melbourne", -37.81, 144.96, date(2026, 10, 4), 23),
        ("Europe/Berlin", 52.52, 13.40, date(2026, 3, 29), 23),
        ("Europe/Berlin", 52.52, 13.40, date(2026, 10, 25), 25),
    ],
)
async def test_a_dst_day_is_exact_hour_by_hour_and_as_a_day(  # noqa: PLR0917
    recorder_mock: Recorder,
    hass: HomeAssistant,
    make_importer: MakeImporter,
    zone: str,
    latitude: float,
    longitude: float,
    day: date,
    hours: int,
) -> None:
    site = replace(
        SiteConfig.demo_battery(),
        timezone=zone,
        latitude=latitude,
        longitude=longitude,
        operational_date=day - timedelta(days=1),
    )
    next_day = day + timedelta(days=1)
    importer = await make_importer(site, local(zone, next_day + timedelta(days=1), 7))
    cloud = importer.cloud
    await importer.poll()
    needs, _ = await importer.catch_up()
    assert {need.day for need in needs} == {day - timedelta(days=1), day, next_day}
    rows = await stored_rows(hass, site.system_id)
    first = local(zone, day - timedelta(days=1))
    assert_exact_and_continuous(cloud, site.system_id, rows, first, local(zone, next_day, 23))

    # Home Assistant, living in the same zone, adds the hours up into the right day
    start, end = local(zone, day), local(zone, next_day)
    assert (end - start) / HOUR == hours
    ids = {statistic_id(site.system_id, series): series for series in Series}
    daily = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, set(ids), "day", None, {"change"}
    )
    truth = cloud.truth.energy(site.system_id, start, end)
    for key, series in ids.items():
        (row,) = [row for row in daily[key] if row["start"] == start.timestamp()]
        assert row["end"] == end.timestamp()
        assert row["change"] is not None
        assert row["change"] * 1000 == pytest.approx(getattr(truth, TRUTH_FIELD[series]))


# --- late intervals and sums ------------------------------------------------------------------


async def test_a_late_interval_rewrites_its_hour_without_double_counting(
    recorder_mock: Recorder, hass: HomeAssistant, make_importer: MakeImporter
) -> None:
    zone = "Australia/Melbourne"
    site = replace(SiteConfig.demo_battery(), operational_date=date(2026, 1, 14))
    importer = await make_importer(site, local(zone, date(2026, 1, 15), 15))
    cloud = importer.cloud
    start = local(zone, date(2026, 1, 15))
    real = await importer.fetch(Endpoint.CONSUMPTION_METER, start)
    assert isinstance(real.telemetry, MeterTelemetry)
    # the 10:15-10:30 interval first arrives partial (a gateway that reported part of it)
    partial_end = local(zone, date(2026, 1, 15), 10, 30)
    partial = replace(
        real,
        telemetry=replace(
            real.telemetry,
            intervals=tuple(
                replace(i, energy_wh=(i.energy_wh or 0) / 4) if i.end_at == partial_end else i
                for i in real.telemetry.intervals
            ),
        ),
    )
    first = await importer.import_([partial])
    (written,) = first.imports
    assert written.series is Series.CONSUMPTION
    ten = local(zone, date(2026, 1, 15), 10)
    rows = (await stored_rows(hass, site.system_id))[Series.CONSUMPTION]
    by_start = {datetime.fromtimestamp(row["start"], UTC): row for row in rows}
    assert by_start[ten]["state"] * 1000 < truth_wh(cloud, site.system_id, Series.CONSUMPTION, ten)

    later = await importer.import_([replace(real, fetched_at=importer.clock())])
    (rewritten,) = later.imports
    assert (rewritten.first, rewritten.changed) == (ten, 1)
    assert rewritten.rows == len([s for s in by_start if s >= ten])
    rows = (await stored_rows(hass, site.system_id))[Series.CONSUMPTION]
    previous = 0.0
    for row in rows:
        hour = datetime.fromtimestamp(row["start"], UTC)
        assert row["state"] * 1000 == pytest.approx(
            truth_wh(cloud, site.system_id, Series.CONSUMPTION, hour)
        )
        assert row["sum"] - previous == pytest.approx(row["state"])
        previous = row["sum"]
    # nothing counted twice: the last sum is the day's energy so far
    total = cloud.truth.energy(site.system_id, start, max(by_start) + HOUR).load_wh
    assert previous * 1000 == pytest.approx(total)


def foreign_row(
    hass: HomeAssistant, system_id: int, series: Series, start: datetime, total: float
) -> None:
    """A row written by someone else (an earlier installation, a user's correction)."""
    async_add_external_statistics(
        hass,
        statistic_metadata(system_id, "Old name", series),
        [StatisticData(start=start, state=1.0, sum=total)],
    )


def meter_answer(start: datetime, wh: Iterable[float], at: datetime, system_id: int = 7) -> Fetched:
    """A consumption answer with one value per 15 minutes from `start`."""
    values = list(wh)
    intervals = tuple(
        MeterInterval(start + timedelta(minutes=15 * (n + 1)), 1, value)
        for n, value in enumerate(values)
    )
    return Fetched(
        Endpoint.CONSUMPTION_METER,
        MeterTelemetry(
            system_id=system_id,
            granularity="day",
            total_devices=1,
            start_at=start,
            end_at=start + timedelta(minutes=15 * len(values)),
            meta=None,
            intervals=intervals,
        ),
        at,
    )


T = datetime(2026, 1, 15, 0, tzinfo=UTC)


async def test_a_new_history_continues_after_rows_already_stored(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    foreign_row(hass, 7, Series.CONSUMPTION, T - 30 * HOUR, 100.0)
    foreign_row(hass, 7, Series.CONSUMPTION, T + HOUR, 250.0)
    await async_wait_recording_done(hass)
    history = EntryHistory(hass, "entry-2")
    answer = meter_answer(T, [1000.0] * 12, T + 4 * HOUR)
    report = await history.async_import(7, "Garage", None, [answer])
    tracker = history.tracker(7)
    assert tracker is not None
    assert tracker.origin == T + 2 * HOUR  # never rewrite what an earlier installation wrote
    (written,) = report.imports
    assert (written.first, written.rows, report.rows) == (T + 2 * HOUR, 1, 1)
    rows = (await stored_rows(hass, 7))[Series.CONSUMPTION]
    assert [(row["state"], row["sum"]) for row in rows[-2:]] == [(1.0, 250.0), (4.0, 254.0)]


async def test_rows_ahead_of_the_tracker_are_stepped_over_for_the_sum(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    foreign_row(hass, 7, Series.CONSUMPTION, T - HOUR, 50.0)
    foreign_row(hass, 7, Series.CONSUMPTION, T + 5 * HOUR, 60.0)
    await async_wait_recording_done(hass)
    system = SystemHistory(7, "Garage", HistoryTracker(None, T))
    await async_import_intervals(hass, system, [meter_answer(T, [500.0] * 4, T + HOUR)])
    rows = (await stored_rows(hass, 7))[Series.CONSUMPTION]
    by_start = {datetime.fromtimestamp(row["start"], UTC): row for row in rows}
    assert by_start[T]["sum"] == pytest.approx(52.0)
    assert by_start[T]["state"] == pytest.approx(2.0)


async def test_deleted_statistics_start_again_from_zero(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    system = SystemHistory(7, "Garage", HistoryTracker(None, T))
    await async_import_intervals(hass, system, [meter_answer(T, [100.0] * 8, T + 3 * HOUR)])
    await async_wait_recording_done(hass)
    recorder_mock.async_clear_statistics([statistic_id(7, Series.CONSUMPTION)])
    await async_wait_recording_done(hass)
    correction = meter_answer(T + HOUR, [300.0], T + 4 * HOUR)
    report = await async_import_intervals(hass, system, [correction])
    (written,) = report.imports
    assert written.first == T + HOUR
    rows = (await stored_rows(hass, 7))[Series.CONSUMPTION]
    assert [(row["state"], row["sum"]) for row in rows] == [(0.6, pytest.approx(0.6))]


async def test_metadata_names_the_system_and_the_series(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    metadata = statistic_metadata(4201001, "Demo Battery Home", Series.GRID_IMPORT)
    assert metadata["statistic_id"] == "liveone_enphase:4201001_grid_import"
    assert metadata["name"] == "Demo Battery Home grid import"
    assert metadata["source"] == DOMAIN
    assert metadata["unit_of_measurement"] == "kWh"
    assert metadata["unit_class"] == "energy"
    assert metadata["has_sum"]
    system = SystemHistory(7, "Garage", HistoryTracker(None, T))
    empty = await async_import_intervals(hass, system, [])
    assert (empty.imports, empty.rows) == ((), 0)
    stray = meter_answer(T, [1.0] * 4, T + HOUR)
    other = SystemHistory(8, "Shed", HistoryTracker(None, T))
    with pytest.raises(ValueError, match=r"systems \[7\] given for 8"):
        await async_import_intervals(hass, other, [stray])
    assert other.tracker.pending() == ()


async def test_the_trackers_are_saved_and_restored(
    recorder_mock: Recorder, hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    history = EntryHistory(hass, "entry-3")
    key = f"{DOMAIN}.entry-3.history"
    assert await history.async_import(7, "Garage", "Europe/Berlin", []) == ImportReport(7, ())
    assert history.tracker(7) is None
    assert key not in hass_storage
    assert history.catch_up(7, [Endpoint.CONSUMPTION_METER], T) == []
    await history.async_import(7, "Garage", "Europe/Berlin", [meter_answer(T, [1.0] * 4, T + HOUR)])
    await history.async_import(8, "Shed", None, [meter_answer(T, [2.0] * 4, T + HOUR, 8)])
    assert set(hass_storage[key]["data"]["systems"]) == {"7", "8"}

    restored = EntryHistory(hass, "entry-3")
    await restored.async_load()
    saved, again = history.tracker(7), restored.tracker(7)
    assert saved is not None
    assert again is not None
    assert again.to_dict() == saved.to_dict()
    later = T + 30 * HOUR
    assert restored.catch_up(7, [Endpoint.CONSUMPTION_METER], later) == saved.catch_up(
        later, [Endpoint.CONSUMPTION_METER]
    )
    assert restored.catch_up(7, [Endpoint.CONSUMPTION_METER], later)

    await restored.async_forget(8)
    await restored.async_forget(9)
    assert restored.tracker(8) is None
    assert set(hass_storage[key]["data"]["systems"]) == {"7"}
    await restored.async_remove()
    assert key not in hass_storage

    empty = EntryHistory(hass, "entry-4")
    await empty.async_load()
    assert empty.tracker(7) is None
