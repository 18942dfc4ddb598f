"""When it is light at a place: the spans of each local day that the planner spends most on.

Daylight is found from the sun's elevation (astral), sampled through the local day and
interpolated at the horizon crossings, rather than from astral's sunrise/sunset functions, which
raise during polar day and night and can land on the wrong date near them. Any latitude, season
and DST day therefore gives a plain list of spans.

Polar night simply has no daylight: the planner then spends on its night tier.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

from astral import Observer  # type: ignore[import-untyped]
from astral.sun import elevation  # type: ignore[import-untyped]

# Sunrise and sunset as almanacs define them: the upper limb at the horizon, with refraction.
HORIZON_DEG: Final = -0.833
_SAMPLE: Final = timedelta(minutes=10)
_CACHE_SIZE: Final = 1_000


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open span of time [start, end), in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a span of time that is wholly daylight or wholly night."""

    start: datetime
    end: datetime
    daylight: bool


class SunCalendar:
    """Daylight spans of one place, per local day, computed once and cached."""

    def __init__(self, latitude: float, longitude: float, timezone: str | tzinfo) -> None:
        self._observer = Observer(latitude, longitude)
        self.zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._cache: dict[date, tuple[Span, ...]] = {}
        self._times: dict[tuple[date, time], datetime] = {}
        self._totals: dict[date, tuple[timedelta, timedelta]] = {}
        self._tails: dict[tuple[date, datetime], tuple[timedelta, timedelta]] = {}

    def local_date(self, when: datetime) -> date:
        """Return the local calendar date at `when`."""
        return when.astimezone(self.zone).date()

    def local_time(self, day: date, clock_time: time) -> datetime:
        """Return a local wall-clock time on `day` in UTC (a time DST skips moves forward)."""
        return _remember(self._times, (day, clock_time), lambda: self._resolve(day, clock_time))

    def _resolve(self, day: date, clock_time: time) -> datetime:
        naive = datetime.combine(day, clock_time)
        aware = naive.replace(tzinfo=self.zone)
        back = aware.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if back != naive:  # in a spring-forward gap: take the first valid instant after it
            aware = (naive + timedelta(hours=1)).replace(tzinfo=self.zone)
        return aware.astimezone(UTC)

    def midnight(self, day: date) -> datetime:
        """Return the start of the local day `day`, in UTC."""
        return self.local_time(day, time())

    def daylight(self, day: date) -> tuple[Span, ...]:
        """Return the spans of the local day `day` with the sun up (none in polar night)."""
        return _remember(self._cache, day, lambda: self._compute(day))

    def split(self, start: datetime, end: datetime) -> tuple[timedelta, timedelta]:
        """Return how much of [start, end) is daylight, and how much is night."""
        day = self.local_date(start)
        first_end = min(end, self.midnight(day + timedelta(days=1)))
        light, dark = self._totals_between(start, first_end)
        if first_end < end:
            rest_light, rest_dark = self._whole_days(day + timedelta(days=1), end)
            light, dark = light + rest_light, dark + rest_dark
        return light, dark

    def _whole_days(self, first: date, end: datetime) -> tuple[timedelta, timedelta]:
        """Sum whole local days from `first` up to `end` (the last one possibly cut short)."""
        return _remember(self._tails, (first, end), lambda: self._sum_days(first, end))

    def _sum_days(self, first: date, end: datetime) -> tuple[timedelta, timedelta]:
        light = dark = timedelta(0)
        day = first
        while (day_start := self.midnight(day)) < end:
            day_end = self.midnight(day + timedelta(days=1))
            if day_end <= end:
                day_light, day_dark = self._day_totals(day)
            else:
                day_light, day_dark = self._totals_between(day_start, end)
            light, dark = light + day_light, dark + day_dark
            day += timedelta(days=1)
        return light, dark

    def _day_totals(self, day: date) -> tuple[timedelta, timedelta]:
        start, end = self.midnight(day), self.midnight(day + timedelta(days=1))
        return _remember(self._totals, day, lambda: self._totals_between(start, end))

    def _totals_between(self, start: datetime, end: datetime) -> tuple[timedelta, timedelta]:
        light = dark = timedelta(0)
        for segment in self.segments(start, end):
            if segment.daylight:
                light += segment.end - segment.start
            else:
                dark += segment.end - segment.start
        return light, dark

    def segments(self, start: datetime, end: datetime) -> Iterator[Segment]:
        """Cut [start, end) into consecutive daylight and night segments."""
        day = self.local_date(start)
        cursor = start
        while cursor < end:
            for span in self.daylight(day):
                if span.end <= cursor:
                    continue
                if span.start >= end:
                    break
                if span.start > cursor:
                    yield Segment(cursor, span.start, daylight=False)
                    cursor = span.start
                piece_end = min(span.end, end)
                yield Segment(cursor, piece_end, daylight=True)
                cursor = piece_end
            day += timedelta(days=1)
            day_end = min(self.midnight(day), end)
            if cursor < day_end:
                yield Segment(cursor, day_end, daylight=False)
                cursor = day_end

    def daylight_starts(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Instants in (start, end) at which a daylight span begins after a night."""
        previous_daylight: bool | None = None
        for segment in self.segments(start, end):
            if segment.daylight and previous_daylight is False:
                yield segment.start
            previous_daylight = segment.daylight

    def _height(self, moment: datetime) -> float:
        """Degrees above the almanac horizon (geometric elevation: the horizon has refraction)."""
        return float(elevation(self._observer, moment, with_refraction=False)) - HORIZON_DEG

    def _compute(self, day: date) -> tuple[Span, ...]:
        start = self.midnight(day)
        end = self.midnight(day + timedelta(days=1))
        samples: list[tuple[datetime, float]] = []
        moment = start
        while moment < end:
            samples.append((moment, self._height(moment)))
            moment += _SAMPLE
        samples.append((end, self._height(end)))
        spans: list[Span] = []
        opened: datetime | None = start if samples[0][1] > 0 else None
        for (t0, h0), (t1, h1) in pairwise(samples):
            if (h0 > 0) == (h1 > 0):
                continue
            crossing = t0 + (t1 - t0) * (h0 / (h0 - h1))
            if h1 > 0:
                opened = crossing
            elif opened is not None:
                spans.append(Span(opened, crossing))
                opened = None
        if opened is not None:
            spans.append(Span(opened, end))
        return tuple(spans)


def _remember[K, V](cache: dict[K, V], key: K, compute: Callable[[], V]) -> V:
    """Look up or compute; a full cache starts over (a year of days is plenty)."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        found = cache[key] = compute()
    return found
