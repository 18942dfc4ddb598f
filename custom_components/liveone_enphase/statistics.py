"""Hourly long-term statistics from Enphase's interval data: the Home Assistant side of `history`.

With some 30 calls a day the sensors change every half hour or hour, so Home Assistant's own
hourly statistics of them put energy into whichever hour a poll landed in, and what happened
while HA was down into one lump. This module writes each hour as Enphase measured it instead:
six external statistics per system, `liveone_enphase:<system_id>_<series>` (solar production,
consumption, grid import, grid export, battery charge, battery discharge), in kWh with a
running sum, named "<system name> solar production" and so on for the Energy dashboard.

After each poll the coordinator hands the interval answers it got to `EntryHistory.async_import`
(`async_import_intervals` does the work for one system). Only complete hours are written (see
`history.tracker`). When an hour changes (a late interval, a day caught up after an outage) it
is rewritten together with every later hour, because their sums move with it; Home Assistant
replaces a row with the same start, so nothing is counted twice. The sum continues from the
newest row stored before the first rewritten hour, read back from the recorder once it has
committed what was queued before, so two imports in a row never build on a stale sum.

Each entry keeps its trackers in a store of its own (`<domain>.<entry_id>.history`), written
after every import once the recorder has committed it: a crash can only make an import happen
twice (harmless, rows are replaced), never make the tracker believe in rows that are not there.
The statistics stay when the entry is removed: they are the user's history.
"""

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util.unit_conversion import EnergyConverter

from .const import DOMAIN
from .enphase import Endpoint
from .enphase.readers import zone_or_utc
from .history import LOOKBACK_DAYS, CatchUp, Fetched, HistoryTracker, Series, SeriesRewrite
from .store import async_load_stored
from .stored import Record, entries, key_integer

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
_WH_PER_KWH: Final = 1000.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

SERIES_LABELS: Final[Mapping[Series, str]] = {
    Series.SOLAR_PRODUCTION: "solar production",
    Series.CONSUMPTION: "consumption",
    Series.GRID_IMPORT: "grid import",
    Series.GRID_EXPORT: "grid export",
    Series.BATTERY_CHARGE: "battery charge",
    Series.BATTERY_DISCHARGE: "battery discharge",
}


def statistic_id(system_id: int, series: Series) -> str:
    """Return the external statistic id of one series of one system."""
    return f"{DOMAIN}:{system_id}_{series.value}"


def statistic_metadata(system_id: int, system_name: str, series: Series) -> StatisticMetaData:
    """Describe one statistic: an energy total in kWh, summed, no mean."""
    return StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=f"{system_name} {SERIES_LABELS[series]}",
        source=DOMAIN,
        statistic_id=statistic_id(system_id, series),
        unit_class=EnergyConverter.UNIT_CLASS,
        unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    )


@dataclass(slots=True)
class SystemHistory:
    """One system as the importer needs it: its id and name, and its tracker."""

    system_id: int
    name: str
    tracker: HistoryTracker


@dataclass(frozen=True, slots=True)
class SeriesImport:
    """What one import wrote for one series: hours `first`..`last`, `changed` of them new."""

    series: Series
    statistic_id: str
    first: datetime
    last: datetime
    rows: int
    changed: int


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import wrote for one system."""

    system_id: int
    imports: tuple[SeriesImport, ...]

    @property
    def rows(self) -> int:
        """How many rows were written in all."""
        return sum(item.rows for item in self.imports)


async def async_import_intervals(
    hass: HomeAssistant, system: SystemHistory, fetched: Iterable[Fetched]
) -> ImportReport:
    """Take a poll's interval answers and write every hour that became complete or changed."""
    answers = list(fetched)
    strays = {item.telemetry.system_id for item in answers} - {system.system_id}
    if strays:
        raise ValueError(f"answers of systems {sorted(strays)} given for {system.system_id}")
    tracker = system.tracker
    tracker.ingest(answers)
    rewrites = tracker.pending()
    if not rewrites:
        return ImportReport(system.system_id, ())
    await get_instance(hass).async_block_till_done()
    imports = []
    for rewrite in rewrites:
        imports.append(await _async_write(hass, system, rewrite))
        tracker.mark_imported(rewrite)
    return ImportReport(system.system_id, tuple(imports))


async def _async_write(
    hass: HomeAssistant, system: SystemHistory, rewrite: SeriesRewrite
) -> SeriesImport:
    """Queue one series' rows, their sum continuing from the row stored before them."""
    metadata = statistic_metadata(system.system_id, system.name, rewrite.series)
    target = metadata["statistic_id"]
    base = await _async_sum_before(hass, target, rewrite.first, rewrite.previous)
    rows = rewrite.rows(base * _WH_PER_KWH)
    async_add_external_statistics(
        hass,
        metadata,
        [
            StatisticData(
                start=row.start, state=row.wh / _WH_PER_KWH, sum=row.total_wh / _WH_PER_KWH
            )
            for row in rows
        ],
    )
    _LOGGER.debug(
        "%s: wrote %s hours from %s (%s changed)",
        target,
        len(rows),
        rewrite.first.isoformat(),
        len(rewrite.changed),
    )
    return SeriesImport(
        series=rewrite.series,
        statistic_id=target,
        first=rewrite.first,
        last=rows[-1].start,
        rows=len(rows),
        changed=len(rewrite.changed),
    )


async def _async_sum_before(
    hass: HomeAssistant, target: str, first: datetime, previous: datetime | None
) -> float:
    """Return the running sum (kWh) of the newest row stored before `first` (0: none).

    `previous` (the hour imported last before `first`) is where that row normally is. If it is
    gone, or nothing was imported before, the newest row of all serves when it is older than
    `first`; otherwise rows this tracker never wrote lie ahead, and the newest row before
    `first` is searched for.
    """
    recorder = get_instance(hass)
    if previous is not None:
        rows = await recorder.async_add_executor_job(_rows_between, hass, target, previous, first)
        if rows:
            return _sum_of(rows[-1])
    last = await recorder.async_add_executor_job(
        get_last_statistics, hass, 1, target, False, {"sum"}
    )
    newest = last.get(target)
    if not newest:
        return 0.0
    if newest[0]["start"] < first.timestamp():
        return _sum_of(newest[0])
    rows = await recorder.async_add_executor_job(_rows_between, hass, target, _EPOCH, first)
    return _sum_of(rows[-1]) if rows else 0.0


def _rows_between(
    hass: HomeAssistant, target: str, start: datetime, end: datetime
) -> Sequence[Mapping[str, Any]]:
    """Read the hourly sums of one statistic in [start, end) (recorder executor)."""
    found = statistics_during_period(hass, start, end, {target}, "hour", None, {"sum"})
    return found.get(target, [])


def _sum_of(row: Mapping[str, Any]) -> float:
    return float(row.get("sum") or 0.0)


async def async_new_tracker(
    hass: HomeAssistant, system_id: int, timezone: str | None, now: datetime
) -> HistoryTracker:
    """Start a system's history `LOOKBACK_DAYS` local days back, after any row already stored.

    Rows from an earlier installation are kept and continued from, never rewritten.
    """
    zone = zone_or_utc(timezone)
    today = now.astimezone(zone).date()
    origin = datetime.combine(today - timedelta(days=LOOKBACK_DAYS), time(), zone)
    recorder = get_instance(hass)
    for series in Series:
        target = statistic_id(system_id, series)
        last = await recorder.async_add_executor_job(
            get_last_statistics, hass, 1, target, False, {"sum"}
        )
        if newest := last.get(target):
            stored = datetime.fromtimestamp(newest[0]["start"], UTC) + timedelta(hours=1)
            origin = max(origin, stored)
    return HistoryTracker(timezone, origin)


def _trackers(data: object) -> dict[int, HistoryTracker]:
    """Read what `EntryHistory` saved (`StoredDataError` for anything else)."""
    return Record(data, "history").get("systems", entries(key_integer, HistoryTracker.from_dict))


class EntryHistory:
    """The statistics importer of one config entry: a tracker per system, kept in a store.

    Imports are serialised: each one reads the sums the one before it wrote.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.history"
        )
        self._trackers: dict[int, HistoryTracker] = {}
        self._lock = asyncio.Lock()

    async def async_load(self) -> None:
        """Restore the trackers saved before a restart (none if they cannot be read).

        Without them each system's history starts again after its newest stored row, as for
        a new entry: rows already written stay.
        """
        trackers = await async_load_stored(
            self._store, _trackers, "the statistics continue after the newest stored hour"
        )
        self._trackers = trackers or {}

    @property
    def system_ids(self) -> frozenset[int]:
        """The systems that have a history."""
        return frozenset(self._trackers)

    def tracker(self, system_id: int) -> HistoryTracker | None:
        """Return a system's tracker (None before its first import)."""
        return self._trackers.get(system_id)

    async def async_import(
        self, system_id: int, name: str, timezone: str | None, fetched: Sequence[Fetched]
    ) -> ImportReport:
        """Import one system's interval answers of a poll; the first import starts its history."""
        if not fetched:
            return ImportReport(system_id, ())
        async with self._lock:
            tracker = self._trackers.get(system_id)
            if tracker is None:
                now = max(item.fetched_at for item in fetched)
                tracker = await async_new_tracker(self.hass, system_id, timezone, now)
                self._trackers[system_id] = tracker
            tracker.timezone = timezone
            report = await async_import_intervals(
                self.hass, SystemHistory(system_id, name, tracker), fetched
            )
            if report.imports:
                await get_instance(self.hass).async_block_till_done()
            await self._async_save()
            return report

    def catch_up(
        self, system_id: int, endpoints: Iterable[Endpoint], now: datetime
    ) -> list[CatchUp]:
        """List a system's past days still missing hours, oldest first (see `HistoryTracker`)."""
        tracker = self._trackers.get(system_id)
        return [] if tracker is None else tracker.catch_up(now, endpoints)

    async def async_forget(self, system_id: int) -> None:
        """Drop a system that left the entry (its statistics stay)."""
        if self._trackers.pop(system_id, None) is not None:
            await self._async_save()

    async def async_remove(self) -> None:
        """Delete the store when the entry is removed."""
        await self._store.async_remove()

    async def _async_save(self) -> None:
        await self._store.async_save(
            {
                "systems": {
                    str(system_id): tracker.to_dict()
                    for system_id, tracker in sorted(self._trackers.items())
                }
            }
        )
