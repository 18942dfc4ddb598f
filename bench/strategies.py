"""Polling strategies compared by the budget benchmark.

Ours is the planner, with the hourly statistics' backfill on: a history tracker per system
(`StatisticsImport`, which every strategy's answers go through) takes every poll's interval
answers as the statistics importer would and lists the past days still missing, which the
planner fetches as history calls. The others are the alternatives it must beat, expressed as
plans for the same runner and ledger, so every strategy pays for exactly what it asks:
- seed: latest_telemetry every 30 minutes on the clock, from sunrise rounded down to sunset
  rounded up (the seed design; no polls in polar night, all day in polar day);
- hourly: latest_telemetry on the hour in daylight, plus a catch-up of the day's intervals at
  01:00 local;
- fixed: latest_telemetry every 15 or 5 minutes, day and night.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from custom_components.liveone_enphase.budget.ledger import BudgetStatus
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.budget.model import (
    EndpointCall,
    PollPlan,
    Role,
    SystemProfile,
    SystemProgress,
)
from custom_components.liveone_enphase.budget.planner import PollPlanner
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.history import LOOKBACK_DAYS, HistoryTracker, Series
from custom_components.liveone_enphase.history.hours import to_epoch
from custom_components.liveone_enphase.readings.runner import PollReport
from custom_components.liveone_enphase.readings.state import ReadingsState

_SEARCH = timedelta(days=2)
_BACKFILL = timedelta(days=2)


class Strategy(Protocol):
    """Decides the next poll from the readings and the budget."""

    name: str

    def plan(
        self, state: ReadingsState, status: BudgetStatus, now: datetime, last: datetime | None
    ) -> PollPlan:
        """The next poll (`last`: when the previous plan ran, if it did)."""
        ...


@dataclass
class StatisticsImport:
    """The hourly statistics as the integration imports them, and the rows the recorder holds.

    Per system a `HistoryTracker` takes each poll's interval answers (one `ingest` per poll, as
    `EntryHistory.async_import` does), and every pending rewrite becomes rows through
    `SeriesRewrite.rows`, which replace the rows with the same start (the recorder's rule).
    `rows` keeps each series' newest value per UTC hour (epoch), forever.
    """

    trackers: dict[int, HistoryTracker] = field(default_factory=dict)
    rows: dict[Series, dict[int, float]] = field(default_factory=dict)

    def observe(self, state: ReadingsState, report: PollReport) -> None:
        """Import a poll's interval answers."""
        for system_id, fetched in report.interval_answers().items():
            tracker = self.trackers.get(system_id)
            if tracker is None:
                zone = state.system(system_id).zone
                today = max(item.fetched_at for item in fetched).astimezone(zone).date()
                origin = datetime.combine(today - timedelta(days=LOOKBACK_DAYS), time(), zone)
                tracker = HistoryTracker(state.system(system_id).timezone, origin)
                self.trackers[system_id] = tracker
            tracker.ingest(fetched)
            for rewrite in tracker.pending():
                table = self.rows.setdefault(rewrite.series, {})
                for row in rewrite.rows(0.0):
                    table[to_epoch(row.start)] = row.wh
                tracker.mark_imported(rewrite)

    def restart(self) -> None:
        """Reload the trackers from what their store would hold (JSON, as after a restart)."""
        self.trackers = {
            system_id: HistoryTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
            for system_id, tracker in self.trackers.items()
        }


@dataclass
class Ours:
    """The planner; `caps` (UTC "YYYY-MM" → calls) narrows the budget to match another run."""

    planner: PollPlanner
    name: str = "ours"
    caps: Mapping[str, int] | None = None
    statistics: StatisticsImport = field(default_factory=StatisticsImport)

    def plan(
        self, state: ReadingsState, status: BudgetStatus, now: datetime, last: datetime | None
    ) -> PollPlan:
        del last  # the planner reads its own clock and the persisted progress
        if self.caps is not None:
            cap = max(1, self.caps.get(status.month_start.strftime("%Y-%m"), 0))
            limits = status.limits
            if cap < limits.pollable:
                status = replace(status, limits=PlanLimits("matched", cap, limits.per_minute, 0))
        return self.planner.plan(self._with_history(state, now), status)

    def _with_history(
        self, state: ReadingsState, now: datetime
    ) -> list[tuple[SystemProfile, SystemProgress]]:
        systems = []
        for profile, progress in state.planned_systems():
            tracker = self.statistics.trackers.get(profile.system_id)
            needs = [] if tracker is None else tracker.catch_up(now, profile.history_endpoints)
            calls = tuple(
                EndpointCall(n.endpoint, Role.HISTORY, start_at=n.start_at) for n in needs
            )
            systems.append((profile, replace(progress, history=calls)))
        return systems


def _latest_everywhere(state: ReadingsState) -> dict[int, tuple[EndpointCall, ...]]:
    call = EndpointCall(Endpoint.LATEST_TELEMETRY, Role.LIVE)
    return {system_id: (call,) for system_id in state.systems}


def _grid_after(now: datetime, step: timedelta) -> datetime:
    """The first multiple of `step` (from the epoch) after `now`."""
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp((int(now.timestamp()) // seconds + 1) * seconds, UTC)


@dataclass
class Fixed:
    """latest_telemetry on a fixed clock grid, optionally only while the sun is (nearly) up."""

    name: str
    step: timedelta
    calendar: SunCalendar | None = None

    def plan(
        self, state: ReadingsState, status: BudgetStatus, now: datetime, last: datetime | None
    ) -> PollPlan:
        # The first grid point not yet polled: after the last run, and not before now.
        floor = (
            now - timedelta(seconds=1) if last is None else max(last, now - timedelta(seconds=1))
        )
        moment = _grid_after(floor, self.step)
        limit = now + _SEARCH
        while moment < limit:
            if self._polls_at(moment):
                return PollPlan(moment, _latest_everywhere(state), self.name)
            moment += self.step
        return PollPlan(limit, {}, "no daylight")

    def _polls_at(self, moment: datetime) -> bool:
        """The seed's rule: between sunrise rounded down and sunset rounded up to the step."""
        if self.calendar is None:
            return True
        seconds = int(self.step.total_seconds())
        epoch = int(moment.timestamp())
        for span in self.calendar.daylight(self.calendar.local_date(moment)):
            start = int(span.start.timestamp()) // seconds * seconds
            end = -(-int(span.end.timestamp()) // seconds) * seconds
            if start <= epoch <= end:
                return True
        return False


@dataclass
class HourlyWithCatchUp:
    """latest_telemetry hourly in daylight, and every interval endpoint once a night."""

    calendar: SunCalendar
    name: str = "hourly + nightly catch-up"
    catch_up_at: time = time(1, 0)

    def __post_init__(self) -> None:
        self._hourly = Fixed(self.name, timedelta(hours=1), self.calendar)

    def plan(
        self, state: ReadingsState, status: BudgetStatus, now: datetime, last: datetime | None
    ) -> PollPlan:
        hourly = self._hourly.plan(state, status, now, last)
        day = self.calendar.local_date(now)
        catch_up = self.calendar.local_time(day, self.catch_up_at)
        if catch_up < now or (last is not None and catch_up <= last):
            catch_up = self.calendar.local_time(day + timedelta(days=1), self.catch_up_at)
        if hourly.at < catch_up:
            return hourly
        calls = {}
        for system_id, readings in state.systems.items():
            profile = readings.profile()
            endpoints = [
                profile.production_intervals,
                Endpoint.CONSUMPTION_METER if profile.has_consumption else None,
                Endpoint.BATTERY_TELEMETRY if profile.has_battery else None,
            ]
            progress = readings.progress()
            calls[system_id] = tuple(
                EndpointCall(
                    e, Role.CATCH_UP, start_at=self._start(progress.of(e).cursor, catch_up)
                )
                for e in endpoints
                if e is not None
            )
        return PollPlan(catch_up, calls, "nightly catch-up")

    def _start(self, cursor: datetime | None, at: datetime) -> datetime:
        if cursor is None:
            return self.calendar.midnight(self.calendar.local_date(at) - timedelta(days=1))
        return max(cursor, at - _BACKFILL)
