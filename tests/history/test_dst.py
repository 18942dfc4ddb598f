"""Whole days caught up across DST changes and in a half-hour zone: every UTC hour exact."""

import itertools
import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.history import Feed, HistoryTracker, Series
from custom_components.liveone_enphase.history.hours import day_hours, to_epoch, to_moment

from .helpers import FEED_ENDPOINTS, SlotCloud, StatisticsTable

ENDPOINTS = [*FEED_ENDPOINTS.values(), Endpoint.BATTERY_TELEMETRY]
ENDPOINTS.remove(Endpoint.PRODUCTION_METER)
SERIES_FEED = {
    Series.SOLAR_PRODUCTION: Feed.MICRO,
    Series.CONSUMPTION: Feed.CONSUMPTION_METER,
    Series.GRID_IMPORT: Feed.GRID_IMPORT,
    Series.GRID_EXPORT: Feed.GRID_EXPORT,
    Series.BATTERY_CHARGE: Feed.BATTERY_CHARGE,
    Series.BATTERY_DISCHARGE: Feed.BATTERY_DISCHARGE,
}


def synthetic_truth(start: int, end: int, seed: int) -> dict[Feed, dict[int, float]]:
    """Integer Wh per slot; solar (micro) only in the middle of each UTC day's hours."""
    rng = random.Random(seed)  # noqa: S311 - test data
    truth: dict[Feed, dict[int, float]] = {}
    for feed in SERIES_FEED.values():
        slots = {}
        for slot in range(start + feed.step_s, end + 1, feed.step_s):
            dark = feed is Feed.MICRO and not 8 * 3600 < slot % 86_400 <= 20 * 3600
            slots[slot] = 0.0 if dark else float(rng.randint(0, 400))
        truth[feed] = slots
    return truth


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Australia/Melbourne", date(2026, 4, 5), 25),
        ("Australia/Melbourne", date(2026, 10, 4), 23),
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Australia/Adelaide", date(2026, 4, 5), 25),
        ("Australia/Adelaide", date(2026, 10, 4), 23),
        ("Australia/Lord_Howe", date(2026, 10, 4), 23),
    ],
)
def test_a_dst_day_is_caught_up_hour_by_hour(zone: str, day: date, hours: int) -> None:
    tz = ZoneInfo(zone)
    first = day_hours(day - timedelta(days=1), tz).start
    today = day + timedelta(days=2)
    now = day_hours(today, tz).start + 3 * 3600
    cloud = SlotCloud(synthetic_truth(first - 3600, now, seed=hours), published=now - 1500)
    history = HistoryTracker(zone, to_moment(first))
    table = StatisticsTable()
    fetches: dict[Endpoint, list[int]] = {}
    needs = history.catch_up(to_moment(now), ENDPOINTS)
    assert [to_epoch(need.start_at) for need in needs] == sorted(
        to_epoch(need.start_at) for need in needs
    )
    for need in needs:
        start = to_epoch(need.start_at)
        fetches.setdefault(need.endpoint, []).append(start)
        history.ingest([cloud.answer(need.endpoint, start, now)])
    table.apply(history)
    table.assert_continuous()
    assert history.catch_up(to_moment(now), ENDPOINTS) == []  # one round was enough

    dst_day = day_hours(day, tz)
    assert len(dst_day) == hours
    for series, feed in SERIES_FEED.items():
        written = table.hours(series)
        for past in (day - timedelta(days=1), day, day + timedelta(days=1)):
            for hour in day_hours(past, tz):
                assert written[hour] == cloud.hour_wh(feed, hour), (series, to_moment(hour))
        # the day's total is the energy from its first hour's start to the next day's
        day_total = sum(
            wh for end, wh in cloud.truth[feed].items() if dst_day[0] < end <= dst_day.stop
        )
        assert sum(written[hour] for hour in dst_day) == day_total
    # day-long windows laid end to end: 24 + 25 + 24 hours take four, 24 + 23 + 24 three
    assert {len(starts) for starts in fetches.values()} == {4 if hours == 25 else 3}
    assert all(
        b - a == 86_400 for starts in fetches.values() for a, b in itertools.pairwise(starts)
    )


def test_an_adelaide_hour_runs_from_half_past_to_half_past() -> None:
    tz = ZoneInfo("Australia/Adelaide")
    day = date(2026, 6, 1)
    hours = day_hours(day, tz)
    start = hours.start - 1800  # local midnight, 30 minutes before the first statistics hour
    now = hours.stop + 3600
    cloud = SlotCloud(synthetic_truth(start - 3600, now, seed=7), published=now)
    history = HistoryTracker("Australia/Adelaide", to_moment(start))
    needs = history.catch_up(to_moment(now), [Endpoint.CONSUMPTION_METER])
    # the first fetch starts at the day's first statistics hour; a day's window from there
    # ends at 00:30 local, exactly the day's last statistics hour
    assert [to_epoch(need.start_at) for need in needs] == [hours.start]
    history.ingest([cloud.answer(Endpoint.CONSUMPTION_METER, hours.start, now)])
    table = StatisticsTable()
    table.apply(history)
    written = table.hours(Series.CONSUMPTION)
    assert list(written) == list(hours)  # 00:30-01:30 local is the first, 23:30-00:30 the last
    assert all(written[h] == cloud.hour_wh(Feed.CONSUMPTION_METER, h) for h in hours)
