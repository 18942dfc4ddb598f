"""What the budget benchmark measures, against the simulator's physical truth.

- Staleness: every minute in which the sun makes power (the truth's solar output is above zero),
  the age of the solar power Home Assistant would show: now minus the time that value was
  measured. Kept as a histogram with one-minute bins.
- Completeness: at 09:00 local each day, the share of yesterday's 15-minute intervals whose data
  Home Assistant holds: production (the intervals in which the truth produced anything; with
  5-minute micro data every producing 5-minute step must be there), consumption and battery
  (every interval, when the site has them).
- Exact hours: the share of each local day's hours, per hourly statistic the site has (solar
  production, consumption, grid import and export, battery charge and discharge), whose imported
  value equals the truth's energy in that UTC hour to the Wh: as of the end of the next local
  day, and by the end of the run ("ever").
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from math import ceil
from typing import Final

from custom_components.liveone_enphase.history import Series
from custom_components.liveone_enphase.history.hours import HOUR_S, day_hours
from custom_components.liveone_enphase.readings.energy import Source, Stream
from custom_components.liveone_enphase.readings.state import SystemReadings
from sim.enphase.physics import STEP_S, Channel, SiteModel

MAX_AGE_MIN = 3 * 1440
_SLOT_S = 900


@dataclass
class Staleness:
    """Age of the shown solar power, sampled each minute of (true) daylight."""

    daylight: bytearray
    origin: int
    histogram: list[int] = field(default_factory=lambda: [0] * (MAX_AGE_MIN + 2))

    @classmethod
    def for_model(cls, model: SiteModel, until: datetime) -> Staleness:
        """Flag each 5-minute step of the truth in which the panels produced anything."""
        model.ensure(int(until.timestamp()))
        steps = model.step_index(int(until.timestamp()))
        flags = bytearray(1 if model.power(i).solar_w > 0 else 0 for i in range(steps))
        return cls(flags, model.start)

    def observe(self, start: datetime, end: datetime, shown_at: datetime | None) -> None:
        """Sample the minutes in [start, end), during which the shown value stays the same."""
        first = ceil(start.timestamp() / 60) * 60
        stop = end.timestamp()
        shown = None if shown_at is None else shown_at.timestamp()
        flags, origin, histogram, overflow = (
            self.daylight,
            self.origin,
            self.histogram,
            MAX_AGE_MIN + 1,
        )
        size = len(flags)
        for minute in range(first, ceil(stop), 60):
            step = (minute - origin) // STEP_S
            if 0 <= step < size and flags[step]:
                age = overflow if shown is None else min(overflow, int((minute - shown) // 60))
                histogram[age] += 1

    @property
    def samples(self) -> int:
        """Minutes sampled."""
        return sum(self.histogram)

    def quantile(self, share: float) -> float | None:
        """The age (minutes) below which `share` of the samples lie; None without samples."""
        total = self.samples
        if not total:
            return None
        target = share * total
        running = 0
        for age, count in enumerate(self.histogram):
            running += count
            if running >= target:
                return float(age) if age <= MAX_AGE_MIN else float("inf")
        return float("inf")  # pragma: no cover - the loop always reaches the target


@dataclass
class Completeness:
    """Yesterday's intervals that reached Home Assistant, counted each morning."""

    model: SiteModel
    expected: int = 0
    reached: int = 0

    def check(self, readings: SystemReadings, day_start: datetime, day_end: datetime) -> None:
        """Count the intervals of the local day [day_start, day_end) held in the readings."""
        model = self.model
        counters = readings.counters
        micro = counters[Stream.PRODUCTION].sources.get(Source.MICRO)
        meter = counters[Stream.PRODUCTION].sources.get(Source.METER)
        consumption = counters[Stream.CONSUMPTION].sources.get(Source.METER)
        battery = counters[Stream.BATTERY_CHARGE].sources.get(Source.BATTERY)
        first = int(day_start.timestamp()) + _SLOT_S
        for end in range(first, int(day_end.timestamp()) + 1, _SLOT_S):
            last = model.step_index(end)
            steps = range(last - 3, last)
            producing = [i for i in steps if model.energy(Channel.SOLAR, i, i + 1) > 0]
            if producing:
                self.expected += 1
                have = (
                    micro is not None and all(model.step_end(i) in micro.values for i in producing)
                ) or (meter is not None and end in meter.values)
                self.reached += have
            if readings.has_consumption:
                self.expected += 1
                self.reached += consumption is not None and end in consumption.values
            if readings.has_battery:
                self.expected += 1
                self.reached += battery is not None and end in battery.values

    @property
    def share(self) -> float:
        """The share reached (0..1)."""
        return self.reached / self.expected if self.expected else 0.0


_CHANNELS: Final = {
    Series.SOLAR_PRODUCTION: Channel.SOLAR,
    Series.CONSUMPTION: Channel.LOAD,
    Series.GRID_IMPORT: Channel.IMPORT,
    Series.GRID_EXPORT: Channel.EXPORT,
    Series.BATTERY_CHARGE: Channel.CHARGE,
    Series.BATTERY_DISCHARGE: Channel.DISCHARGE,
}


@dataclass
class ExactHours:
    """Hours whose imported statistic equals the truth, per series (`rows`: what was written)."""

    model: SiteModel
    zone: tzinfo
    series: tuple[Series, ...]
    rows: Mapping[Series, Mapping[int, float]]
    hours: Counter[Series] = field(default_factory=Counter)
    by_next_day: Counter[Series] = field(default_factory=Counter)
    days: list[date] = field(default_factory=list)

    def check(self, day: date) -> None:
        """Count the hours of `day` imported exactly so far (called as the next day ends)."""
        self.days.append(day)
        for series in self.series:
            self.hours[series] += len(day_hours(day, self.zone))
            self.by_next_day[series] += self._exact(series, day)

    def ever(self) -> Counter[Series]:
        """Count the hours of the checked days imported exactly by now."""
        return Counter({s: sum(self._exact(s, day) for day in self.days) for s in self.series})

    def _exact(self, series: Series, day: date) -> int:
        written = self.rows.get(series, {})
        model = self.model
        channel = _CHANNELS[series]
        exact = 0
        for hour in day_hours(day, self.zone):
            wh = written.get(hour)
            if wh is not None:
                first, last = model.step_index(hour), model.step_index(hour + HOUR_S)
                exact += abs(wh - model.energy(channel, first, last)) < 0.5
        return exact


def share(part: int, whole: int) -> float | None:
    """`part / whole`, None when there is nothing to count."""
    return part / whole if whole else None


def month_key(moment: datetime) -> str:
    """The UTC month ("YYYY-MM") an instant belongs to (Enphase counts UTC months)."""
    return moment.strftime("%Y-%m")
