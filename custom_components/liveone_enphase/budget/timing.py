"""Where a live poll lands: spaced by the allocation, anchored at sunrise, timed to publication.

The gateway reports on a fixed grid (every 15 minutes) and the cloud shows each report 15-25
minutes later. A poll placed just after the latest moment a report can appear always gets it,
so the value shown is as young as it can be for the calls spent; a poll on a clock grid gets
it only by luck and otherwise shows the report before, 15 minutes older.
"""

from datetime import datetime, timedelta
from math import floor

from .sun import SunCalendar

_MAX_SEARCH = timedelta(days=40)
_GOLDEN = 0.6180339887498949


def advance(
    calendar: SunCalendar,
    start: datetime,
    day_spacing: timedelta | None,
    night_spacing: timedelta | None,
) -> datetime | None:
    """Find the instant one poll's worth of time after `start`, with day and night rates.

    A poll is due once the time elapsed, weighted by 1/spacing of each part of the day, adds up
    to one. None when neither daylight nor night is funded.
    """
    if day_spacing is None and night_spacing is None:
        return None
    need = 1.0
    for segment in calendar.segments(start, start + _MAX_SEARCH):
        spacing = day_spacing if segment.daylight else night_spacing
        if spacing is None:
            continue
        length = segment.end - segment.start
        share = length / spacing
        if share >= need:
            return segment.start + spacing * need
        need -= share
    return None


def sunrise_anchor(
    calendar: SunCalendar, last: datetime, nominal: datetime, min_gap: timedelta
) -> datetime:
    """Pull a poll forward to the start of daylight if a sunrise falls before it.

    Without this, the first value of the day would be the last one of the evening until the
    weighted spacing runs out, well into the morning.
    """
    for start in calendar.daylight_starts(last + min_gap, nominal):
        return start
    return nominal


def align_to_publication(
    nominal: datetime,
    last_boundary: datetime | None,
    cadence: timedelta,
    visible_after: timedelta,
    dither: float,
) -> datetime:
    """Find a moment near `nominal` at which a new report is sure to be visible.

    Reports come every `cadence` after the boundary of the last one seen; each is visible at
    most `visible_after` after its boundary. Only reports newer than the last one seen count (a
    poll must be able to bring news).
    Between the publication moments before and after `nominal` the later one is taken with a
    probability equal to how close `nominal` is to it, decided by `dither` in [0, 1), so polls
    keep the planned spacing on average instead of always rounding the same way.
    """
    if last_boundary is None:
        return nominal
    first = last_boundary + cadence + visible_after
    if nominal <= first:
        return first
    steps = floor((nominal - first) / cadence + dither)
    return first + cadence * steps


def dither_for(moment: datetime) -> float:
    """Derive a well-spread number in [0, 1) from an instant (the golden-ratio sequence).

    Seeded by the last poll's persisted time, so planning again after a restart gives the same
    answer.
    """
    return (moment.timestamp() / 60 * _GOLDEN) % 1.0
