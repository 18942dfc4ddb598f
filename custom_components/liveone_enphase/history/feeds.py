"""What the interval endpoints deliver, read into per-feed interval lists and publication evidence.

A *series* is what Home Assistant gets a statistic for (solar production, consumption, grid
import and export, battery charge and discharge). A *feed* is one interval stream that fills a
series: solar has two (5-minute micro data and the 15-minute production meter); the battery
endpoint feeds two series at once.

Publication evidence: Enphase answers an interval that is not published yet either by leaving it
out or as a zero ("trailing zeros"), so a zero alone proves nothing. What proves that the data up
to an instant is published is a non-zero value at that instant or the `meta.last_energy_at` the
API sends for exactly this purpose. This rests on the cloud publishing a system's reports in
order, every channel of a report together (a value at 10:15 means everything up to 10:15 is in).
Should a report ever show up before an earlier one, an hour may be imported too low; it is
rewritten when the missing data is fetched, since a later answer always overwrites.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from ..enphase import (
    BatteryTelemetry,
    Endpoint,
    ExportTelemetry,
    ImportTelemetry,
    MeterTelemetry,
    MicroTelemetry,
    TelemetryWindow,
)
from .hours import to_epoch

type IntervalTelemetry = (
    MicroTelemetry | MeterTelemetry | BatteryTelemetry | ImportTelemetry | ExportTelemetry
)


class Series(StrEnum):
    """An hourly energy statistic of a system (the value is the statistic id's suffix)."""

    SOLAR_PRODUCTION = "solar_production"
    CONSUMPTION = "consumption"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"
    BATTERY_CHARGE = "battery_charge"
    BATTERY_DISCHARGE = "battery_discharge"


class Feed(StrEnum):
    """One interval stream of a system."""

    MICRO = "micro"
    PRODUCTION_METER = "production_meter"
    CONSUMPTION_METER = "consumption_meter"
    BATTERY_CHARGE = "battery_charge"
    BATTERY_DISCHARGE = "battery_discharge"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"

    @property
    def series(self) -> Series:
        """The statistic this feed fills."""
        return _FEED_SERIES[self]

    @property
    def step_s(self) -> int:
        """Interval length: 5 minutes for micro data, 15 for meters and batteries."""
        return 300 if self is Feed.MICRO else 900

    @property
    def silent_when_zero(self) -> bool:
        """Whether the feed leaves zero intervals out (micros send nothing while dark)."""
        return self is Feed.MICRO


_FEED_SERIES: Final = {
    Feed.MICRO: Series.SOLAR_PRODUCTION,
    Feed.PRODUCTION_METER: Series.SOLAR_PRODUCTION,
    Feed.CONSUMPTION_METER: Series.CONSUMPTION,
    Feed.BATTERY_CHARGE: Series.BATTERY_CHARGE,
    Feed.BATTERY_DISCHARGE: Series.BATTERY_DISCHARGE,
    Feed.GRID_IMPORT: Series.GRID_IMPORT,
    Feed.GRID_EXPORT: Series.GRID_EXPORT,
}

ENDPOINT_FEEDS: Final[dict[Endpoint, tuple[Feed, ...]]] = {
    Endpoint.PRODUCTION_MICRO: (Feed.MICRO,),
    Endpoint.PRODUCTION_METER: (Feed.PRODUCTION_METER,),
    Endpoint.CONSUMPTION_METER: (Feed.CONSUMPTION_METER,),
    Endpoint.BATTERY_TELEMETRY: (Feed.BATTERY_CHARGE, Feed.BATTERY_DISCHARGE),
    Endpoint.ENERGY_IMPORT_TELEMETRY: (Feed.GRID_IMPORT,),
    Endpoint.ENERGY_EXPORT_TELEMETRY: (Feed.GRID_EXPORT,),
}
"""The interval endpoints, and the feeds each one delivers."""

SERIES_FEEDS: Final[dict[Series, tuple[Feed, ...]]] = {
    series: tuple(feed for feed in Feed if feed.series is series) for series in Series
}
"""The feeds of each series, the preferred (finest) first."""

_TELEMETRY_TYPES: Final[dict[Endpoint, type[TelemetryWindow]]] = {
    Endpoint.PRODUCTION_MICRO: MicroTelemetry,
    Endpoint.PRODUCTION_METER: MeterTelemetry,
    Endpoint.CONSUMPTION_METER: MeterTelemetry,
    Endpoint.BATTERY_TELEMETRY: BatteryTelemetry,
    Endpoint.ENERGY_IMPORT_TELEMETRY: ImportTelemetry,
    Endpoint.ENERGY_EXPORT_TELEMETRY: ExportTelemetry,
}


@dataclass(frozen=True, slots=True)
class Fetched:
    """One interval telemetry answer, the endpoint that gave it, and when it was asked for."""

    endpoint: Endpoint
    telemetry: IntervalTelemetry
    fetched_at: datetime

    def __post_init__(self) -> None:
        """Refuse an answer filed under the wrong endpoint (it would land in the wrong series)."""
        expected = _TELEMETRY_TYPES.get(self.endpoint)
        if expected is None or not isinstance(self.telemetry, expected):
            raise ValueError(f"{type(self.telemetry).__name__} is not an answer of {self.endpoint}")


type Pairs = tuple[tuple[int, float | None], ...]


@dataclass(frozen=True, slots=True)
class FeedIntervals:
    """The intervals of one feed in one answer: (end epoch, Wh or None when not sent)."""

    feed: Feed
    intervals: Pairs


@dataclass(frozen=True, slots=True)
class Reading:
    """One answer, read: its window of interval ends (lo, hi], its intervals, its evidence.

    `evidence` is the newest instant up to which the answer itself proves the system's data
    published (its newest non-zero interval, or `meta.last_energy_at`). `operational_at` is when
    the system started reporting, if the answer says.
    """

    endpoint: Endpoint
    fetched_at: int
    lo: int | None
    hi: int | None
    feeds: tuple[FeedIntervals, ...]
    evidence: int | None
    operational_at: int | None


def read(fetched: Fetched) -> Reading:
    """Split an answer into its feeds and work out what it proves."""
    telemetry = fetched.telemetry
    feeds: list[FeedIntervals] = []
    marks: list[int] = []
    match telemetry:
        case BatteryTelemetry():
            charge: list[tuple[int, float | None]] = []
            discharge: list[tuple[int, float | None]] = []
            for battery in telemetry.intervals:
                end = to_epoch(battery.end_at)
                charge.append((end, battery.charge_wh))
                discharge.append((end, battery.discharge_wh))
                if _positive(battery.charge_wh, battery.discharge_wh, battery.soc_pct):
                    marks.append(end)
            feeds.append(FeedIntervals(Feed.BATTERY_CHARGE, tuple(charge)))
            feeds.append(FeedIntervals(Feed.BATTERY_DISCHARGE, tuple(discharge)))
        case _:
            pairs = tuple((to_epoch(i.end_at), i.energy_wh) for i in telemetry.intervals)
            marks.extend(end for end, wh in pairs if _positive(wh))
            (feed,) = ENDPOINT_FEEDS[fetched.endpoint]
            feeds.append(FeedIntervals(feed, pairs))
    meta = telemetry.meta
    if meta is not None and meta.last_energy_at is not None:
        marks.append(to_epoch(meta.last_energy_at))
    ends = [end for feed in feeds for end, _ in feed.intervals]
    lo = _optional_epoch(telemetry.start_at)
    if lo is None and ends:
        lo = min(ends) - feeds[0].feed.step_s
    hi = _optional_epoch(telemetry.end_at)
    if hi is None and ends:
        hi = max(ends)
    return Reading(
        endpoint=fetched.endpoint,
        fetched_at=to_epoch(fetched.fetched_at),
        lo=lo,
        hi=hi,
        feeds=tuple(feeds),
        evidence=max(marks, default=None),
        operational_at=None if meta is None else _optional_epoch(meta.operational_at),
    )


def _positive(*values: float | None) -> bool:
    return any(value is not None and value > 0 for value in values)


def _optional_epoch(moment: datetime | None) -> int | None:
    return None if moment is None else to_epoch(moment)


def endpoint_series(endpoints: Iterable[Endpoint]) -> dict[Endpoint, tuple[Series, ...]]:
    """Return the series each interval endpoint fills (other endpoints are left out)."""
    return {
        endpoint: tuple(feed.series for feed in ENDPOINT_FEEDS[endpoint])
        for endpoint in endpoints
        if endpoint in ENDPOINT_FEEDS
    }
