"""Hourly energy history from Enphase's interval data, for Home Assistant's long-term statistics.

Pure: no Home Assistant import, times passed in. `HistoryTracker.ingest` takes the interval
answers of a poll (`Fetched`), `pending` says which hours of which series must be (re)written
and `SeriesRewrite.rows` builds them with a running sum; `catch_up` lists the past days that
still miss hours, oldest first. The statistics layer (`..statistics`) writes the rows.

Hours are UTC hours, as Home Assistant's statistics require; intervals never straddle one,
because every zone's UTC offset is a whole number of quarter hours. See `hours` for how days
are cut (DST days of 23 and 25 hours, half-hour zones) and `tracker` for completeness,
trailing zeros and late intervals.
"""

from .feeds import ENDPOINT_FEEDS, Feed, Fetched, IntervalTelemetry, Series
from .tracker import LOOKBACK_DAYS, CatchUp, HistoryTracker, HourRow, SeriesRewrite

__all__ = [
    "ENDPOINT_FEEDS",
    "LOOKBACK_DAYS",
    "CatchUp",
    "Feed",
    "Fetched",
    "HistoryTracker",
    "HourRow",
    "IntervalTelemetry",
    "Series",
    "SeriesRewrite",
]
