"""Which of a system's readings LiveOne has not been sent yet, as LiveOne readings.

The coordinator keeps, per system, the latest power of each flow, the state of charge (and its
recent history), the lifetime counters and the last days of interval energies (see
`readings.state`). After each update, `PushCursor.new_readings` returns what is newer than what
was already queued, per point:
- powers, at the instant each was measured (Home Assistant signs in, LiveOne signs out);
- the state of charge, at each interval end the battery reported and its latest value;
- interval energies, each at the end of its interval;
- lifetime counters (cumulative), once their lifetime endpoint has answered, so the first value
  sent is the real total and not a sum of the intervals seen so far; a counter has no time of
  its own, so it is sent at the instant of the poll that brought its new value.

The cursor holds, per system and point, the newest time queued (and, for counters, the value),
so a reading is queued once, whatever the restarts. Nothing is invented: a value the readings do
not hold is not sent. Pure: no Home Assistant import.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .liveone import (
    EnergyInterval,
    EnergyTotals,
    PowerSample,
    Reading,
    interval_readings,
    power_readings,
    total_readings,
)
from .liveone.points import (
    BATTERY_IN_KWH_TOTAL,
    BATTERY_IN_WH_INTERVAL,
    BATTERY_OUT_KWH_TOTAL,
    BATTERY_OUT_WH_INTERVAL,
    BATTERY_SOC,
    BATTERY_W,
    GRID_IN_KWH_TOTAL,
    GRID_IN_WH_INTERVAL,
    GRID_OUT_KWH_TOTAL,
    GRID_OUT_WH_INTERVAL,
    GRID_W,
    LOAD_KWH_TOTAL,
    LOAD_W,
    LOAD_WH_INTERVAL,
    SOLAR_KWH_TOTAL,
    SOLAR_W,
    SOLAR_WH_INTERVAL,
    Point,
    wh_to_kwh,
)
from .readings.energy import Stream
from .readings.state import Quantity, SystemReadings
from .stored import Record, entries, epoch_time, key_integer, number, text

# The point of each power the readings hold.
_POWER_POINTS: Final[Mapping[Quantity, Point]] = {
    Quantity.SOLAR: SOLAR_W,
    Quantity.CONSUMPTION: LOAD_W,
    Quantity.BATTERY: BATTERY_W,
    Quantity.GRID: GRID_W,
}


@dataclass(frozen=True, slots=True)
class _StreamPoints:
    """A stream's interval point, its counter point, and the field both are built from."""

    interval: Point
    total: Point
    field: str


_STREAM_POINTS: Final[Mapping[Stream, _StreamPoints]] = {
    Stream.PRODUCTION: _StreamPoints(SOLAR_WH_INTERVAL, SOLAR_KWH_TOTAL, "solar_wh"),
    Stream.CONSUMPTION: _StreamPoints(LOAD_WH_INTERVAL, LOAD_KWH_TOTAL, "load_wh"),
    Stream.BATTERY_CHARGE: _StreamPoints(
        BATTERY_IN_WH_INTERVAL, BATTERY_IN_KWH_TOTAL, "battery_in_wh"
    ),
    Stream.BATTERY_DISCHARGE: _StreamPoints(
        BATTERY_OUT_WH_INTERVAL, BATTERY_OUT_KWH_TOTAL, "battery_out_wh"
    ),
    Stream.GRID_IMPORT: _StreamPoints(GRID_IN_WH_INTERVAL, GRID_IN_KWH_TOTAL, "grid_in_wh"),
    Stream.GRID_EXPORT: _StreamPoints(GRID_OUT_WH_INTERVAL, GRID_OUT_KWH_TOTAL, "grid_out_wh"),
}


@dataclass(slots=True)
class SystemCursor:
    """What was queued for one system: the newest time per point, and each counter's value."""

    times: dict[str, datetime] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)

    def is_new(self, key: str, measured_at: datetime) -> bool:
        """Whether a reading of `key` at `measured_at` is newer than anything queued."""
        newest = self.times.get(key)
        return newest is None or measured_at > newest

    def advance(self, readings: Iterable[Reading]) -> None:
        """Note readings as queued."""
        for reading in readings:
            key = reading.point.key
            if self.is_new(key, reading.measured_at):
                self.times[key] = reading.measured_at
                if reading.point.cumulative and isinstance(reading.value, int | float):
                    self.totals[key] = float(reading.value)


class PushCursor:
    """What was queued for LiveOne, per system; persisted with the outbox."""

    def __init__(self, systems: dict[int, SystemCursor] | None = None) -> None:
        self.systems: dict[int, SystemCursor] = systems or {}

    def system(self, system_id: int) -> SystemCursor:
        """Return one system's cursor (created on first use)."""
        return self.systems.setdefault(system_id, SystemCursor())

    def keep_only(self, system_ids: Iterable[int]) -> None:
        """Forget the systems that left the entry."""
        wanted = set(system_ids)
        self.systems = {sid: cursor for sid, cursor in self.systems.items() if sid in wanted}

    def new_readings(
        self, readings: SystemReadings, *, polled_at: datetime | None
    ) -> list[Reading]:
        """Return the system's readings not queued yet (the cursor is not moved).

        `polled_at` is when the poll that last changed the readings ran (None: no poll since
        the start, so counters wait for the next one).
        """
        cursor = self.system(readings.system_id)
        found = _powers(readings, cursor) + _intervals(readings, cursor)
        if polled_at is not None:
            found += _totals(readings, cursor, polled_at)
        return found

    def to_dict(self) -> dict[str, Any]:
        """Serialise (JSON types only; times as epoch seconds)."""
        return {
            str(system_id): {
                "times": {key: at.timestamp() for key, at in sorted(cursor.times.items())},
                "totals": dict(sorted(cursor.totals.items())),
            }
            for system_id, cursor in sorted(self.systems.items())
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "pushed") -> PushCursor:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        return cls(entries(key_integer, _system_cursor)(data, path))


def _system_cursor(data: object, path: str) -> SystemCursor:
    obj = Record(data, path)
    return SystemCursor(
        times=obj.get("times", entries(text, epoch_time)),
        totals=obj.get("totals", entries(text, number)),
    )


def _powers(readings: SystemReadings, cursor: SystemCursor) -> list[Reading]:
    """Powers and states of charge newer than the cursor, one sample per instant."""
    samples: dict[datetime, dict[str, float]] = defaultdict(dict)
    for quantity, point in _POWER_POINTS.items():
        power = readings.power.get(quantity)
        if power is not None and cursor.is_new(point.key, power.measured_at):
            samples[power.measured_at][point.key] = power.watts
    soc_series = {
        datetime.fromtimestamp(epoch, UTC): percent
        for epoch, percent in readings.soc_history.items()
    }
    if readings.soc is not None:
        soc_series[readings.soc.measured_at] = readings.soc.percent
    for measured_at, percent in soc_series.items():
        if cursor.is_new(BATTERY_SOC.key, measured_at):
            samples[measured_at][BATTERY_SOC.key] = percent
    found: list[Reading] = []
    for measured_at, values in sorted(samples.items()):
        sample = PowerSample(
            measured_at,
            solar_w=values.get(SOLAR_W.key),
            load_w=values.get(LOAD_W.key),
            battery_w=values.get(BATTERY_W.key),
            grid_w=values.get(GRID_W.key),
            battery_soc_pct=values.get(BATTERY_SOC.key),
        )
        found += power_readings(sample)
    return found


def _intervals(readings: SystemReadings, cursor: SystemCursor) -> list[Reading]:
    """Interval energies that ended after the newest one queued, per stream."""
    ends: dict[datetime, dict[str, float]] = defaultdict(dict)
    for stream, points in _STREAM_POINTS.items():
        for interval in readings.intervals(stream):
            if cursor.is_new(points.interval.key, interval.end):
                ends[interval.end][points.field] = interval.wh
    found: list[Reading] = []
    for end, values in sorted(ends.items()):
        found += interval_readings(EnergyInterval(end, **_energies(values)))
    return found


def _totals(readings: SystemReadings, cursor: SystemCursor, polled_at: datetime) -> list[Reading]:
    """Lifetime counters known to be real totals whose value changed since the last one queued."""
    values: dict[str, float] = {}
    for stream, points in _STREAM_POINTS.items():
        if not readings.total_known(stream):
            continue
        wh = readings.energy_wh(stream)
        key = points.total.key
        if cursor.is_new(key, polled_at) and cursor.totals.get(key) != wh_to_kwh(wh):
            values[points.field] = wh
    return total_readings(EnergyTotals(polled_at, **_energies(values))) if values else []


def _energies(values: Mapping[str, float]) -> dict[str, float | None]:
    """Every stream field of an interval or a totals sample (None: not measured)."""
    return {points.field: values.get(points.field) for points in _STREAM_POINTS.values()}
