"""A tiny stand-in for the cloud and the runner, to drive the planner through days quickly.

The gateway reports every `cadence` (on the boundary, uploaded `delay` later) and each report
becomes visible `lag` after its boundary. Executing a plan books every call in the ledger (and a
token refresh once a day, as Home Assistant's OAuth session would) and moves the progress on as
the runner and the readings would (a history call only books the ledger).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.model import (
    EndpointCall,
    EndpointProgress,
    PollPlan,
    Role,
    SystemProfile,
    SystemProgress,
)
from custom_components.liveone_enphase.budget.planner import PollPlanner
from custom_components.liveone_enphase.enphase import RequestOutcome, RequestRecord
from sim.clock import ManualClock


@dataclass
class FakeCloud:
    """When reports are visible."""

    cadence: timedelta = timedelta(minutes=15)
    lag: timedelta = timedelta(minutes=20)
    delay: timedelta = timedelta(seconds=60)

    def last_report(self, now: datetime) -> datetime:
        """The newest report visible at `now`."""
        step = self.cadence.total_seconds()
        boundary = (now - self.lag).timestamp() // step * step
        return datetime.fromtimestamp(boundary, UTC) + self.delay


@dataclass
class Drive:
    """The state of a drive: progress per system, and what was executed."""

    clock: ManualClock
    ledger: CallLedger
    planner: PollPlanner
    profiles: Sequence[SystemProfile]
    cloud: FakeCloud = field(default_factory=FakeCloud)
    progress: dict[int, SystemProgress] = field(default_factory=dict)
    executed: list[PollPlan] = field(default_factory=list)
    history_done: list[tuple[int, EndpointCall]] = field(default_factory=list)
    last_token: datetime | None = None
    before_each: Callable[[Drive], None] | None = None
    on_plan: Callable[[Drive, PollPlan], None] | None = None

    def systems(self) -> list[tuple[SystemProfile, SystemProgress]]:
        return [(p, self.progress.get(p.system_id, SystemProgress())) for p in self.profiles]

    def plan(self) -> PollPlan:
        return self.planner.plan(self.systems(), self.ledger.status())

    def execute(self, plan: PollPlan) -> None:
        now = self.clock()
        if plan.calls and (self.last_token is None or now - self.last_token >= timedelta(days=1)):
            self.ledger.record_token_request(now)
            self.last_token = now
        for system_id, calls in plan.calls.items():
            progress = self.progress.get(system_id, SystemProgress())
            endpoints = dict(progress.endpoints)
            for call in calls:
                self.ledger.after_request(
                    RequestRecord(call.endpoint.value, now, 200, RequestOutcome.OK)
                )
                if call.role is Role.HISTORY:  # the runner leaves the progress alone
                    self.history_done.append((system_id, call))
                    continue
                endpoints[call.endpoint] = EndpointProgress(
                    last_attempt=now,
                    last_success=now,
                    cursor=now - self.cloud.lag,
                    complete=True,
                )
                if call.role is Role.LIVE:
                    progress = replace(
                        progress, last_live_at=now, last_report_at=self.cloud.last_report(now)
                    )
            self.progress[system_id] = replace(progress, endpoints=MappingProxyType(endpoints))
        self.executed.append(plan)

    def run_until(self, end: datetime) -> None:
        """Plan, wait, execute, until `end`."""
        while self.clock() < end:
            if self.before_each is not None:
                self.before_each(self)
            plan = self.plan()
            if self.on_plan is not None:
                self.on_plan(self, plan)
            if plan.at >= end:
                self.clock.set(end)
                break
            self.clock.set(max(plan.at, self.clock()))
            if plan.calls and self.before_each is not None:
                # As the coordinator does: plan again when the poll is due (the lists moved on).
                self.before_each(self)
                plan = self.plan()
                if plan.at > self.clock():
                    continue
            if plan.calls:
                self.execute(plan)
            else:
                self.clock.advance(timedelta(seconds=1))

    def live_polls(self) -> list[datetime]:
        return [
            plan.at
            for plan in self.executed
            if any(call.role is Role.LIVE for calls in plan.calls.values() for call in calls)
        ]
