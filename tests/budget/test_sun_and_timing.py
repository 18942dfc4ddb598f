"""Daylight at any latitude and season, and where a live poll lands."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from custom_components.liveone_enphase.budget import sun
from custom_components.liveone_enphase.budget.model import (
    DEFAULT_VISIBLE_AFTER,
    EndpointProgress,
    PollPlan,
    SystemProgress,
)
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.budget.timing import (
    advance,
    align_to_publication,
    dither_for,
    sunrise_anchor,
)

TROMSO = SunCalendar(69.65, 18.96, "Europe/Oslo")
BERLIN = SunCalendar(52.52, 13.40, "Europe/Berlin")
QUITO = SunCalendar(-0.18, -78.47, "America/Guayaquil")


def _hours(span: sun.Span) -> float:
    return (span.end - span.start) / timedelta(hours=1)


def test_polar_day_and_polar_night() -> None:
    (midsummer,) = TROMSO.daylight(date(2026, 6, 21))
    assert midsummer.start == TROMSO.midnight(date(2026, 6, 21))
    assert _hours(midsummer) == 24
    assert TROMSO.daylight(date(2026, 12, 21)) == ()
    light, dark = TROMSO.split(
        TROMSO.midnight(date(2026, 12, 20)), TROMSO.midnight(date(2026, 12, 23))
    )
    assert (light, dark) == (timedelta(0), timedelta(days=3))


def test_ordinary_days_match_the_almanac() -> None:
    (june,) = BERLIN.daylight(date(2026, 6, 21))
    local = june.start.astimezone(BERLIN.zone).time(), june.end.astimezone(BERLIN.zone).time()
    assert time(4, 38) <= local[0] <= time(4, 46)  # sunrise 04:43
    assert time(21, 30) <= local[1] <= time(21, 36)  # sunset 21:33
    (equator,) = QUITO.daylight(date(2026, 3, 20))
    assert 12.0 < _hours(equator) < 12.3


def test_local_times_across_dst() -> None:
    spring = date(2026, 3, 29)
    # 02:30 does not exist in Berlin that day: the first instant after the gap is taken.
    assert BERLIN.local_time(spring, time(2, 30)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert BERLIN.local_time(spring, time(4, 30)) == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert BERLIN.midnight(date(2026, 10, 26)) - BERLIN.midnight(date(2026, 10, 25)) == timedelta(
        hours=25
    )


def test_segments_alternate_and_cover_the_span() -> None:
    start = BERLIN.midnight(date(2026, 3, 10)) + timedelta(hours=3)
    end = start + timedelta(days=2)
    segments = list(BERLIN.segments(start, end))
    assert segments[0].start == start
    assert segments[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(segments))
    flags = [s.daylight for s in segments]
    merged = [flag for n, flag in enumerate(flags) if n == 0 or flag != flags[n - 1]]
    assert merged == [False, True, False, True, False]
    starts = list(BERLIN.daylight_starts(start, end))
    assert starts == [s.start for s in segments if s.daylight]
    # A window inside one day's light.
    (light,) = BERLIN.daylight(date(2026, 3, 10))
    inside = list(
        BERLIN.segments(light.start + timedelta(hours=1), light.start + timedelta(hours=2))
    )
    assert [s.daylight for s in inside] == [True]


def test_split_is_cached_and_caches_start_over(monkeypatch: pytest.MonkeyPatch) -> None:
    calendar = SunCalendar(52.52, 13.40, "Europe/Berlin")
    start = calendar.midnight(date(2026, 5, 1)) + timedelta(hours=10)
    end = datetime(2026, 6, 1, tzinfo=UTC)
    first = calendar.split(start, end)
    assert calendar.split(start, end) == first
    assert sum(first, timedelta()) == end - start
    monkeypatch.setattr(sun, "_CACHE_SIZE", 2)
    again = SunCalendar(52.52, 13.40, "Europe/Berlin")
    assert again.split(start, end) == first


def test_advance_with_day_and_night_rates() -> None:
    (light,) = BERLIN.daylight(date(2026, 3, 10))
    start = light.start + timedelta(hours=1)
    assert advance(BERLIN, start, timedelta(minutes=30), None) == start + timedelta(minutes=30)
    # Near sunset with no night polls: the rest of the spacing is spent the next morning.
    late = light.end - timedelta(minutes=10)
    (next_light,) = BERLIN.daylight(date(2026, 3, 11))
    assert advance(BERLIN, late, timedelta(minutes=30), None) == next_light.start + timedelta(
        minutes=20
    )
    assert advance(BERLIN, start, None, None) is None
    # Polar night: the sun is back after seven weeks, beyond the search.
    assert advance(TROMSO, TROMSO.midnight(date(2026, 12, 1)), timedelta(minutes=30), None) is None


def test_sunrise_anchor() -> None:
    (light,) = BERLIN.daylight(date(2026, 3, 11))
    last = light.start - timedelta(hours=12)
    assert sunrise_anchor(
        BERLIN, last, light.start + timedelta(hours=2), timedelta(minutes=15)
    ) == (light.start)
    noon = light.start + timedelta(hours=5)
    assert sunrise_anchor(BERLIN, noon, noon + timedelta(minutes=30), timedelta(minutes=15)) == (
        noon + timedelta(minutes=30)
    )


def test_alignment_to_publication() -> None:
    boundary = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    cadence = timedelta(minutes=15)
    first = boundary + cadence + DEFAULT_VISIBLE_AFTER
    assert align_to_publication(boundary, None, cadence, DEFAULT_VISIBLE_AFTER, 0.5) == boundary
    assert align_to_publication(boundary, boundary, cadence, DEFAULT_VISIBLE_AFTER, 0.5) == first
    nominal = first + timedelta(minutes=20)  # 1⅓ cadences after the first chance
    assert align_to_publication(nominal, boundary, cadence, DEFAULT_VISIBLE_AFTER, 0.0) == (
        first + cadence
    )
    assert align_to_publication(nominal, boundary, cadence, DEFAULT_VISIBLE_AFTER, 0.9) == (
        first + 2 * cadence
    )
    dithers = [dither_for(boundary + timedelta(minutes=15 * n)) for n in range(100)]
    assert all(0 <= d < 1 for d in dithers)
    assert 0.4 < sum(dithers) / len(dithers) < 0.6


def test_progress_helpers() -> None:
    now = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    assert SystemProgress().report_boundary() is None
    progress = SystemProgress(
        last_report_at=now + timedelta(seconds=70), report_phase=timedelta(seconds=40)
    )
    assert progress.report_boundary() == now + timedelta(seconds=40)
    slow = SystemProgress(report_cadence=timedelta(hours=6))
    assert slow.settled_after(DEFAULT_VISIBLE_AFTER) == DEFAULT_VISIBLE_AFTER + timedelta(
        hours=5, minutes=45
    )
    assert EndpointProgress().known_through(DEFAULT_VISIBLE_AFTER) is None
    cut_short = EndpointProgress(last_success=now, cursor=now - timedelta(days=3), complete=False)
    assert cut_short.known_through(DEFAULT_VISIBLE_AFTER) == now - timedelta(days=3)
    complete = EndpointProgress(last_success=now)
    assert complete.known_through(DEFAULT_VISIBLE_AFTER) == now - DEFAULT_VISIBLE_AFTER
    assert PollPlan(now, {}, "nothing").call_count == 0
