"""History calls (past days for the hourly statistics): the least valuable, never over budget."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from custom_components.liveone_enphase.budget.ledger import CallLedger
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
from custom_components.liveone_enphase.enphase import Endpoint, RequestOutcome, RequestRecord
from sim.clock import ManualClock

from .driver import Drive

MELBOURNE = (-37.81, 144.96, "Australia/Melbourne")
HOME = SystemProfile(1, has_battery=True, has_consumption=True, has_production_meter=True)


def _drive(start: datetime) -> Drive:
    clock = ManualClock(start)
    return Drive(
        clock=clock,
        ledger=CallLedger(PlanLimits.watt(), clock),
        planner=PollPlanner(SunCalendar(*MELBOURNE), clock),
        profiles=(HOME,),
    )


def _needs(start: datetime, days: int) -> list[EndpointCall]:
    """One call per history endpoint and past day, oldest first."""
    return [
        EndpointCall(endpoint, Role.HISTORY, start_at=start + timedelta(days=day))
        for day in range(days)
        for endpoint in HOME.history_endpoints
    ]


def _feed(needs: list[EndpointCall]) -> Callable[[Drive], None]:
    """Make the drive list the needs not yet fetched, as the statistics importer would."""

    def before(drive: Drive) -> None:
        done = {call for _, call in drive.history_done}
        progress = drive.progress.get(1)
        if progress is not None:
            pending = tuple(call for call in needs if call not in done)
            drive.progress[1] = replace(progress, history=pending)

    return before


def _roles(drive: Drive) -> list[list[Role]]:
    return [[c.role for calls in p.calls.values() for c in calls] for p in drive.executed]


def test_history_endpoints_list_grid_even_without_measured_grid() -> None:
    assert HOME.history_endpoints == (
        Endpoint.PRODUCTION_MICRO,
        Endpoint.CONSUMPTION_METER,
        Endpoint.BATTERY_TELEMETRY,
        Endpoint.ENERGY_IMPORT_TELEMETRY,
        Endpoint.ENERGY_EXPORT_TELEMETRY,
    )
    assert SystemProfile(2).history_endpoints == (Endpoint.PRODUCTION_MICRO,)


def test_history_only_rides_on_a_poll_and_comes_last() -> None:
    start = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)  # midday in Melbourne
    drive = _drive(start)
    needs = _needs(start - timedelta(days=7), 7)
    drive.progress[1] = SystemProgress(history=tuple(needs))
    drive.before_each = _feed(needs)
    first = drive.plan()
    # The first fill takes the whole minute: nothing is left for history.
    assert first.call_count == 9
    assert Role.HISTORY not in [c.role for c in first.calls[1]]
    drive.run_until(start + timedelta(minutes=3))
    assert Role.HISTORY not in {role for roles in _roles(drive) for role in roles}
    # Nothing else is due now: the history calls wait for the next poll instead of making one.
    waiting = drive.plan()
    assert waiting.at > drive.clock() + timedelta(minutes=10)
    without = drive.planner.plan(
        [(HOME, replace(drive.progress[1], history=()))], drive.ledger.status()
    )
    assert waiting.at == without.at
    history = [c for c in waiting.calls[1] if c.role is Role.HISTORY]
    assert history
    assert waiting.calls[1] == (*without.calls[1], *history)  # after every other call
    assert history == needs[: len(history)]  # oldest first
    assert waiting.call_count <= 9


def test_history_goes_first_when_the_month_is_nearly_spent() -> None:
    start = datetime(2026, 1, 31, 1, 0, tzinfo=UTC)
    drive = _drive(start)
    drive.progress[1] = SystemProgress(history=tuple(_needs(start - timedelta(days=7), 7)))
    left = drive.planner.spendable(drive.ledger.status(), start)
    for _ in range(left - 3):
        drive.ledger.after_request(
            RequestRecord("x", start - timedelta(hours=1), 200, RequestOutcome.OK)
        )
    plan = drive.plan()
    assert plan.call_count == 3
    assert all(c.role is not Role.HISTORY for c in plan.calls[1])


def test_a_month_with_a_backfill_and_daily_grid_days_stays_in_budget() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    drive = _drive(start)
    # A new install: 7 days of every endpoint; then each day the two grid endpoints.
    needs = _needs(start - timedelta(days=7), 7) + [
        EndpointCall(endpoint, Role.HISTORY, start_at=start + timedelta(days=day))
        for day in range(29)
        for endpoint in (Endpoint.ENERGY_IMPORT_TELEMETRY, Endpoint.ENERGY_EXPORT_TELEMETRY)
    ]
    listed: list[EndpointCall] = []

    def before(current: Drive) -> None:
        # A day is listed once it is past (it starts more than a day ago).
        listed[:] = [
            c for c in needs if c.start_at and c.start_at <= current.clock() - timedelta(days=1)
        ]
        _feed(listed)(current)

    def check(current: Drive, plan: PollPlan) -> None:
        status = current.ledger.status()
        count = plan.call_count
        assert count <= status.minute_limit
        assert status.used + count <= max(status.used, status.limits.pollable)

    drive.before_each = before
    drive.on_plan = check
    drive.run_until(datetime(2026, 2, 1, tzinfo=UTC))
    assert drive.ledger.history["2026-01"] <= 950
    fetched = [call for _, call in drive.history_done]
    assert len(fetched) == len(set(fetched)) == len(listed) > 35 + 2 * 25  # every listed day, once
    polls = drive.live_polls()
    assert min(b - a for a, b in pairwise(polls)) >= timedelta(minutes=15)


def test_a_tight_budget_keeps_its_live_polls_and_leaves_history_out() -> None:
    """History is no fixed cost: on a budget short of the basic tiers it takes nothing."""
    start = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    drive = _drive(start)
    for _ in range(820):  # 130 calls left for three weeks: not even hourly live polls
        drive.ledger.after_request(
            RequestRecord("x", start - timedelta(hours=1), 200, RequestOutcome.OK)
        )
    drive.run_until(start + timedelta(minutes=3))
    progress = drive.progress[1]
    listed = replace(progress, history=tuple(_needs(start - timedelta(days=7), 7)))
    status = drive.ledger.status()
    without = drive.planner.allocation([(HOME, progress)], status)
    allocation = drive.planner.allocation([(HOME, listed)], status)
    assert allocation == without
    assert allocation.history_calls == 0
    assert without.day_spacing is not None
    assert without.day_spacing > timedelta(hours=1)
    plan = drive.planner.plan([(HOME, listed)], status)
    assert all(c.role is not Role.HISTORY for calls in plan.calls.values() for c in calls)


def test_a_day_is_fetched_whole_once_it_has_ended_and_published() -> None:
    """Each day's grid history: one call per endpoint, riding on the catch-up before dawn."""
    zone = SunCalendar(*MELBOURNE).zone
    start = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    drive = _drive(start)
    days = [datetime(2026, 1, day, tzinfo=zone) for day in (10, 11)]
    grid = (Endpoint.ENERGY_IMPORT_TELEMETRY, Endpoint.ENERGY_EXPORT_TELEMETRY)
    needs = [EndpointCall(e, Role.HISTORY, start_at=day) for day in days for e in grid]

    def before(current: Drive) -> None:
        # As the importer lists them: a day from the moment it has ended.
        listed = [
            c for c in needs if c.start_at and c.start_at + timedelta(days=1) <= current.clock()
        ]
        _feed(listed)(current)

    drive.before_each = before
    drive.run_until(datetime(2026, 1, 12, 12, 0, tzinfo=zone))
    fetched = [
        (plan.at, call)
        for plan in drive.executed
        for calls in plan.calls.values()
        for call in calls
        if call.role is Role.HISTORY
    ]
    assert [call for _, call in fetched] == needs  # each once, oldest first
    for at, call in fetched:
        assert call.start_at is not None
        ended = call.start_at + timedelta(days=1)
        assert ended + drive.planner.settings.visible_after <= at < ended + timedelta(hours=6)
        assert any(
            c.role is Role.CATCH_UP for p in drive.executed if p.at == at for c in p.calls[1]
        )


def test_history_leaves_to_a_coming_catch_up_what_it_will_fetch_anyway() -> None:
    """Yesterday's meter and battery intervals come with the catch-up before dawn: no extra call."""
    drive = _drive(datetime(2026, 1, 10, 1, 0, tzinfo=UTC))
    drive.run_until(datetime(2026, 1, 12, 14, 0, tzinfo=UTC))  # 01:00 in Melbourne, Jan 13
    planner, now = drive.planner, drive.clock()
    progress = drive.progress[1]
    lag = progress.settled_after(planner.settings.visible_after)
    yesterday = datetime(2026, 1, 12, tzinfo=planner.calendar.zone)
    grid = {Endpoint.ENERGY_IMPORT_TELEMETRY, Endpoint.ENERGY_EXPORT_TELEMETRY}
    listed = []
    for endpoint in HOME.history_endpoints:
        known = progress.of(endpoint).known_through(lag)
        start = yesterday if endpoint in grid or known is None else known.replace(minute=0)
        listed.append(EndpointCall(endpoint, Role.HISTORY, start_at=start))
    systems = [(HOME, replace(progress, history=tuple(listed)))]
    coming = sorted(
        planner._items(systems, planner.allocation(systems, drive.ledger.status()), now)
    )
    assert {i.call.endpoint for i in coming if i.call.role is Role.CATCH_UP} >= set(
        HOME.history_endpoints
    ) - grid

    riders = planner._history(systems, set(), coming, now, funded=10)
    assert {item.call.endpoint for item in riders} == grid
    # Once no catch-up is coming for them (it ran, and the statistics still miss the day).
    assert len(planner._history(systems, set(), [], now, funded=10)) == len(listed)
