"""Energy bookkeeping: interval series and lifetime counters that never go backwards.

A counter is the sum of daily totals. Each day's total is the larger of what the lifetime
endpoint said for it and what its intervals add up to, so a day only ever grows as data arrives
(a late day simply grows later). Trailing zeros of a lifetime series mean "not reported yet" and
are never booked. Days older than `FOLD_DAYS` are folded into a base and no longer revised. On
top of that the counter keeps a high-water mark: what it once showed, it never undercuts.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Final, Self

from ..stored import (
    Record,
    StoredDataError,
    each,
    entries,
    epoch,
    iso_date,
    member,
    non_negative,
    number,
)

FOLD_DAYS: Final = 10
RETENTION: Final = timedelta(days=8)
_PRUNE_SLACK_S: Final = 86_400
_MAX_LENGTH_S: Final = 86_400


class Stream(StrEnum):
    """The energy flows of a site (each has a lifetime counter, in Wh)."""

    PRODUCTION = "production"
    CONSUMPTION = "consumption"
    BATTERY_CHARGE = "battery_charge"
    BATTERY_DISCHARGE = "battery_discharge"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"


class Source(StrEnum):
    """Where a stream's intervals came from (a stream may have several, never double-counted)."""

    MICRO = "micro"
    METER = "meter"
    BATTERY = "battery"
    GRID = "grid"
    DERIVED = "derived"


@dataclass(frozen=True, slots=True)
class Interval:
    """Energy over one interval that ends at `end`."""

    end: datetime
    length: timedelta
    wh: float

    @property
    def start(self) -> datetime:
        """When the interval began."""
        return self.end - self.length

    @property
    def average_w(self) -> float:
        """Average power over the interval."""
        return self.wh * 3600 / self.length.total_seconds()


def local_day(end: datetime, zone: tzinfo) -> date:
    """Return the local day an interval belongs to (the one holding its last second)."""
    return (end - timedelta(seconds=1)).astimezone(zone).date()


class IntervalSeries:
    """Intervals of one stream from one source, with per-day sums kept beyond their retention."""

    def __init__(self, length: timedelta) -> None:
        self.length = length
        self.values: dict[int, float] = {}
        self.day_wh: dict[date, float] = {}
        self.pruned_before = 0
        self.covered_from: int | None = None
        self._oldest: int | None = None
        self._newest: int | None = None

    def merge(self, intervals: Iterable[tuple[datetime, float]], zone: tzinfo) -> list[int]:
        """Add or correct intervals; return the end epochs that changed."""
        changed = []
        for end, wh in intervals:
            key = int(end.timestamp())
            if key < self.pruned_before:
                continue
            old = self.values.get(key)
            if old == wh:
                continue
            self.values[key] = wh
            if self._oldest is None or key < self._oldest:
                self._oldest = key
            if self._newest is None or key > self._newest:
                self._newest = key
            day = local_day(end, zone)
            self.day_wh[day] = self.day_wh.get(day, 0.0) + wh - (old or 0.0)
            changed.append(key)
        return changed

    def cover(self, start: datetime) -> None:
        """Note that every interval from `start` on was asked for (answers are contiguous)."""
        key = int(start.timestamp())
        if self.covered_from is None or key < self.covered_from:
            self.covered_from = key

    def latest(self) -> Interval | None:
        """Return the newest interval held."""
        if self._newest is None:
            return None
        key = self._newest
        return Interval(datetime.fromtimestamp(key, UTC), self.length, self.values[key])

    @property
    def newest_key(self) -> int | None:
        """End (epoch) of the newest interval held."""
        return self._newest

    def intervals(self) -> list[Interval]:
        """Every interval held, oldest first."""
        return [
            Interval(datetime.fromtimestamp(key, UTC), self.length, self.values[key])
            for key in sorted(self.values)
        ]

    def prune(self, before: datetime, fold_through: date) -> None:
        """Forget intervals older than `before` and day sums up to `fold_through`.

        Intervals older than the last cut are ignored if they come again, so nothing that was
        counted and forgotten can be counted twice.
        """
        cut = int(before.timestamp())
        # Pruned a day at a time: cheap enough to call after every answer.
        if self._oldest is not None and self._oldest < cut - _PRUNE_SLACK_S:
            self.pruned_before = max(self.pruned_before, cut)
            self.values = {key: wh for key, wh in self.values.items() if key >= cut}
            self._oldest = min(self.values, default=None)
            self._newest = max(self.values, default=None)
        if self.day_wh and min(self.day_wh) <= fold_through:
            self.day_wh = {day: wh for day, wh in self.day_wh.items() if day > fold_through}

    def to_dict(self) -> dict[str, Any]:
        """Serialise (ends and energies as two flat lists: compact and quick to save)."""
        ends = sorted(self.values)
        return {
            "length_s": int(self.length.total_seconds()),
            "ends": ends,
            "wh": [self.values[end] for end in ends],
            "day_wh": {day.isoformat(): wh for day, wh in self.day_wh.items()},
            "pruned_before": self.pruned_before,
            "covered_from": self.covered_from,
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "series") -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        obj = Record(data, path)
        length_s = obj.get("length_s", non_negative)
        if not 0 < length_s <= _MAX_LENGTH_S:
            raise StoredDataError(f"{path}.length_s: not an interval length")
        series = cls(timedelta(seconds=length_s))
        ends = obj.get("ends", each(epoch))
        energies = obj.get("wh", each(number))
        if len(ends) != len(energies):
            raise StoredDataError(f"{path}: ends and wh differ in length")
        series.values = dict(zip(ends, energies, strict=True))
        series._oldest = min(series.values, default=None)
        series._newest = max(series.values, default=None)
        series.day_wh = obj.get("day_wh", entries(iso_date, number))
        series.pruned_before = obj.get("pruned_before", epoch)
        # Stores from before coverage was kept: the oldest interval held is the best guess.
        series.covered_from = (
            obj.opt("covered_from", epoch) if "covered_from" in obj else series._oldest
        )
        return series


class EnergyCounter:
    """A lifetime counter (Wh) for one stream of one system."""

    def __init__(self) -> None:
        self.base_wh = 0.0
        self.base_through: date | None = None
        self.lifetime_days: dict[date, float] = {}
        self.sources: dict[Source, IntervalSeries] = {}
        self.high_water_wh = 0.0

    @property
    def value_wh(self) -> float:
        """The counter as shown: never lower than it has ever been."""
        return self.high_water_wh

    def series(self, source: Source, length: timedelta) -> IntervalSeries:
        """Return the interval series of one source, created on first use."""
        found = self.sources.get(source)
        if found is None:
            found = self.sources[source] = IntervalSeries(length)
        return found

    def book_days(self, days: Iterable[tuple[date, float]]) -> None:
        """Take daily totals (from a lifetime endpoint or the summary); a day only grows."""
        for day, wh in days:
            if self.base_through is not None and day <= self.base_through:
                continue
            if wh > self.lifetime_days.get(day, 0.0):
                self.lifetime_days[day] = wh

    def raise_floor(self, wh: float) -> None:
        """Never show less than `wh` (a total Enphase reported as a whole)."""
        self.high_water_wh = max(self.high_water_wh, wh)

    def day_wh(self, day: date) -> float:
        """Return the best known total of one local day."""
        interval_sums = (series.day_wh.get(day, 0.0) for series in self.sources.values())
        return max((self.lifetime_days.get(day, 0.0), *interval_sums))

    def settle(self, today: date, now: datetime) -> None:
        """Fold old days into the base and prune old intervals (once a day is enough)."""
        fold_through = today - timedelta(days=FOLD_DAYS)
        folded = sorted(day for day in self._days() if day <= fold_through)
        for day in folded:
            self.base_wh += self.day_wh(day)
        if folded:
            if self.base_through is None or folded[-1] > self.base_through:
                self.base_through = folded[-1]
            self.lifetime_days = {d: wh for d, wh in self.lifetime_days.items() if d > fold_through}
        for series in self.sources.values():
            series.prune(now - RETENTION, fold_through)
        self.refresh()

    def refresh(self) -> None:
        """Move the high-water mark up to the current total (never down)."""
        total = self.base_wh + sum(self.day_wh(day) for day in self._days())
        self.high_water_wh = max(self.high_water_wh, total)

    def _days(self) -> set[date]:
        """Days not yet in the base (intervals of a folded day that come late are not counted)."""
        days = set(self.lifetime_days)
        for series in self.sources.values():
            days.update(series.day_wh)
        if self.base_through is None:
            return days
        return {day for day in days if day > self.base_through}

    def to_dict(self) -> dict[str, Any]:
        """Serialise."""
        return {
            "base_wh": self.base_wh,
            "base_through": None if self.base_through is None else self.base_through.isoformat(),
            "lifetime_days": {d.isoformat(): wh for d, wh in self.lifetime_days.items()},
            "sources": {source.value: s.to_dict() for source, s in self.sources.items()},
            "high_water_wh": self.high_water_wh,
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "counter") -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        obj = Record(data, path)
        counter = cls()
        counter.base_wh = obj.get("base_wh", number)
        counter.base_through = obj.opt("base_through", iso_date)
        counter.lifetime_days = obj.get("lifetime_days", entries(iso_date, number))
        counter.sources = obj.get("sources", entries(member(Source), IntervalSeries.from_dict))
        counter.high_water_wh = obj.get("high_water_wh", number)
        return counter
