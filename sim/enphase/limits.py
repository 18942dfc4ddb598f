"""Per-application request quotas per calendar minute and per calendar month (UTC)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sim.enphase.config import Plan


@dataclass(frozen=True, slots=True)
class Window:
    """One quota period: its kind ("minute" or "month") and its bounds in epoch seconds."""

    period: str
    start: int
    end: int


def minute_window(now: datetime) -> Window:
    """Return the calendar minute holding `now`."""
    start = int(now.timestamp()) // 60 * 60
    return Window("minute", start, start + 60)


def month_window(now: datetime) -> Window:
    """Return the calendar month (UTC) holding `now`."""
    first = datetime(now.year, now.month, 1, tzinfo=UTC)
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return Window("month", int(first.timestamp()), int(following.timestamp()))


class RateLimiter:
    """Counts an application's accepted requests and refuses those over its plan's limits."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._counts: dict[Window, int] = {}

    def used(self, window: Window) -> int:
        """How many requests were accepted in `window`."""
        return self._counts.get(window, 0)

    def admit(self, now: datetime) -> dict[str, Any] | None:
        """Count a request, or return the 429 body when a limit is already reached."""
        windows = (
            (month_window(now), self.plan.per_month),
            (minute_window(now), self.plan.per_minute),
        )
        for window, limit in windows:
            if self.used(window) >= limit:
                return {
                    "message": "Too Many Requests",
                    "details": f"Usage limit exceeded for plan {self.plan.name}",
                    "code": 429,
                    "period": window.period,
                    "period_start": window.start,
                    "period_end": window.end,
                    "limit": limit,
                }
        self._counts = {w: c for w, c in self._counts.items() if w in dict(windows)}
        for window, _ in windows:
            self._counts[window] = self.used(window) + 1
        return None
