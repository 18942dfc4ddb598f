"""Time arithmetic in epoch seconds: UTC hours, and the hours that make up a local day.

Home Assistant's long-term statistics are rows per UTC hour (their `start` must be at minute 0 in
UTC), so every hour here is a UTC hour, whatever the zone. A local day is the set of UTC hours
that START within it: in a whole-hour zone that is its 23, 24 or 25 hours exactly; in a
half-hour zone (Australia/Adelaide, Lord Howe, India) each statistics hour runs from hh:30 to
hh+1:30 local time, and the hour that straddles local midnight belongs to the day it starts in,
which is also how Home Assistant adds hours up into days.
"""

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final

HOUR_S: Final = 3600


def to_epoch(moment: datetime) -> int:
    """Return whole epoch seconds of an aware datetime (a naive one has no instant)."""
    if moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return math.floor(moment.timestamp())


def to_moment(epoch: int) -> datetime:
    """Return the aware UTC datetime of an epoch second."""
    return datetime.fromtimestamp(epoch, UTC)


def hour_of_end(end: int) -> int:
    """Return the UTC hour holding the last second of an interval that ends at `end`."""
    return (end - 1) // HOUR_S * HOUR_S


def ceil_hour(epoch: int) -> int:
    """Return the first whole UTC hour at or after `epoch`."""
    return -(-epoch // HOUR_S) * HOUR_S


def local_day(epoch: int, zone: tzinfo) -> date:
    """Return the local date holding `epoch`."""
    return datetime.fromtimestamp(epoch, zone).date()


def midnight(day: date, zone: tzinfo) -> int:
    """Return the first instant of a local day.

    Where a DST change skips midnight itself, zoneinfo reads the missing 00:00 with the offset
    before the change, which is exactly the day's first real instant.
    """
    return to_epoch(datetime.combine(day, time(), zone))


def day_hours(day: date, zone: tzinfo) -> range:
    """Return the starts of the UTC hours that begin within a local day, oldest first."""
    first = ceil_hour(midnight(day, zone))
    end = ceil_hour(midnight(day + timedelta(days=1), zone))
    return range(first, end, HOUR_S)
