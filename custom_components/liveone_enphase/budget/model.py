"""What the planner reads (a system's profile and progress) and what it answers (a poll plan).

These are plain values: the readings state produces the progress, the runner executes the plan,
and the planner itself stays a pure function of them, the ledger's status and the clock.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from ..enphase import Endpoint, Granularity

PRODUCTION_INTERVALS = (Endpoint.PRODUCTION_MICRO, Endpoint.PRODUCTION_METER)
INTERVAL_ENDPOINTS = frozenset(
    {
        *PRODUCTION_INTERVALS,
        Endpoint.CONSUMPTION_METER,
        Endpoint.BATTERY_TELEMETRY,
        Endpoint.ENERGY_IMPORT_TELEMETRY,
        Endpoint.ENERGY_EXPORT_TELEMETRY,
    }
)
LIFETIME_ENDPOINTS = frozenset(
    {
        Endpoint.ENERGY_LIFETIME,
        Endpoint.CONSUMPTION_LIFETIME,
        Endpoint.BATTERY_LIFETIME,
        Endpoint.ENERGY_IMPORT_LIFETIME,
        Endpoint.ENERGY_EXPORT_LIFETIME,
    }
)
DEFAULT_REPORT_CADENCE = timedelta(minutes=15)
DEFAULT_VISIBLE_AFTER = timedelta(minutes=25, seconds=30)
"""How long after a report Enphase has surely published it (15-25 min lag, plus a margin)."""
FORBIDDEN_RETRY_AFTER = timedelta(days=30)
"""How long an endpoint Enphase refused (403) is left alone before it is tried once more."""


class Role(StrEnum):
    """Why an endpoint is in a plan."""

    LIVE = "live"
    """Current power for the display."""
    REFRESH = "refresh"
    """Interval data (and battery state of charge) fetched during the day, riding on live polls."""
    CATCH_UP = "catch_up"
    """The daily fetch that completes yesterday's and the night's intervals."""
    LIFETIME = "lifetime"
    """Daily totals: the first fill of the lifetime counters, then a periodic check."""
    RETRY = "retry"
    """One call to an endpoint Enphase refused (403) long ago or before a plan change: is it in
    the plan now?"""
    HISTORY = "history"
    """A past day the hourly statistics still miss: only with calls nothing else wants."""


@dataclass(frozen=True, slots=True)
class EndpointCall:
    """One request to make: the endpoint, and where its window starts.

    Interval endpoints use `start_at` and a window of `granularity` (a day, or a week where the
    endpoint allows it); lifetime endpoints use `start_date` (None: the whole lifetime).
    """

    endpoint: Endpoint
    role: Role
    start_at: datetime | None = None
    start_date: date | None = None
    granularity: Granularity | None = None


@dataclass(frozen=True, slots=True)
class PollPlan:
    """When to poll next and what to ask, per system. No calls: just plan again at `at`."""

    at: datetime
    calls: Mapping[int, tuple[EndpointCall, ...]]
    reason: str

    @property
    def call_count(self) -> int:
        """How many requests the plan makes."""
        return sum(len(calls) for calls in self.calls.values())


@dataclass(frozen=True, slots=True)
class Refusal:
    """Enphase refused an endpoint (403: outside the plan): when, and when to ask once more.

    A plan is not forever (the user may upgrade it), so a refusal is retried once
    `FORBIDDEN_RETRY_AFTER` later, or sooner when the user says the plan grew.
    """

    refused_at: datetime
    retry_at: datetime

    @classmethod
    def at(cls, moment: datetime) -> Refusal:
        """Date a refusal: the endpoint is left alone for `FORBIDDEN_RETRY_AFTER`."""
        return cls(moment, moment + FORBIDDEN_RETRY_AFTER)

    def retry_from(self, moment: datetime) -> Refusal:
        """Allow the retry from `moment` on (the plan changed), if it was not allowed earlier."""
        return replace(self, retry_at=min(self.retry_at, moment))


@dataclass(frozen=True, slots=True)
class SystemProfile:
    """What a system has, and which endpoints Enphase refused (403) for it."""

    system_id: int
    has_battery: bool = False
    has_consumption: bool = False
    has_production_meter: bool = False
    forbidden: frozenset[Endpoint] = frozenset()

    def usable(self, endpoint: Endpoint) -> bool:
        """Whether the endpoint applies to this system and is in the plan."""
        return endpoint not in self.forbidden and self.applies(endpoint)

    def applies(self, endpoint: Endpoint) -> bool:
        """Whether the endpoint applies to this system's hardware, plan or not."""
        match endpoint:
            case Endpoint.PRODUCTION_METER:
                return self.has_production_meter
            case Endpoint.BATTERY_TELEMETRY | Endpoint.BATTERY_LIFETIME:
                return self.has_battery
            case (
                Endpoint.CONSUMPTION_METER
                | Endpoint.CONSUMPTION_LIFETIME
                | Endpoint.ENERGY_IMPORT_TELEMETRY
                | Endpoint.ENERGY_EXPORT_TELEMETRY
                | Endpoint.ENERGY_IMPORT_LIFETIME
                | Endpoint.ENERGY_EXPORT_LIFETIME
            ):
                return self.has_consumption
        return True

    @property
    def production_intervals(self) -> Endpoint | None:
        """The production interval endpoint to use: 5-minute micro data, else the meter."""
        return next((e for e in PRODUCTION_INTERVALS if self.usable(e)), None)

    @property
    def history_endpoints(self) -> tuple[Endpoint, ...]:
        """The interval endpoints the hourly statistics are built from, in the order to fetch.

        The grid endpoints are listed even when the budget derives grid energy for the live
        readings: exact grid statistics come only from them.
        """
        candidates = (
            self.production_intervals,
            Endpoint.CONSUMPTION_METER,
            Endpoint.BATTERY_TELEMETRY,
            Endpoint.ENERGY_IMPORT_TELEMETRY,
            Endpoint.ENERGY_EXPORT_TELEMETRY,
        )
        return tuple(e for e in candidates if e is not None and self.usable(e))

    @property
    def live_endpoints(self) -> tuple[Endpoint, ...]:
        """What one live poll calls.

        latest_telemetry carries every power at once but has solar only with a production
        meter; without one, the production intervals give solar (as 5-minute averages). A
        system with neither consumption nor battery needs only the production intervals,
        which also complete its data as they go. The summary is the fallback for solar.
        """
        latest = Endpoint.LATEST_TELEMETRY if self.usable(Endpoint.LATEST_TELEMETRY) else None
        summary = Endpoint.SUMMARY if self.usable(Endpoint.SUMMARY) else None
        production = self.production_intervals
        needs_latest = self.has_battery or self.has_consumption
        solar: Endpoint | None
        if production is not None and not needs_latest:
            solar = production
        elif latest is not None and self.has_production_meter:
            solar = latest
        else:
            solar = production or summary or latest
        chosen = [e for e in (solar, latest if needs_latest else None) if e is not None]
        return tuple(dict.fromkeys(chosen))


@dataclass(frozen=True, slots=True)
class EndpointProgress:
    """What happened the last time an endpoint was asked for a system.

    `cursor`: interval endpoints continue from here (the end of the newest interval received,
    or the end of a window that came back empty but was cut at its one-day length).
    `complete`: the last answer reached the request time (nothing more to fetch then).
    `resume_date`: lifetime endpoints continue from this day (None: fetch the whole lifetime).
    """

    last_attempt: datetime | None = None
    last_success: datetime | None = None
    cursor: datetime | None = None
    complete: bool = True
    resume_date: date | None = None

    def known_through(self, visible_after: timedelta) -> datetime | None:
        """Tell up to when the endpoint's data is known complete.

        An answer that reached the request time holds everything reported until the publishing
        lag before it; otherwise only up to the cursor.
        """
        known = self.cursor
        if self.complete and self.last_success is not None:
            settled = self.last_success - visible_after
            known = settled if known is None else max(known, settled)
        return known


@dataclass(frozen=True, slots=True)
class SystemProgress:
    """What the readings know about a system's data, as far as planning is concerned."""

    last_live_at: datetime | None = None
    last_report_at: datetime | None = None
    report_cadence: timedelta = DEFAULT_REPORT_CADENCE
    report_phase: timedelta = timedelta(0)
    endpoints: Mapping[Endpoint, EndpointProgress] = field(
        default_factory=lambda: MappingProxyType({})
    )
    history: tuple[EndpointCall, ...] = ()
    """Past days the hourly statistics still miss (`Role.HISTORY` calls, oldest first)."""
    retries: Mapping[Endpoint, datetime] = field(default_factory=lambda: MappingProxyType({}))
    """When each refused (forbidden) endpoint may be tried once more (`Refusal.retry_at`)."""

    def of(self, endpoint: Endpoint) -> EndpointProgress:
        """Progress of one endpoint (empty if never asked)."""
        return self.endpoints.get(endpoint, _NEVER)

    def settled_after(self, visible_after: timedelta) -> timedelta:
        """Tell how long after an instant its data is surely published.

        A slow gateway (e.g. one on a cellular link, reporting every 6 hours) adds its longer
        cadence.
        """
        return visible_after + self.report_cadence - DEFAULT_REPORT_CADENCE

    def report_boundary(self) -> datetime | None:
        """Return the interval boundary of the newest report (its time less the upload delay)."""
        if self.last_report_at is None:
            return None
        grid = DEFAULT_REPORT_CADENCE.total_seconds()
        offset = (self.last_report_at.timestamp() - self.report_phase.total_seconds()) % grid
        return self.last_report_at - timedelta(seconds=offset)


_NEVER = EndpointProgress()
