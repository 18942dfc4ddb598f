"""Builders for interval answers, a small cloud that publishes slot data, and a statistics table.

`SlotCloud` answers like Enphase: intervals ending in (start, end] of a window, published ones
with their value; unpublished ones left out, or sent as zeros ("trailing zeros") when asked to.
`StatisticsTable` applies rewrites the way Home Assistant's recorder does (a row with the same
start is replaced) and continues each rewrite's sum from the newest row before it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from custom_components.liveone_enphase.enphase import (
    BatteryInterval,
    BatteryTelemetry,
    Endpoint,
    ExportInterval,
    ExportTelemetry,
    ImportInterval,
    ImportTelemetry,
    MeterInterval,
    MeterTelemetry,
    MicroInterval,
    MicroTelemetry,
    SystemMeta,
)
from custom_components.liveone_enphase.history import (
    Feed,
    Fetched,
    HistoryTracker,
    IntervalTelemetry,
    Series,
)
from custom_components.liveone_enphase.history.hours import to_epoch, to_moment

type Values = Mapping[int, float | None]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def meta(last_energy_at: int | None, operational_at: int | None = None) -> SystemMeta:
    """A `meta` block."""
    return SystemMeta(
        status="normal",
        last_report_at=None if last_energy_at is None else to_moment(last_energy_at + 120),
        last_energy_at=None if last_energy_at is None else to_moment(last_energy_at),
        operational_at=None if operational_at is None else to_moment(operational_at),
    )


class Window(TypedDict):
    """The fields every interval answer shares."""

    system_id: int
    granularity: str | None
    total_devices: int | None
    start_at: datetime | None
    end_at: datetime | None
    meta: SystemMeta | None


def _window(start: int | None, end: int | None, system_meta: SystemMeta | None) -> Window:
    return {
        "system_id": 1,
        "granularity": "day",
        "total_devices": 1,
        "start_at": None if start is None else to_moment(start),
        "end_at": None if end is None else to_moment(end),
        "meta": system_meta,
    }


def telemetry(
    endpoint: Endpoint,
    start: int | None,
    end: int | None,
    values: Values,
    *,
    discharge: Values | None = None,
    soc: Mapping[int, float] | None = None,
    system_meta: SystemMeta | None = None,
) -> IntervalTelemetry:
    """Build the answer of an interval endpoint from {end epoch: Wh} (battery: charge)."""
    window = _window(start, end, system_meta)
    ends = sorted(values)
    match endpoint:
        case Endpoint.PRODUCTION_MICRO:
            micro = tuple(MicroInterval(to_moment(e), 1, None, values[e]) for e in ends)
            return MicroTelemetry(**window, intervals=micro)
        case Endpoint.PRODUCTION_METER | Endpoint.CONSUMPTION_METER:
            meters = tuple(MeterInterval(to_moment(e), 1, values[e]) for e in ends)
            return MeterTelemetry(**window, intervals=meters)
        case Endpoint.BATTERY_TELEMETRY:
            out = discharge or {}
            levels = soc or {}
            batteries = tuple(
                BatteryInterval(to_moment(e), values[e], out.get(e), levels.get(e)) for e in ends
            )
            return BatteryTelemetry(
                **window, intervals=batteries, last_reported_aggregate_soc_pct=None
            )
        case Endpoint.ENERGY_IMPORT_TELEMETRY:
            imported = tuple(ImportInterval(to_moment(e), values[e]) for e in ends)
            return ImportTelemetry(**window, intervals=imported)
        case Endpoint.ENERGY_EXPORT_TELEMETRY:
            exported = tuple(ExportInterval(to_moment(e), values[e]) for e in ends)
            return ExportTelemetry(**window, intervals=exported)
    raise ValueError(endpoint)


def fetched(
    endpoint: Endpoint,
    start: int | None,
    end: int | None,
    values: Values,
    at: int,
    *,
    discharge: Values | None = None,
    soc: Mapping[int, float] | None = None,
    system_meta: SystemMeta | None = None,
) -> Fetched:
    """An answer as the coordinator hands it over."""
    answer = telemetry(
        endpoint, start, end, values, discharge=discharge, soc=soc, system_meta=system_meta
    )
    return Fetched(endpoint, answer, to_moment(at))


FEED_ENDPOINTS: Mapping[Feed, Endpoint] = {
    Feed.MICRO: Endpoint.PRODUCTION_MICRO,
    Feed.PRODUCTION_METER: Endpoint.PRODUCTION_METER,
    Feed.CONSUMPTION_METER: Endpoint.CONSUMPTION_METER,
    Feed.GRID_IMPORT: Endpoint.ENERGY_IMPORT_TELEMETRY,
    Feed.GRID_EXPORT: Endpoint.ENERGY_EXPORT_TELEMETRY,
}


@dataclass
class SlotCloud:
    """True interval values per feed (battery: charge and discharge), published up to an instant.

    `publish_at` (per feed and slot end) lets a test publish out of order; without it a slot is
    public once its end is at or before `published`.
    """

    truth: dict[Feed, dict[int, float]]
    published: int = 0
    trailing_zeros: bool = False
    send_meta: bool = True
    publish_at: dict[tuple[Feed, int], int] = field(default_factory=dict)

    def public(self, feed: Feed, end: int, at: int) -> bool:
        """Whether a slot is visible at `at`."""
        when = self.publish_at.get((feed, end))
        return end <= self.published if when is None else when <= at

    def answer(self, endpoint: Endpoint, start: int, at: int, span: int = 86_400) -> Fetched:
        """Answer a window (start, min(start + span, at)] the way Enphase would."""
        end = min(start + span, at)
        if endpoint is Endpoint.BATTERY_TELEMETRY:
            charge = self._values(Feed.BATTERY_CHARGE, start, end, at)
            discharge = self._values(Feed.BATTERY_DISCHARGE, start, end, at)
            levels = {e: 50.0 for e in charge if self.public(Feed.BATTERY_CHARGE, e, at)}
            return fetched(endpoint, start, end, charge, at, discharge=discharge, soc=levels)
        (feed,) = (f for f, e in FEED_ENDPOINTS.items() if e is endpoint)
        values = self._values(feed, start, end, at)
        if feed is Feed.MICRO:
            values = {e: wh for e, wh in values.items() if wh}
        system_meta = (
            meta(self.published) if self.send_meta and feed is not Feed.PRODUCTION_METER else None
        )
        return fetched(endpoint, start, end, values, at, system_meta=system_meta)

    def _values(self, feed: Feed, start: int, end: int, at: int) -> dict[int, float | None]:
        values: dict[int, float | None] = {}
        for slot, wh in sorted(self.truth.get(feed, {}).items()):
            if not start < slot <= end:
                continue
            if self.public(feed, slot, at):
                values[slot] = wh
            elif self.trailing_zeros:
                values[slot] = 0.0
        return values

    def hour_wh(self, feed: Feed, hour: int) -> float:
        """True energy of one UTC hour."""
        return sum(wh for end, wh in self.truth.get(feed, {}).items() if hour < end <= hour + 3600)


@dataclass
class StatisticsTable:
    """Rows per series as the recorder keeps them: {hour epoch: (Wh, running sum)}."""

    rows: dict[Series, dict[int, tuple[float, float]]] = field(default_factory=dict)

    def apply(self, tracker: HistoryTracker) -> dict[Series, list[int]]:
        """Write what the tracker says is pending; return the hours written per series."""
        written: dict[Series, list[int]] = {}
        for rewrite in tracker.pending():
            table = self.rows.setdefault(rewrite.series, {})
            first = to_epoch(rewrite.first)
            before = [hour for hour in table if hour < first]
            base = table[max(before)][1] if before else 0.0
            for row in rewrite.rows(base):
                table[to_epoch(row.start)] = (row.wh, row.total_wh)
            written[rewrite.series] = [to_epoch(start) for start, _ in rewrite.hours]
            tracker.mark_imported(rewrite)
        return written

    def hours(self, series: Series) -> dict[int, float]:
        """The energy per hour written for a series."""
        return {hour: wh for hour, (wh, _) in sorted(self.rows.get(series, {}).items())}

    def assert_continuous(self) -> None:
        """Every row's sum is the previous row's sum plus its energy, and never goes down."""
        for series, table in self.rows.items():
            previous = 0.0
            for hour in sorted(table):
                wh, total = table[hour]
                assert wh >= 0, (series, hour)
                assert abs(total - (previous + wh)) < 1e-6, (series, to_moment(hour))
                previous = total


def slot_ends(start: int, end: int, step: int) -> Iterable[int]:
    """Interval ends in (start, end] on a step grid."""
    return range(start + step, end + 1, step)


def hours_between(start: datetime, end: datetime) -> list[int]:
    """UTC hour starts in [start, end)."""
    hour = timedelta(hours=1)
    found = []
    while start < end:
        found.append(to_epoch(start))
        start += hour
    return found
