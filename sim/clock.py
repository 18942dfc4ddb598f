"""Injectable clocks: the simulators run on the wall clock or are stepped by tests."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

type Clock = Callable[[], datetime]


class SystemClock:
    """The wall clock, for the standalone demo server."""

    def __call__(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to, so tests never sleep."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def __call__(self) -> datetime:
        """Return the current simulated time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward (never back: the simulated physics only integrates forward)."""
        if delta < timedelta(0):
            raise ValueError("a ManualClock cannot go backwards")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an absolute instant at or after the current one."""
        return self.advance(_as_utc(when) - self._now)


def _as_utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return when.astimezone(UTC)
