"""The call ledger: every request one Enphase application makes, counted against its plan.

One ledger per application (client id / API key): all systems and all config entries that share
the application share its limits, so they must share one ledger.

Months are calendar months in UTC. Enphase does not document the time zone of its monthly
window; its 429 bodies carry UTC epoch bounds and the simulator counts UTC months. Should the
real month start in another zone, the calls made between the two month starts are the few of one
night, which the reserve covers.

Minutes: Enphase counts fixed calendar minutes (`period_start`/`period_end` in its 429 body). The
ledger counts a SLIDING window of 61 seconds instead, which is stricter: any fixed minute lies
inside some sliding window, and the extra second absorbs clock skew and transit time.

A request is counted when the guard admits it (before it is sent), so concurrent requests cannot
all slip through one free slot; a request that then never leaves stays counted, which errs on
the safe side.
"""

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Self

from ..enphase import EnphaseRequestRefused, RequestOutcome, RequestRecord
from ..stored import (
    Record,
    StoredDataError,
    each,
    entries,
    epoch_time,
    integer,
    non_negative,
    text,
)
from .limits import PlanLimits

type Clock = Callable[[], datetime]

TOKEN_ENDPOINT: Final = "oauth/token"  # noqa: S105 - an endpoint name, not a secret
"""Endpoint name under which token requests are counted (the client's templates have no slash
prefix either); token requests are priority calls and may use the reserve."""

MINUTE_WINDOW: Final = timedelta(seconds=61)
_STORAGE_VERSION: Final = 1
_HISTORY_MONTHS: Final = 12
_UNKNOWN_PERIOD_BLOCK: Final = timedelta(minutes=5)


def month_start(when: datetime) -> datetime:
    """Return the first instant of the UTC calendar month holding `when`."""
    utc = when.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month_start(when: datetime) -> datetime:
    """Return the first instant of the UTC calendar month after the one holding `when`."""
    start = month_start(when)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def _month_key(when: datetime) -> str:
    return month_start(when).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A snapshot of the ledger, as the planner needs it."""

    now: datetime
    limits: PlanLimits
    used: int
    token_requests: int
    failed: int
    blocked_until: datetime | None
    blocked_period: str | None
    recent: tuple[datetime, ...]
    minute_limit: int
    """Ordinary requests allowed in any minute (slots kept for token refreshes excluded)."""
    last_request_at: datetime | None = None
    assumed: int = 0
    """Of `used`, the calls assumed when the saved count was lost (see `at_even_pace`)."""
    counted_since: datetime | None = None
    """When counting began this month, if not at its start (the saved count was lost)."""

    @property
    def pace(self) -> tuple[int, timedelta]:
        """The calls counted, not assumed, this month, and over how long they were counted."""
        since = max(self.counted_since or self.month_start, self.month_start)
        return self.used - self.assumed, self.now - since

    @property
    def month_start(self) -> datetime:
        """Start of the current UTC month."""
        return month_start(self.now)

    @property
    def month_end(self) -> datetime:
        """End (exclusive) of the current UTC month, when the count starts again."""
        return next_month_start(self.now)

    @property
    def month_blocked(self) -> bool:
        """Whether Enphase said the month is used up (a month 429 still in force)."""
        return self.blocked_period == "month" and self.blocked_until is not None

    @property
    def usable_left(self) -> int:
        """Ordinary requests still allowed this month (the reserve excluded)."""
        if self.month_blocked:
            return 0
        return max(0, self.limits.pollable - self.used)

    @property
    def hard_left(self) -> int:
        """Requests still allowed this month if the reserve is spent too."""
        if self.month_blocked:
            return 0
        return max(0, self.limits.per_month - self.used)

    def minute_free_at(self, calls: int) -> datetime:
        """Tell the earliest instant (not before now) at which `calls` ordinary requests fit.

        `calls` above the minute limit are treated as the limit: such a batch must be split.
        """
        calls = min(max(calls, 1), self.minute_limit)
        start = self.now if self.blocked_until is None else max(self.now, self.blocked_until)
        window = [moment for moment in self.recent if moment > start - MINUTE_WINDOW]
        keep = self.minute_limit - calls
        if len(window) <= keep:
            return start
        return window[len(window) - keep - 1] + MINUTE_WINDOW


class CallLedger:
    """Counts requests per UTC month and per sliding minute, and refuses what would break a limit.

    Implements the client's `RequestGuard`. Ordinary requests are refused once only the reserve
    is left; priority requests (token refreshes by default) may use the reserve. A 429 blocks
    everything until Enphase's `period_end`.

    `limits` is a setting, not part of the count: assigning new limits (the user changed the
    plan) takes effect with the next question and keeps every count of the month.
    """

    def __init__(
        self,
        limits: PlanLimits,
        clock: Clock,
        *,
        priority_endpoints: Iterable[str] = (TOKEN_ENDPOINT,),
        minute_headroom: int = 1,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._priority = frozenset(priority_endpoints)
        self._headroom = minute_headroom
        self._month = _month_key(clock())
        self._month_end = next_month_start(clock())
        self._used = 0
        self._token_requests = 0
        self._failed = 0
        self._by_endpoint: dict[str, int] = {}
        self._history: dict[str, int] = {}
        self._recent: deque[datetime] = deque()
        self._admitted: dict[str, int] = {}
        self._blocked_until: datetime | None = None
        self._blocked_period: str | None = None
        self._last_request_at: datetime | None = None
        self._assumed = 0
        self._counted_since: datetime | None = None

    # --- RequestGuard -------------------------------------------------------------------------

    async def before_request(self, endpoint: str) -> None:
        """Admit and count the request, or raise `EnphaseRequestRefused` (nothing is sent)."""
        now = self._clock()
        retry_at = self.refusal(endpoint, now)
        if retry_at is not None:
            raise EnphaseRequestRefused(
                f"{endpoint}: refused by the call budget until {retry_at.isoformat()}",
                endpoint=endpoint,
                retry_at=retry_at,
            )
        self._count(endpoint, now)
        self._admitted[endpoint] = self._admitted.get(endpoint, 0) + 1

    def after_request(self, record: RequestRecord) -> None:
        """Book the outcome of a request; one the guard never admitted is counted now."""
        self._roll(record.started_at)
        if self._admitted.get(record.endpoint, 0) > 0:
            self._admitted[record.endpoint] -= 1
        else:
            self._count(record.endpoint, record.started_at)
        if record.outcome is not RequestOutcome.OK:
            self._failed += 1
        if record.outcome is RequestOutcome.RATE_LIMITED:
            # Provisional: the runner passes the 429's own period with note_rate_limit().
            self._block(record.started_at + MINUTE_WINDOW, "minute")

    # --- other ways in ------------------------------------------------------------------------

    def record_token_request(
        self,
        at: datetime,
        *,
        status: int | None = 200,
        outcome: RequestOutcome = RequestOutcome.OK,
    ) -> None:
        """Count a token request made outside the client (HA's OAuth session refreshing)."""
        self.after_request(RequestRecord(TOKEN_ENDPOINT, at, status, outcome))

    def note_rate_limit(
        self, period: str | None, period_end: datetime | None, *, at: datetime | None = None
    ) -> None:
        """Honour a 429: block every request until `period_end`.

        Without a `period_end`: a minute 429 blocks one window, a month 429 until the month
        ends, and one that names no period blocks for five minutes.
        """
        now = at or self._clock()
        if period_end is None:
            if period == "month":
                period_end = next_month_start(now)
            elif period == "minute":
                period_end = now + MINUTE_WINDOW
            else:
                period_end = now + _UNKNOWN_PERIOD_BLOCK
        self._block(period_end, period or "unknown")

    # --- questions ----------------------------------------------------------------------------

    def refusal(self, endpoint: str, now: datetime | None = None) -> datetime | None:
        """When a request to `endpoint` would be allowed, or None if it would be allowed now."""
        now = now or self._clock()
        self._roll(now)
        if self._blocked_until is not None:
            if now < self._blocked_until:
                return self._blocked_until
            self._blocked_until = self._blocked_period = None
        priority = endpoint in self._priority
        month_cap = self.limits.per_month if priority else self.limits.pollable
        if self._used >= month_cap:
            return next_month_start(now)
        minute_cap = self.limits.per_minute if priority else self._ordinary_minute_cap
        self._prune(now)
        if len(self._recent) >= minute_cap:
            return self._recent[len(self._recent) - minute_cap] + MINUTE_WINDOW
        return None

    def status(self, now: datetime | None = None) -> BudgetStatus:
        """Take a snapshot for the planner."""
        now = now or self._clock()
        self._roll(now)
        self._prune(now)
        blocked = self._blocked_until is not None and now < self._blocked_until
        return BudgetStatus(
            now=now,
            limits=self.limits,
            used=self._used,
            token_requests=self._token_requests,
            failed=self._failed,
            blocked_until=self._blocked_until if blocked else None,
            blocked_period=self._blocked_period if blocked else None,
            recent=tuple(self._recent),
            minute_limit=self._ordinary_minute_cap,
            last_request_at=self._last_request_at,
            assumed=self._assumed,
            counted_since=self._counted_since,
        )

    @property
    def _ordinary_minute_cap(self) -> int:
        return max(1, self.limits.per_minute - self._headroom)

    @property
    def used(self) -> int:
        """Requests counted in the current month."""
        self._roll(self._clock())
        return self._used

    @property
    def by_endpoint(self) -> Mapping[str, int]:
        """Requests per endpoint template this month (diagnostics)."""
        self._roll(self._clock())
        return dict(self._by_endpoint)

    @property
    def history(self) -> Mapping[str, int]:
        """Totals of past months ("YYYY-MM" → requests), the last twelve."""
        self._roll(self._clock())
        return dict(self._history)

    @property
    def last_request_at(self) -> datetime | None:
        """When the newest counted request was made."""
        return self._last_request_at

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return a small JSON-able snapshot, cheap enough to save after every call."""
        return {
            "version": _STORAGE_VERSION,
            "month": self._month,
            "used": self._used,
            "token_requests": self._token_requests,
            "failed": self._failed,
            "by_endpoint": dict(self._by_endpoint),
            "history": dict(self._history),
            "recent": [moment.timestamp() for moment in self._recent],
            "blocked_until": _epoch(self._blocked_until),
            "blocked_period": self._blocked_period,
            "last_request_at": _epoch(self._last_request_at),
            "assumed": self._assumed,
            "counted_since": _epoch(self._counted_since),
        }

    @classmethod
    def from_dict(
        cls,
        data: object,
        limits: PlanLimits,
        clock: Clock,
        *,
        priority_endpoints: Iterable[str] = (TOKEN_ENDPOINT,),
        minute_headroom: int = 1,
        path: str = "ledger",
    ) -> Self:
        """Restore a ledger saved by `to_dict` (limits are settings, not stored).

        Raises `StoredDataError` for anything else, a store of another version included.
        """
        obj = Record(data, path)
        if obj.get("version", integer) != _STORAGE_VERSION:
            raise StoredDataError(f"{path}.version: not a version this release reads")
        ledger = cls(
            limits, clock, priority_endpoints=priority_endpoints, minute_headroom=minute_headroom
        )
        ledger._month = obj.get("month", _month)
        ledger._month_end = datetime.min.replace(tzinfo=UTC)  # roll (or not) on first use
        ledger._used = obj.get("used", non_negative)
        ledger._token_requests = obj.get("token_requests", non_negative)
        ledger._failed = obj.get("failed", non_negative)
        ledger._by_endpoint = obj.get("by_endpoint", entries(text, non_negative))
        ledger._history = obj.get("history", entries(_month, non_negative))
        ledger._recent = deque(sorted(obj.get("recent", each(epoch_time))))
        ledger._blocked_until = obj.opt("blocked_until", epoch_time)
        ledger._blocked_period = obj.opt("blocked_period", text)
        ledger._last_request_at = obj.opt("last_request_at", epoch_time)
        ledger._assumed = obj.opt("assumed", non_negative, may_be_absent=True) or 0
        ledger._counted_since = obj.opt("counted_since", epoch_time, may_be_absent=True)
        ledger._roll(clock())
        return ledger

    @classmethod
    def at_even_pace(
        cls,
        limits: PlanLimits,
        clock: Clock,
        *,
        priority_endpoints: Iterable[str] = (TOKEN_ENDPOINT,),
        minute_headroom: int = 1,
    ) -> Self:
        """Start a ledger when the saved count is lost: assume the month was used evenly so far.

        A count of zero would let the planner spend the whole month again. Assuming the pollable
        calls were used at an even pace up to now leaves the rest of the month its fair share;
        if more had really been spent, Enphase's 429 stops the calls and the ledger honours it.
        """
        ledger = cls(
            limits, clock, priority_endpoints=priority_endpoints, minute_headroom=minute_headroom
        )
        now = clock()
        start = month_start(now)
        elapsed = (now - start) / (next_month_start(now) - start)
        ledger._used = ledger._assumed = math.floor(limits.pollable * elapsed)
        ledger._counted_since = now
        return ledger

    # --- internals ----------------------------------------------------------------------------

    def _count(self, endpoint: str, at: datetime) -> None:
        self._roll(at)
        self._used += 1
        self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1
        if endpoint == TOKEN_ENDPOINT:
            self._token_requests += 1
        self._recent.append(at)
        if len(self._recent) > 1 and self._recent[-2] > at:
            self._recent = deque(sorted(self._recent))
        if self._last_request_at is None or at > self._last_request_at:
            self._last_request_at = at

    def _block(self, until: datetime, period: str) -> None:
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
            self._blocked_period = period
        elif period == "month":
            self._blocked_period = period

    def _prune(self, now: datetime) -> None:
        while self._recent and self._recent[0] <= now - MINUTE_WINDOW:
            self._recent.popleft()

    def _roll(self, now: datetime) -> None:
        """Start a new month's count when the UTC month has changed."""
        if now < self._month_end:
            return
        key = _month_key(now)
        self._month_end = next_month_start(now)
        if key <= self._month:
            return
        self._history[self._month] = self._used
        for old in sorted(self._history)[:-_HISTORY_MONTHS]:
            del self._history[old]
        self._month = key
        self._used = 0
        self._token_requests = 0
        self._failed = 0
        self._by_endpoint = {}
        self._assumed = 0
        self._counted_since = None


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _month(value: object, path: str) -> str:
    """Read a month key, "YYYY-MM" (months are compared as text, so the form matters)."""
    key = text(value, path)
    try:
        valid = datetime.strptime(key, "%Y-%m").strftime("%Y-%m") == key
    except ValueError:
        valid = False
    if not valid:
        raise StoredDataError(f"{path}: expected a month as YYYY-MM")
    return key
