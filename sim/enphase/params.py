"""Query parameters as the API reads them: telemetry windows, date ranges, pagination."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sim.enphase.errors import ApiError, unprocessable
from sim.enphase.system import SystemView

GRANULARITY_S = {"5mins": 300, "15mins": 900, "day": 86_400, "week": 604_800}
_MAX_AGE_S = 2 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class TelemetryWindow:
    """The span one telemetry call covers: (start, end] in epoch seconds."""

    start: int
    end: int
    granularity: str
    by_date: bool

    def fields(self, view: SystemView) -> dict[str, object]:
        """`start_at`/`end_at`, or `start_date`/`end_date` when the caller passed start_date."""
        if self.by_date:
            return {
                "start_date": view.local_date(self.start).isoformat(),
                "end_date": view.local_date(self.end).isoformat(),
            }
        return {"start_at": self.start, "end_at": self.end}


def parse_date(value: str, name: str) -> date:
    """Parse a YYYY-MM-DD parameter, or answer 422."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise unprocessable(f"Invalid {name}: expected YYYY-MM-DD") from None


def parse_int(value: str, name: str) -> int:
    """Parse an integer parameter, or answer 422."""
    try:
        return int(value)
    except ValueError:
        raise unprocessable(f"Invalid {name}: expected an integer") from None


def telemetry_window(query: Mapping[str, str], view: SystemView) -> TelemetryWindow:
    """Work out the window of a telemetry call (default: from local midnight, a day)."""
    granularity = query.get("granularity", "day")
    if granularity not in GRANULARITY_S:
        raise unprocessable(f"Invalid granularity '{granularity}'")
    by_date = "start_at" not in query and "start_date" in query
    if "start_at" in query:
        start = parse_int(query["start_at"], "start_at")
    elif by_date:
        start = view.midnight(parse_date(query["start_date"], "start_date"))
    else:
        start = view.midnight(view.local_date())
    first_interval = view.model.start
    if start > view.now:
        raise unprocessable(
            "Invalid request because of 'Requested date range is invalid for this system. "
            f"{{:start_at=>{start}, :end_at=>{view.now}, :first_interval=>{first_interval}, "
            f":last_interval=>{view.data_until}}}'"
        )
    if start < view.now - _MAX_AGE_S:
        raise unprocessable("The requested start date must be within 2 years from current date")
    start = max(start, first_interval)
    end = min(view.now, start + GRANULARITY_S[granularity])
    return TelemetryWindow(start, end, granularity, by_date)


def lifetime_range(query: Mapping[str, str], view: SystemView) -> tuple[date, date]:
    """Return the first and last local day of a lifetime series (end: yesterday)."""
    today = view.local_date()
    operational = view.site.operational_date
    first = parse_date(query["start_date"], "start_date") if "start_date" in query else operational
    if first > today:
        raise unprocessable("Requested date is in the future")
    first = max(first, operational)
    if "end_date" in query:
        last = parse_date(query["end_date"], "end_date")
        if last > today:
            raise unprocessable("Requested date is in the future")
    else:
        last = today - timedelta(days=1) if first < today else today
    if last < first:
        raise unprocessable("Requested date range is invalid for this system")
    return first, last


def summary_date(query: Mapping[str, str], view: SystemView) -> date:
    """Return the day a summary describes (default: the system's local today)."""
    if "summary_date" not in query:
        return view.local_date()
    day = parse_date(query["summary_date"], "summary_date")
    if day > view.local_date():
        raise unprocessable("Requested date is in the future")
    return day


def page_params(query: Mapping[str, str]) -> tuple[int, int, bool]:
    """Return page, size and whether the order is descending, validated per the spec."""
    page = parse_int(query.get("page", "1"), "page")
    size = parse_int(query.get("size", "10"), "size")
    sort_by = query.get("sort_by", "id")
    if sort_by not in {"id", "-id"}:
        raise unprocessable(
            "Invalid request because of 'The sorting parameter is not supported. "
            "Please use id for sorting by Asc or -id for sorting by Desc'"
        )
    if page < 1 or not 1 <= size <= 100:
        raise ApiError(422, "Invalid request because of 'page must be >= 1 and size 1..100'")
    return page, size, sort_by == "-id"
