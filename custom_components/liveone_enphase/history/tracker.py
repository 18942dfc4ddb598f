"""What one system's interval data says per UTC hour, what was imported, and what is missing.

The tracker keeps, per feed and UTC hour, the value of each interval slot (12 five-minute or
4 fifteen-minute slots) once that slot is *known*: published, according to the evidence (see
`feeds`). A reported zero counts only at or before the evidence; later zeros are trailing zeros,
"not reported yet", and stay unknown. Micro data leaves dark intervals out, so inside a micro
answer's window every slot up to the evidence that is not listed is a known zero; the meters
send every interval, so a missing meter interval stays unknown.

An hour is complete when every slot of one of its series' feeds is known (micro preferred for
solar); only complete hours are imported, so the current hour, an hour still waiting for the
cloud's 15-25 minute lag, or one lost in a gateway outage is not. A later answer overwrites the
slots it covers (a late or corrected interval), and `pending` then names the first hour whose
value differs from what was imported: that hour and every complete hour after it must be
rewritten, because their running sums move with it.

Evidence collected in one `ingest` call (one poll) proves publication for every answer of that
call and of later calls, never for an answer fetched earlier: a zero seen before the data was
published would otherwise be taken for real.

Bounded: nothing before the origin (nor before the system's `operational_at`) is imported, data
older than `lookback_days` local days is dropped, and days older than that are no longer fetched.
`catch_up` lists the fetches (endpoint and `start_at`) that would complete the past days, oldest
first; after a fetch that did not complete a day, the day is not asked for again until a
back-off (1 h, doubling, at most a day) has passed, so a feed that never delivers (a broken
meter) costs a handful of calls, not one per poll.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Self

from ..enphase import Endpoint
from ..enphase.readers import zone_or_utc
from ..stored import (
    Record,
    StoredDataError,
    array,
    each,
    entries,
    epoch,
    iso_date,
    key_integer,
    member,
    non_negative,
    number,
    optional,
    text,
)
from .feeds import (
    SERIES_FEEDS,
    Feed,
    FeedIntervals,
    Fetched,
    Reading,
    Series,
    endpoint_series,
    read,
)
from .hours import (
    HOUR_S,
    ceil_hour,
    day_hours,
    hour_of_end,
    local_day,
    midnight,
    to_epoch,
    to_moment,
)

LOOKBACK_DAYS: Final = 7
WINDOW_S: Final = 86_400
"""What one interval call brings: a day's window from its `start_at`."""
RETRY_FIRST_S: Final = 3600
RETRY_MAX_S: Final = 86_400
_MAX_DOUBLINGS: Final = 16  # past the cap long before: keeps the shift small for any count

type Slots = list[float | None]


@dataclass(frozen=True, slots=True)
class HourRow:
    """One statistics row: the hour's start (UTC), its energy and the running sum at its end."""

    start: datetime
    wh: float
    total_wh: float


@dataclass(frozen=True, slots=True)
class SeriesRewrite:
    """The hours of one series to write: the first changed hour and every complete hour after it.

    `changed` are the hours whose value is new or different; the others are rewritten for their
    running sum only. `previous` is the newest hour imported before the first one: the sum goes
    on from that row (None: nothing imported before, continue from whatever is stored).
    """

    series: Series
    hours: tuple[tuple[datetime, float], ...]
    changed: tuple[datetime, ...]
    previous: datetime | None

    @property
    def first(self) -> datetime:
        """The first hour rewritten."""
        return self.hours[0][0]

    def rows(self, base_wh: float) -> list[HourRow]:
        """Build the rows, the running sum starting from `base_wh` (the sum before `first`)."""
        rows = []
        total = base_wh
        for start, wh in self.hours:
            total += wh
            rows.append(HourRow(start, wh, total))
        return rows


@dataclass(frozen=True, slots=True)
class CatchUp:
    """One fetch towards completing a past day: `endpoint` from `start_at`, a missing hour of `day`.

    The answer covers a day's window from `start_at`, which may reach into the next day.
    """

    day: date
    endpoint: Endpoint
    start_at: datetime


class HistoryTracker:
    """The hourly energy history of one system (pure: no I/O, times passed in)."""

    def __init__(
        self, timezone: str | None, origin: datetime, *, lookback_days: int = LOOKBACK_DAYS
    ) -> None:
        self._timezone = timezone
        self._zone = zone_or_utc(timezone)
        self.lookback_days = lookback_days
        self._origin = ceil_hour(to_epoch(origin))
        self._retained_from = self._origin
        self._published_through: int | None = None
        self._slots: dict[Feed, dict[int, Slots]] = {}
        self._imported: dict[Series, dict[int, float]] = {}
        self._attempts: dict[tuple[Endpoint, date], tuple[int, int]] = {}

    # --- what it knows ------------------------------------------------------------------------

    @property
    def timezone(self) -> str | None:
        """The system's time zone name, which decides where its days begin."""
        return self._timezone

    @timezone.setter
    def timezone(self, name: str | None) -> None:
        self._timezone = name
        self._zone = zone_or_utc(name)

    @property
    def origin(self) -> datetime:
        """The first hour this tracker imports (nothing before it is ever written)."""
        return to_moment(self._origin)

    @property
    def published_through(self) -> datetime | None:
        """Up to when the system's data is proven published (None: no evidence yet)."""
        return None if self._published_through is None else to_moment(self._published_through)

    def hour_wh(self, series: Series, hour: datetime) -> float | None:
        """Return a series' energy in a complete hour (None while the hour is incomplete)."""
        return self._complete_values(series).get(to_epoch(hour))

    def imported_wh(self, series: Series) -> dict[datetime, float]:
        """Return what was imported per hour (the hours still kept)."""
        return {to_moment(hour): wh for hour, wh in sorted(self._imported.get(series, {}).items())}

    # --- taking answers -----------------------------------------------------------------------

    def ingest(self, fetched: Iterable[Fetched]) -> None:
        """Take the interval answers of one poll."""
        readings = [read(item) for item in fetched]
        if not readings:
            return
        for reading in readings:
            if reading.operational_at is not None:
                self._origin = max(self._origin, ceil_hour(reading.operational_at))
        self._prune(max(reading.fetched_at for reading in readings))
        proofs = [self._published_through, *(reading.evidence for reading in readings)]
        proven = max((proof for proof in proofs if proof is not None), default=None)
        self._published_through = proven
        if proven is not None:
            for reading in readings:
                for intervals in reading.feeds:
                    self._store(intervals, reading, proven)
        for reading in readings:
            self._note_attempt(reading)

    def _store(self, intervals: FeedIntervals, reading: Reading, proven: int) -> None:
        """Record the slots this answer makes known (up to the evidence, inside its window)."""
        if reading.lo is None or reading.hi is None:
            return
        feed = intervals.feed
        step = feed.step_s
        limit = min(proven, reading.hi)
        values = {end: wh for end, wh in intervals.intervals if end <= limit and end % step == 0}
        if feed.silent_when_zero:
            for end in range((reading.lo // step + 1) * step, limit + 1, step):
                values.setdefault(end, 0.0)
        hours = self._slots.setdefault(feed, {})
        for end, wh in values.items():
            hour = hour_of_end(end)
            if wh is None or hour < self._retained_from:
                continue
            slots = hours.setdefault(hour, [None] * (HOUR_S // step))
            # A negative interval is a measurement artefact: each direction is its own series.
            slots[(end - hour) // step - 1] = max(wh, 0.0)

    def _note_attempt(self, reading: Reading) -> None:
        """Count a fetch whose window held a past day's first missing hour but left it missing."""
        if reading.lo is None or reading.hi is None:
            return
        today = local_day(reading.fetched_at, self._zone)
        floor = self._floor(today)
        series = endpoint_series([reading.endpoint])[reading.endpoint]
        for day in self._days(floor, today):
            missing = next(self._missing(day, series, floor), None)
            if missing is not None and reading.lo <= missing <= reading.hi - HOUR_S:
                count, _ = self._attempts.get((reading.endpoint, day), (0, 0))
                self._attempts[(reading.endpoint, day)] = (count + 1, reading.fetched_at)

    # --- what to write ------------------------------------------------------------------------

    def pending(self) -> tuple[SeriesRewrite, ...]:
        """Return, per series with work, the hours that must be (re)written now."""
        rewrites = []
        for series in Series:
            values = self._complete_values(series)
            imported = self._imported.get(series, {})
            changed = sorted(hour for hour, wh in values.items() if imported.get(hour) != wh)
            if not changed:
                continue
            first = changed[0]
            previous = max((hour for hour in imported if hour < first), default=None)
            rewrites.append(
                SeriesRewrite(
                    series=series,
                    hours=tuple(
                        (to_moment(hour), wh)
                        for hour, wh in sorted(values.items())
                        if hour >= first
                    ),
                    changed=tuple(to_moment(hour) for hour in changed),
                    previous=None if previous is None else to_moment(previous),
                )
            )
        return tuple(rewrites)

    def mark_imported(self, rewrite: SeriesRewrite) -> None:
        """Remember that a rewrite reached the database."""
        imported = self._imported.setdefault(rewrite.series, {})
        for start, wh in rewrite.hours:
            imported[to_epoch(start)] = wh

    # --- what to fetch ------------------------------------------------------------------------

    def catch_up(self, now: datetime, endpoints: Iterable[Endpoint]) -> list[CatchUp]:
        """List the fetches that would complete the past days (before today, within the look-back).

        `endpoints` are the interval endpoints the system can use, in the order to fetch them.
        Each fetch starts at a missing hour and brings a day's window (`WINDOW_S`), so the next
        one starts at the first hour still missing after that window: a night lost across
        midnight is one fetch, not two. Days in back-off are skipped. Oldest first.
        """
        moment = to_epoch(now)
        today = local_day(moment, self._zone)
        floor = self._floor(today)
        needs = []
        for order, (endpoint, series) in enumerate(endpoint_series(endpoints).items()):
            reached = floor
            for day in self._days(floor, today):
                if not self._due(endpoint, day, moment):
                    continue
                for hour in self._missing(day, series, floor):
                    if hour >= reached:
                        needs.append((hour, order, CatchUp(day, endpoint, to_moment(hour))))
                        reached = hour + WINDOW_S
        return [need for _, _, need in sorted(needs, key=lambda item: item[:2])]

    def _due(self, endpoint: Endpoint, day: date, moment: int) -> bool:
        count, last = self._attempts.get((endpoint, day), (0, 0))
        if not count:
            return True
        wait: int = min(RETRY_FIRST_S << min(count - 1, _MAX_DOUBLINGS), RETRY_MAX_S)
        return moment - last >= wait

    # --- hours --------------------------------------------------------------------------------

    def _floor(self, today: date) -> int:
        """Return the first hour worth keeping: the origin, or the start of the look-back."""
        start = today - timedelta(days=self.lookback_days)
        return max(self._origin, ceil_hour(midnight(start, self._zone)))

    def _days(self, floor: int, today: date) -> Iterator[date]:
        day = local_day(floor, self._zone)
        while day < today:
            yield day
            day += timedelta(days=1)

    def _missing(self, day: date, series: tuple[Series, ...], floor: int) -> Iterator[int]:
        """Yield the hours of a day (from `floor`) that one of the series misses."""
        for hour in day_hours(day, self._zone):
            if hour >= floor and not all(self._complete(s, hour) for s in series):
                yield hour

    def _complete(self, series: Series, hour: int) -> bool:
        return any(
            _total(self._slots.get(feed, {}).get(hour)) is not None for feed in SERIES_FEEDS[series]
        )

    def _complete_values(self, series: Series) -> dict[int, float]:
        """Energy per complete hour, from the first of the series' feeds that completes it."""
        values: dict[int, float] = {}
        for feed in SERIES_FEEDS[series]:
            for hour, slots in self._slots.get(feed, {}).items():
                total = _total(slots)
                if total is not None:
                    values.setdefault(hour, total)
        return values

    def _prune(self, moment: int) -> None:
        """Forget what lies before the look-back (and before a raised origin)."""
        floor = self._floor(local_day(moment, self._zone))
        if floor <= self._retained_from:
            return
        self._retained_from = floor
        for hours in self._slots.values():
            for hour in [hour for hour in hours if hour < floor]:
                del hours[hour]
        for imported in self._imported.values():
            for hour in [hour for hour in imported if hour < floor]:
                del imported[hour]
        first_day = local_day(floor, self._zone)
        self._attempts = {
            key: value for key, value in self._attempts.items() if key[1] >= first_day
        }

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Serialise (JSON types only)."""
        return {
            "timezone": self._timezone,
            "origin": self._origin,
            "retained_from": self._retained_from,
            "published_through": self._published_through,
            "slots": {
                feed.value: {str(hour): slots for hour, slots in sorted(hours.items())}
                for feed, hours in self._slots.items()
            },
            "imported": {
                series.value: {str(hour): wh for hour, wh in sorted(imported.items())}
                for series, imported in self._imported.items()
            },
            "attempts": [
                [endpoint.value, day.isoformat(), count, last]
                for (endpoint, day), (count, last) in sorted(self._attempts.items())
            ],
        }

    @classmethod
    def from_dict(
        cls, data: object, path: str = "tracker", *, lookback_days: int = LOOKBACK_DAYS
    ) -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        obj = Record(data, path)
        tracker = cls(
            obj.opt("timezone", text),
            to_moment(obj.get("origin", _hour)),
            lookback_days=lookback_days,
        )
        tracker._retained_from = obj.get("retained_from", epoch)
        tracker._published_through = obj.opt("published_through", epoch)
        for feed, hours in obj.get("slots", entries(member(Feed), Record)).items():
            size = HOUR_S // feed.step_s
            tracker._slots[feed] = {
                _hour(hour, f"{hours.path}.{hour}"): _slots(slots, f"{hours.path}.{hour}", size)
                for hour, slots in hours.items()
            }
        tracker._imported = obj.get("imported", entries(member(Series), entries(_hour, number)))
        tracker._attempts = dict(obj.get("attempts", each(_attempt)))
        return tracker


def _hour(value: object, path: str) -> int:
    """Read a UTC hour saved as epoch seconds (an object key or a number)."""
    hour = epoch(key_integer(value, path) if isinstance(value, str) else value, path)
    if hour % HOUR_S:
        raise StoredDataError(f"{path}: not the start of an hour")
    return hour


def _slots(value: object, path: str, size: int) -> Slots:
    """Read an hour's slots: `size` values, each known (a number) or not yet (null)."""
    read = optional(number)
    return [read(item, f"{path}[{index}]") for index, item in enumerate(array(value, path, size))]


def _attempt(value: object, path: str) -> tuple[tuple[Endpoint, date], tuple[int, int]]:
    """Read one `[endpoint, day, count, last]` record of fetches that left a day incomplete."""
    endpoint, day, count, last = array(value, path, 4)
    tries = non_negative(count, f"{path}[2]")
    if tries < 1:
        raise StoredDataError(f"{path}[2]: an attempt is only recorded once made")
    return (
        (member(Endpoint)(endpoint, f"{path}[0]"), iso_date(day, f"{path}[1]")),
        (tries, epoch(last, f"{path}[3]")),
    )


def _total(slots: Slots | None) -> float | None:
    """Add up an hour's slots (None while one of them is unknown)."""
    if slots is None:
        return None
    total = 0.0
    for value in slots:
        if value is None:
            return None
        total += value
    return total
