"""UTC hours and local days, across DST changes and in half-hour zones."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.liveone_enphase.history.hours import (
    ceil_hour,
    day_hours,
    hour_of_end,
    local_day,
    midnight,
    to_epoch,
    to_moment,
)

from .helpers import utc


@pytest.mark.parametrize(
    ("zone", "day", "hours", "first_utc", "first_local"),
    [
        # southern hemisphere: DST ends in April (25 h), starts in October (23 h)
        ("Australia/Melbourne", date(2026, 4, 5), 25, utc(2026, 4, 4, 13), "00:00"),
        ("Australia/Melbourne", date(2026, 10, 4), 23, utc(2026, 10, 3, 14), "00:00"),
        # northern hemisphere
        ("Europe/Berlin", date(2026, 3, 29), 23, utc(2026, 3, 28, 23), "00:00"),
        ("Europe/Berlin", date(2026, 10, 25), 25, utc(2026, 10, 24, 22), "00:00"),
        ("America/New_York", date(2026, 3, 8), 23, utc(2026, 3, 8, 5), "00:00"),
        ("America/New_York", date(2026, 11, 1), 25, utc(2026, 11, 1, 4), "00:00"),
        # half-hour zones: every statistics hour runs hh:30 - hh+1:30 local time
        ("Australia/Adelaide", date(2026, 6, 1), 24, utc(2026, 5, 31, 15), "00:30"),
        ("Australia/Adelaide", date(2026, 4, 5), 25, utc(2026, 4, 4, 14), "00:30"),
        ("Australia/Adelaide", date(2026, 10, 4), 23, utc(2026, 10, 3, 15), "00:30"),
        # Lord Howe moves its clock by 30 minutes: its days are 23.5 and 24.5 hours long, which
        # UTC hours cut into 23 and 25 (the half hour goes to the day the straddling hour starts in)
        ("Australia/Lord_Howe", date(2026, 10, 4), 23, utc(2026, 10, 3, 14), "00:30"),
        ("Australia/Lord_Howe", date(2026, 4, 5), 25, utc(2026, 4, 4, 13), "00:00"),
    ],
)
def test_a_day_is_the_utc_hours_that_start_in_it(
    zone: str, day: date, hours: int, first_utc: datetime, first_local: str
) -> None:
    tz = ZoneInfo(zone)
    found = day_hours(day, tz)
    assert len(found) == hours
    assert to_moment(found.start) == first_utc
    assert datetime.fromtimestamp(found.start, tz).strftime("%H:%M") == first_local
    assert all(hour % 3600 == 0 for hour in found)
    assert all(local_day(hour, tz) == day for hour in found)
    # consecutive days tile the timeline: no hour lost, none counted twice
    assert day_hours(day + timedelta(days=1), tz).start == found.stop
    assert day_hours(day - timedelta(days=1), tz).stop == found.start


def test_a_midnight_skipped_by_dst_is_the_first_real_instant_of_the_day() -> None:
    santiago = ZoneInfo("America/Santiago")  # clocks go from 24:00 to 01:00 on 2026-09-06
    start = midnight(date(2026, 9, 6), santiago)
    assert to_moment(start) == utc(2026, 9, 6, 4)
    assert datetime.fromtimestamp(start, santiago).strftime("%H:%M") == "01:00"
    assert local_day(start - 1, santiago) == date(2026, 9, 5)


def test_an_interval_belongs_to_the_hour_holding_its_last_second() -> None:
    ten = to_epoch(utc(2026, 1, 15, 10))
    assert hour_of_end(ten) == ten - 3600  # 09:45-10:00 is in the 09:00 hour
    assert hour_of_end(ten + 300) == ten
    assert ceil_hour(ten) == ten
    assert ceil_hour(ten + 1) == ten + 3600


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_epoch(datetime(2026, 1, 15))
