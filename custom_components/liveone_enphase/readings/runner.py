"""Executes one planned poll: calls the client, merges each answer, reports what happened.

Calls run one after another (a plan never holds more than a minute's worth). A 403 marks the
endpoint as outside the plan so the planner drops it until its retry (an answer to the retry
clears the mark); a 429 is passed to the ledger and ends the
poll, as does an authentication failure or a refusal by the ledger; other failures are reported
and the poll goes on. The ledger is asked before each call, so a refused call does not first
make the client refresh a token for nothing. A history call (a past day for the hourly
statistics) is neither merged into the readings nor booked in the endpoint's progress: its
answer only goes back in the report, like every answer.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ..budget.ledger import CallLedger
from ..budget.model import EndpointCall, PollPlan, Role
from ..enphase import (
    Endpoint,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseRequestRefused,
    Granularity,
)
from ..history import Fetched
from .state import INTERVAL_WINDOWS, EndpointResult, ReadingsState, SystemReadings

type Clock = Callable[[], datetime]


class CallStatus(StrEnum):
    """How one planned call ended."""

    OK = "ok"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    REFUSED = "refused"
    AUTH_FAILED = "auth_failed"
    KEY_REJECTED = "key_rejected"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    SKIPPED = "skipped"


_STOPS_POLL = frozenset(
    {CallStatus.RATE_LIMITED, CallStatus.REFUSED, CallStatus.AUTH_FAILED, CallStatus.KEY_REJECTED}
)


@dataclass(frozen=True, slots=True)
class CallResult:
    """One planned call and its fate; `detail` is the error's (secret-free) message.

    An answered call keeps its `answer` and the instant it was `asked_at`, for the hourly
    statistics, which need the raw intervals the readings only merge.
    """

    system_id: int
    endpoint: Endpoint
    role: Role
    status: CallStatus
    detail: str | None = None
    answer: EndpointResult | None = field(default=None, repr=False)
    asked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll did."""

    started_at: datetime
    results: tuple[CallResult, ...]

    def with_status(self, status: CallStatus) -> tuple[CallResult, ...]:
        """Return the calls that ended with `status`."""
        return tuple(result for result in self.results if result.status is status)

    def interval_answers(self) -> dict[int, list[Fetched]]:
        """Return each system's interval answers, for the hourly statistics (one import each)."""
        answers: dict[int, list[Fetched]] = {}
        for result in self.with_status(CallStatus.OK):
            if isinstance(result.answer, INTERVAL_WINDOWS) and result.asked_at is not None:
                answers.setdefault(result.system_id, []).append(
                    Fetched(result.endpoint, result.answer, result.asked_at)
                )
        return answers

    @property
    def sent(self) -> int:
        """How many requests reached Enphase."""
        unsent = {CallStatus.REFUSED, CallStatus.SKIPPED}
        return sum(1 for result in self.results if result.status not in unsent)

    @property
    def auth_failed(self) -> bool:
        """Whether the user must re-authenticate."""
        return bool(self.with_status(CallStatus.AUTH_FAILED))

    @property
    def key_rejected(self) -> bool:
        """Whether Enphase refused the API key (logging in again would not help)."""
        return bool(self.with_status(CallStatus.KEY_REJECTED))


class PollRunner:
    """Runs plans against one client and merges the answers into one readings state."""

    def __init__(
        self,
        client: EnphaseClient,
        state: ReadingsState,
        clock: Clock,
        ledger: CallLedger | None = None,
    ) -> None:
        self._client = client
        self._state = state
        self._clock = clock
        self._ledger = ledger

    async def run(self, plan: PollPlan) -> PollReport:
        """Execute every call of the plan (in order) and report."""
        started = self._clock()
        results: list[CallResult] = []
        stopped = False
        for system_id, calls in plan.calls.items():
            missing = False
            for call in calls:
                if stopped or missing:
                    results.append(
                        CallResult(system_id, call.endpoint, call.role, CallStatus.SKIPPED)
                    )
                    continue
                result = await self._one(system_id, call)
                results.append(result)
                stopped = result.status in _STOPS_POLL
                missing = result.status is CallStatus.NOT_FOUND
        return PollReport(started, tuple(results))

    async def _one(self, system_id: int, call: EndpointCall) -> CallResult:
        readings = self._state.system(system_id)
        at = self._clock()

        def result(status: CallStatus, detail: str | None = None) -> CallResult:
            return CallResult(system_id, call.endpoint, call.role, status, detail)

        if self._ledger is not None and self._ledger.refusal(call.endpoint, at) is not None:
            return result(CallStatus.REFUSED, "the call budget refused it")
        try:
            answer = await self._request(system_id, call)
        except EnphaseRequestRefused as err:
            return result(CallStatus.REFUSED, str(err))
        except EnphaseError as err:
            self._sent(readings, call, at)
            return result(self._failure(readings, err, at), str(err))
        self._sent(readings, call, at)
        if call.role is not Role.HISTORY:
            readings.apply(call.endpoint, answer, at)
        return CallResult(
            system_id, call.endpoint, call.role, CallStatus.OK, answer=answer, asked_at=at
        )

    @staticmethod
    def _sent(readings: SystemReadings, call: EndpointCall, at: datetime) -> None:
        """Book a request that reached Enphase; a live one sets the pace of the next.

        A history call fetches an old day for the statistics only: it leaves the endpoint's
        progress alone, so the planner's own catch-up keeps its timing.
        """
        if call.role is Role.HISTORY:
            return
        readings.note_attempt(call.endpoint, at)
        if call.role is Role.LIVE:
            readings.note_live(at)

    def _failure(self, readings: SystemReadings, err: EnphaseError, at: datetime) -> CallStatus:
        match err:
            case EnphaseForbiddenError():
                if err.endpoint is not None:
                    readings.note_forbidden(Endpoint(err.endpoint), at)
                return CallStatus.FORBIDDEN
            case EnphaseRateLimitError():
                if self._ledger is not None:
                    self._ledger.note_rate_limit(err.period, err.period_end)
                return CallStatus.RATE_LIMITED
            case EnphaseAuthError(key_rejected=True):
                return CallStatus.KEY_REJECTED
            case EnphaseAuthError():
                return CallStatus.AUTH_FAILED
            case EnphaseNotFoundError():
                return CallStatus.NOT_FOUND
        return CallStatus.FAILED

    def _request(self, system_id: int, call: EndpointCall) -> Awaitable[EndpointResult]:
        """Start the client call for one planned endpoint."""
        client = self._client
        start_at, start_date = call.start_at, call.start_date
        window = call.granularity or Granularity.DAY
        match call.endpoint:
            case Endpoint.LATEST_TELEMETRY:
                return client.latest_telemetry(system_id)
            case Endpoint.SUMMARY:
                return client.summary(system_id)
            case Endpoint.PRODUCTION_MICRO:
                return client.production_micro(system_id, start_at=start_at, granularity=window)
            case Endpoint.PRODUCTION_METER:
                return client.production_meter(system_id, start_at=start_at, granularity=window)
            case Endpoint.CONSUMPTION_METER:
                return client.consumption_meter(system_id, start_at=start_at, granularity=window)
            case Endpoint.BATTERY_TELEMETRY:
                return client.battery_telemetry(system_id, start_at=start_at, granularity=window)
            case Endpoint.ENERGY_IMPORT_TELEMETRY:
                return client.energy_import_telemetry(
                    system_id, start_at=start_at, granularity=window
                )
            case Endpoint.ENERGY_EXPORT_TELEMETRY:
                return client.energy_export_telemetry(
                    system_id, start_at=start_at, granularity=window
                )
            case Endpoint.ENERGY_LIFETIME:
                return client.energy_lifetime(system_id, start_date=start_date)
            case Endpoint.CONSUMPTION_LIFETIME:
                return client.consumption_lifetime(system_id, start_date=start_date)
            case Endpoint.BATTERY_LIFETIME:
                return client.battery_lifetime(system_id, start_date=start_date)
            case Endpoint.ENERGY_IMPORT_LIFETIME:
                return client.energy_import_lifetime(system_id, start_date=start_date)
            case Endpoint.ENERGY_EXPORT_LIFETIME:
                return client.energy_export_lifetime(system_id, start_date=start_date)
        raise ValueError(f"{call.endpoint}: not an endpoint a poll can use")
