"""The durable outbox: at-least-once delivery of batches to LiveOne, across outages and restarts.

Delivery rules (LiveOne is idempotent on (site, point, time), so resending is always safe):
- `enqueue` persists a batch BEFORE anything tries to send it; `drain` sends the oldest first.
- 2xx removes the batch. Removals are persisted once per `drain` call: a crash before that save
  only causes a resend, which LiveOne stores once.
- 429, 5xx, timeouts and network errors keep the batch and back off: the n-th consecutive failure
  waits `min(cap, base * 2**(n-1))` scaled by a jitter factor in [0.5, 1), so never longer than
  the cap (default base 10 s, cap 15 min); a Retry-After is honoured up to the cap.
- 400/413/422 drop that batch and record it (`DropReason.REJECTED`).
- 401/403, 404 and an invalid URL PAUSE the outbox (`paused_auth`, `paused_unknown_site`,
  `paused_invalid_url`) until `resume()`; while paused it sends at most one probe (the oldest
  batch) per `pause_probe_interval` (default 1 h; None: never), so a key fixed on LiveOne's side
  is noticed without a retry storm; a probe that fails transiently keeps the pause.
- Bounds (defaults): batches older than 30 days (by creation) and, beyond 20,000 pending
  readings (about 1.3 MB of storage), the oldest batches are dropped; each drop is recorded with
  its reason and reading count, for a repair issue.
- `drain` sends at most `batches_per_drain` (20) batches and yields to the event loop between
  sends; the caller drains again at `status.next_attempt_at`.

Pause and backoff are not persisted: after a restart one request finds out the current state.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from ..stored import StoredDataError
from .batch import Batch
from .client import StoreResult
from .errors import (
    LiveOneAuthError,
    LiveOneBatchRejectedError,
    LiveOneError,
    LiveOneInvalidUrlError,
    LiveOneTransientError,
    LiveOneUnknownSiteError,
)
from .times import iso_utc, parse_iso_utc

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
_MAX_DOUBLINGS: Final = 32

type Clock = Callable[[], datetime]


class OutboxStorage(Protocol):
    """Where the outbox keeps its data (the HA layer backs it with a `Store`)."""

    def load(self) -> Awaitable[Mapping[str, object] | None]:
        """Return what `save` last saved, or None if nothing was ever saved."""
        ...

    def save(self, data: dict[str, object]) -> Awaitable[None]:
        """Persist `data` (JSON-able) durably."""
        ...


class BatchSender(Protocol):
    """What sends a batch: `LiveOneClient` (errors from `errors.py` say what happened)."""

    def store(self, batch: Batch) -> Awaitable[StoreResult]:
        """Send one batch and return once LiveOne acknowledged it."""
        ...


class OutboxState(StrEnum):
    """Whether the outbox is pushing, waiting after a transient failure, or paused."""

    OK = "ok"
    BACKOFF = "backoff"
    PAUSED_AUTH = "paused_auth"
    PAUSED_UNKNOWN_SITE = "paused_unknown_site"
    PAUSED_INVALID_URL = "paused_invalid_url"

    @property
    def paused(self) -> bool:
        """Whether only the user (or a successful probe) can restart pushing."""
        return self.value.startswith("paused_")


class DropReason(StrEnum):
    """Why readings left the outbox without reaching LiveOne."""

    REJECTED = "rejected"
    MAX_AGE = "max_age"
    MAX_READINGS = "max_readings"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    """Bounds and timing of the outbox (the defaults are documented in the module docstring)."""

    max_age: timedelta = timedelta(days=30)
    max_readings: int = 20_000
    batches_per_drain: int = 20
    backoff_base: timedelta = timedelta(seconds=10)
    backoff_cap: timedelta = timedelta(minutes=15)
    pause_probe_interval: timedelta | None = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DropRecord:
    """One loss of data: when, why, how much, and the receiver's or bound's explanation."""

    at: datetime
    reason: DropReason
    batches: int
    readings: int
    detail: str


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """A snapshot for diagnostics, entities and repairs.

    `next_attempt_at` is when `drain` can next send: now if batches are waiting and nothing
    holds them, the end of the backoff, the next probe while paused, or None (nothing to do,
    or paused without probing).
    """

    state: OutboxState
    pending_batches: int
    pending_readings: int
    oldest_pending_at: datetime | None
    last_ack_at: datetime | None
    next_attempt_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    dropped_readings: Mapping[DropReason, int] = field(default_factory=dict)
    last_drop: DropRecord | None = None

    @property
    def dropped_total(self) -> int:
        """Count every reading ever dropped, whatever the reason."""
        return sum(self.dropped_readings.values())


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one `drain` call did."""

    attempted: int = 0
    acked: int = 0
    rejected: int = 0


class Outbox:
    """Batches waiting for LiveOne, persisted through `storage`, sent through `sender`.

    `rand` returns a float in [0, 1) for the backoff jitter (inject a fixed one in tests).
    Call `load()` at setup so `status` shows the persisted backlog (`enqueue` and `drain` load
    on first use anyway).
    """

    def __init__(
        self,
        sender: BatchSender,
        storage: OutboxStorage,
        *,
        clock: Clock,
        limits: OutboxLimits | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._sender = sender
        self._storage = storage
        self._clock = clock
        self._limits = limits or OutboxLimits()
        self._rand = rand
        self._batches: list[Batch] = []
        self._loaded = False
        self._state = OutboxState.OK
        self._failures = 0
        self._next_attempt_at: datetime | None = None
        self._last_error: str | None = None
        self._last_ack_at: datetime | None = None
        self._dropped: dict[DropReason, int] = {}
        self._last_drop: DropRecord | None = None
        self._in_flight: Batch | None = None
        self._draining = False
        self._dirty = False
        self._save_lock = asyncio.Lock()
        self._load_lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []

    @property
    def batches(self) -> tuple[Batch, ...]:
        """The pending batches, oldest first."""
        return tuple(self._batches)

    @property
    def status(self) -> OutboxStatus:
        """Return the current state, depth, timings and drop counters."""
        if self._state is OutboxState.OK:
            next_attempt = self._clock() if self._batches else None
        else:
            next_attempt = self._next_attempt_at
        return OutboxStatus(
            state=self._state,
            pending_batches=len(self._batches),
            pending_readings=self._pending_readings(),
            oldest_pending_at=self._batches[0].created_at if self._batches else None,
            last_ack_at=self._last_ack_at,
            next_attempt_at=next_attempt,
            consecutive_failures=self._failures,
            last_error=self._last_error,
            dropped_readings=dict(self._dropped),
            last_drop=self._last_drop,
        )

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after every change of status; return a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def load(self) -> None:
        """Read the persisted batches and counters (once; later calls do nothing).

        Callers that arrive while loading wait for it, so nothing is saved over unread data.
        """
        async with self._load_lock:
            if self._loaded:
                return
            data = await self._storage.load()
            self._loaded = True
            if data is None:
                return
            stored = data.get("batches")
            if data.get("version") != STORAGE_VERSION or not isinstance(stored, list):
                batches = stored if isinstance(stored, list) else []
                lost = sum(_stored_reading_count(raw) for raw in batches)
                self._record_drop(
                    DropReason.UNREADABLE, len(batches), lost, "outbox data of an unknown version"
                )
                return
            self._restore(data, stored)

    async def enqueue(self, batch: Batch) -> None:
        """Persist `batch` for sending (it is saved before any attempt), applying the bounds."""
        if len(batch.readings) > self._limits.max_readings:
            raise ValueError("a batch larger than the outbox's reading bound can never be kept")
        await self.load()
        self._batches.append(batch)
        self._apply_bounds()
        await self._save()
        self._notify()

    async def drain(self) -> DrainResult:
        """Send pending batches, oldest first, as far as the state and per-call bound allow."""
        await self.load()
        if self._draining:
            return DrainResult()
        self._draining = True
        attempted = acked = rejected = 0
        try:
            self._apply_bounds()
            while (
                self._batches
                and attempted < self._limits.batches_per_drain
                and self._may_send(self._clock())
            ):
                attempted += 1
                outcome = await self._send(self._batches[0])
                acked += outcome is _Outcome.ACKED
                rejected += outcome is _Outcome.REJECTED
                if outcome is _Outcome.STOP:
                    break
                await asyncio.sleep(0)
        finally:
            self._draining = False
            if self._dirty:
                await self._save()
            self._notify()
        return DrainResult(attempted, acked, rejected)

    def resume(self, sender: BatchSender | None = None) -> None:
        """Leave any pause or backoff (the user fixed the options); optionally swap the sender."""
        if sender is not None:
            self._sender = sender
        if self._state is not OutboxState.OK:
            _LOGGER.info("Pushing to LiveOne resumed from %s", self._state)
        self._state = OutboxState.OK
        self._failures = 0
        self._next_attempt_at = None
        self._last_error = None
        self._notify()

    async def _send(self, batch: Batch) -> _Outcome:
        self._in_flight = batch
        try:
            await self._sender.store(batch)
        except LiveOneBatchRejectedError as err:
            self._remove(batch)
            self._record_drop(DropReason.REJECTED, 1, len(batch.readings), str(err))
            self._reachable()
            return _Outcome.REJECTED
        except LiveOneTransientError as err:
            if self._state.paused:  # a failed probe says nothing about the key or site
                self._schedule_probe()
            else:
                self._back_off(err)
            return _Outcome.STOP
        except LiveOneAuthError as err:
            self._pause(OutboxState.PAUSED_AUTH, err)
            return _Outcome.STOP
        except LiveOneUnknownSiteError as err:
            self._pause(OutboxState.PAUSED_UNKNOWN_SITE, err)
            return _Outcome.STOP
        except LiveOneInvalidUrlError as err:
            self._pause(OutboxState.PAUSED_INVALID_URL, err)
            return _Outcome.STOP
        finally:
            self._in_flight = None
        self._remove(batch)
        self._last_ack_at = self._clock()
        self._dirty = True
        self._reachable()
        return _Outcome.ACKED

    def _may_send(self, now: datetime) -> bool:
        if self._state.paused and self._limits.pause_probe_interval is None:
            return False
        return self._next_attempt_at is None or now >= self._next_attempt_at

    def _reachable(self) -> None:
        """LiveOne accepted our credentials: clear failures and any pause."""
        if self._state is not OutboxState.OK:
            _LOGGER.info("LiveOne is reachable again; pushing the backlog")
        self._state = OutboxState.OK
        self._failures = 0
        self._next_attempt_at = None
        self._last_error = None

    def _back_off(self, err: LiveOneTransientError) -> None:
        self._failures += 1
        base = self._limits.backoff_base.total_seconds()
        cap = self._limits.backoff_cap.total_seconds()
        ceiling = min(cap, base * 2 ** min(self._failures - 1, _MAX_DOUBLINGS))
        delay = ceiling * (0.5 + 0.5 * self._rand())
        if err.retry_after is not None:
            delay = max(delay, min(err.retry_after, cap))
        self._state = OutboxState.BACKOFF
        self._last_error = str(err)
        self._next_attempt_at = self._clock() + timedelta(seconds=delay)

    def _pause(self, state: OutboxState, err: LiveOneError) -> None:
        if self._state is not state:
            _LOGGER.warning("Pushing to LiveOne paused (%s): %s", state, err)
        self._state = state
        self._last_error = str(err)
        self._schedule_probe()

    def _schedule_probe(self) -> None:
        probe = self._limits.pause_probe_interval
        self._next_attempt_at = self._clock() + probe if probe is not None else None

    def _apply_bounds(self) -> None:
        """Drop batches past the age bound, then the oldest ones beyond the size bound."""
        oldest_allowed = self._clock() - self._limits.max_age
        expired = [
            batch
            for batch in self._batches
            if batch.created_at < oldest_allowed and batch is not self._in_flight
        ]
        self._drop(expired, DropReason.MAX_AGE, f"older than {self._limits.max_age}")
        excess = self._pending_readings() - self._limits.max_readings
        overflow: list[Batch] = []
        for batch in self._batches:
            if excess <= 0:
                break
            if batch is not self._in_flight:
                overflow.append(batch)
                excess -= len(batch.readings)
        self._drop(overflow, DropReason.MAX_READINGS, f"over {self._limits.max_readings} readings")

    def _drop(self, batches: list[Batch], reason: DropReason, detail: str) -> None:
        if not batches:
            return
        for batch in batches:
            self._remove(batch)
        readings = sum(len(batch.readings) for batch in batches)
        self._record_drop(reason, len(batches), readings, detail)

    def _record_drop(self, reason: DropReason, batches: int, readings: int, detail: str) -> None:
        _LOGGER.warning("Dropped %d LiveOne readings (%s): %s", readings, reason, detail)
        self._dropped[reason] = self._dropped.get(reason, 0) + readings
        self._last_drop = DropRecord(self._clock(), reason, batches, readings, detail)
        self._dirty = True

    def _remove(self, batch: Batch) -> None:
        for index, pending in enumerate(self._batches):
            if pending is batch:
                del self._batches[index]
                self._dirty = True
                return

    def _pending_readings(self) -> int:
        return sum(len(batch.readings) for batch in self._batches)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def _save(self) -> None:
        """Persist the current state.

        The snapshot is taken under the lock, so the last save to finish holds the newest state.
        """
        async with self._save_lock:
            self._dirty = False
            await self._storage.save(self._snapshot())

    def _snapshot(self) -> dict[str, object]:
        last = self._last_drop
        return {
            "version": STORAGE_VERSION,
            "batches": [batch.to_dict() for batch in self._batches],
            "last_ack_at": iso_utc(self._last_ack_at) if self._last_ack_at else None,
            "dropped_readings": {str(reason): count for reason, count in self._dropped.items()},
            "last_drop": None
            if last is None
            else {
                "at": iso_utc(last.at),
                "reason": str(last.reason),
                "batches": last.batches,
                "readings": last.readings,
                "detail": last.detail,
            },
        }

    def _restore(self, data: Mapping[str, object], stored: list[object]) -> None:
        """Read a snapshot; counters that do not parse start again from zero."""
        self._last_ack_at = parse_iso_utc(data.get("last_ack_at"))
        dropped = data.get("dropped_readings")
        if isinstance(dropped, Mapping):
            self._dropped = {
                DropReason(reason): count
                for reason, count in dropped.items()
                if reason in DropReason
                and isinstance(count, int)
                and not isinstance(count, bool)
                and count >= 0
            }
        self._last_drop = _drop_record(data.get("last_drop"))
        unreadable = lost = 0
        for raw in stored:
            try:
                self._batches.append(Batch.from_dict(raw))
            except StoredDataError:
                unreadable += 1
                lost += _stored_reading_count(raw)
        if unreadable:
            self._record_drop(
                DropReason.UNREADABLE, unreadable, lost, f"{unreadable} stored batches unreadable"
            )


class _Outcome(StrEnum):
    ACKED = "acked"
    REJECTED = "rejected"
    STOP = "stop"


def _drop_record(raw: object) -> DropRecord | None:
    if not isinstance(raw, Mapping):
        return None
    at = parse_iso_utc(raw.get("at"))
    reason = raw.get("reason")
    batches, readings, detail = raw.get("batches"), raw.get("readings"), raw.get("detail")
    if (
        at is None
        or reason not in DropReason
        or not isinstance(batches, int)
        or not isinstance(readings, int)
        or not isinstance(detail, str)
    ):
        return None
    return DropRecord(at, DropReason(str(reason)), batches, readings, detail)


def _stored_reading_count(raw: object) -> int:
    """Count the readings of a stored batch that failed to load, as well as can be told."""
    readings = raw.get("readings") if isinstance(raw, Mapping) else None
    return len(readings) if isinstance(readings, list) else 0
