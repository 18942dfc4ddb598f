"""Switches that make the simulated LiveOne receiver fail the ways a real one can."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sim.clock import Clock

ERROR_MESSAGES: dict[int, str] = {
    400: "bad request",
    401: "invalid API key",
    404: "unknown site",
    422: "no readings could be stored",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "datastore unavailable",
    504: "gateway timeout",
}


@dataclass(slots=True)
class ForcedStatus:
    """Answer every POST with `status` (for `remaining` requests, or until cleared)."""

    status: int
    remaining: int | None
    retry_after: int | None


@dataclass(slots=True)
class _Hold:
    """One engagement of the gate: the requests it holds all end the same way."""

    released: asyncio.Event
    aborted: bool = False


class SlowGate:
    """Holds requests until released, or until the injected clock passes a time.

    A manual clock cannot wake anyone, so the receiver calls `check_clock()` on every request and
    tests call it after moving the clock; nothing here sleeps for real. Waiting is an asyncio
    wait, so a cancelled handler (client gone, server shutting down) just stops.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._until: datetime | None = None
        self._active = False
        self._hold = _Hold(asyncio.Event())
        self._changed = asyncio.Condition()
        self.waiting = 0

    @property
    def active(self) -> bool:
        """Whether new requests are held."""
        return self._active

    def engage(self, until: datetime | None) -> None:
        """Hold requests from now on, until `release()` or (if given) `until` on the clock."""
        self._active = True
        self._until = until
        self._hold = _Hold(asyncio.Event())

    def release(self) -> None:
        """Let every held request go on, and stop holding new ones."""
        self._active = False
        self._until = None
        self._hold.released.set()

    def abort(self) -> None:
        """Let held requests go without an answer (the server is going away)."""
        self._hold.aborted = True
        self.release()

    def check_clock(self) -> None:
        """Release the held requests if the clock has reached the `until` time."""
        if self._active and self._until is not None and self._clock() >= self._until:
            self.release()

    async def hold(self) -> bool:
        """Wait until released; return False if the wait was aborted rather than released."""
        hold = self._hold
        self.waiting += 1
        async with self._changed:
            self._changed.notify_all()
        try:
            await hold.released.wait()
        finally:
            self.waiting -= 1
        return not hold.aborted

    async def wait_for_waiting(self, count: int = 1) -> None:
        """Return once at least `count` requests are held (tests use it instead of sleeping)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.waiting >= count)
