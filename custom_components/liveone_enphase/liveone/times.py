"""One spelling of time on the wire, so LiveOne's dedup key (site, point, time) stays stable.

Every time we send is ISO 8601 in UTC with a "Z" suffix, whole seconds unless the moment has a
fraction (then milliseconds): a resend of the same reading always produces the same text.
"""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with "Z"; naive datetimes are a caller's bug."""
    if moment.tzinfo is None:
        raise ValueError("times sent to LiveOne must be timezone-aware")
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def parse_iso_utc(text: object) -> datetime | None:
    """Read a time written by `iso_utc` (or any ISO 8601 with an offset); None if unusable."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
        # An offset can push the first or last day of the calendar past its end.
        return None if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError, OverflowError:
        return None


def epoch_ms(moment: datetime) -> int:
    """Count whole milliseconds since the Unix epoch (integer arithmetic: no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)
