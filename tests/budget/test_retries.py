"""Endpoints Enphase refused (403): tried again after 30 days, riding on polls that go anyway."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.budget.model import (
    EndpointCall,
    EndpointProgress,
    PollPlan,
    Refusal,
    Role,
    SystemProfile,
    SystemProgress,
)
from custom_components.liveone_enphase.budget.planner import PollPlanner
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.enphase import (
    Endpoint,
    Granularity,
    RequestOutcome,
    RequestRecord,
)
from sim.clock import ManualClock

from .driver import Drive

BERLIN = (52.52, 13.40, "Europe/Berlin")
START = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # noon in Berlin
BATTERY_DATA = frozenset({Endpoint.BATTERY_TELEMETRY, Endpoint.BATTERY_LIFETIME})
HOME = SystemProfile(
    1, has_battery=True, has_consumption=True, has_production_meter=True, forbidden=BATTERY_DATA
)
MONTH = timedelta(days=30)


def _drive(start: datetime = START, profiles: tuple[SystemProfile, ...] = (HOME,)) -> Drive:
    clock = ManualClock(start)
    return Drive(
        clock=clock,
        ledger=CallLedger(PlanLimits.watt(), clock),
        planner=PollPlanner(SunCalendar(*BERLIN), clock),
        profiles=profiles,
    )


def _retry(drive: Drive, retries: dict[Endpoint, datetime], **endpoints: EndpointProgress) -> None:
    """Give system 1 these refusals (and, by endpoint name, this progress)."""
    progress = drive.progress.get(1, SystemProgress())
    changed = dict(progress.endpoints) | {Endpoint[name]: p for name, p in endpoints.items()}
    drive.progress[1] = replace(
        progress, retries=MappingProxyType(retries), endpoints=MappingProxyType(changed)
    )


def _calls(plan: PollPlan, role: Role) -> list[Endpoint]:
    return [call.endpoint for calls in plan.calls.values() for call in calls if call.role is role]


def test_a_refused_endpoint_is_tried_once_a_month_on_polls_that_go_anyway() -> None:
    drive = _drive()
    refused = dict.fromkeys(BATTERY_DATA, START)

    def still_refused(drive: Drive) -> None:
        """Enphase refuses every retry: each is dated anew, as the runner would."""
        for plan in drive.executed[-1:]:
            for endpoint in _calls(plan, Role.RETRY):
                refused[endpoint] = plan.at
        _retry(drive, {endpoint: at + MONTH for endpoint, at in refused.items()})

    drive.before_each = still_refused
    drive.run_until(START + timedelta(days=75))

    retried = [plan for plan in drive.executed if _calls(plan, Role.RETRY)]
    assert [sorted(_calls(plan, Role.RETRY)) for plan in retried] == [sorted(BATTERY_DATA)] * 2
    first, second = (plan.at for plan in retried)
    # Each rides on the first poll once its 30 days are over, never on a poll of its own.
    assert START + MONTH <= first < START + MONTH + timedelta(hours=2)
    assert first + MONTH <= second < first + MONTH + timedelta(hours=2)
    assert all(_calls(plan, Role.LIVE) for plan in retried)
    # Counted like any call: no month goes over the pollable part of the plan.
    assert max(drive.ledger.history.values()) <= 950


def test_a_retry_does_not_move_the_next_poll() -> None:
    drive = _drive()
    drive.run_until(datetime(2026, 6, 10, 21, 0, tzinfo=UTC))  # 23:00 in Berlin
    night = drive.plan()
    assert not _calls(night, Role.RETRY)

    _retry(drive, dict.fromkeys(BATTERY_DATA, drive.clock() - timedelta(hours=1)))
    plan = drive.plan()

    assert plan.at == night.at > drive.clock()  # the morning's poll, not one now
    assert sorted(_calls(plan, Role.RETRY)) == sorted(BATTERY_DATA)
    calls = {call.endpoint: call for call in plan.calls[1]}
    battery = calls[Endpoint.BATTERY_TELEMETRY]
    # Never answered: the last day (as planned now), a day's window; the lifetime in full.
    assert battery.granularity is Granularity.DAY
    assert battery.start_at == drive.clock() - timedelta(days=1)
    assert calls[Endpoint.BATTERY_LIFETIME].start_date is None


def test_a_retry_that_failed_otherwise_waits_like_any_failed_call() -> None:
    drive = _drive()
    drive.run_until(START + timedelta(hours=2))
    now = drive.clock()
    failed = EndpointProgress(last_attempt=now - timedelta(minutes=5))
    _retry(drive, {Endpoint.BATTERY_TELEMETRY: now - MONTH}, BATTERY_TELEMETRY=failed)

    soon = drive.plan()
    assert soon.at < now + timedelta(minutes=25)
    assert not _calls(soon, Role.RETRY)
    drive.clock.set(now + timedelta(minutes=26))
    assert _calls(drive.plan(), Role.RETRY) == [Endpoint.BATTERY_TELEMETRY]


def test_only_endpoints_that_still_apply_are_retried() -> None:
    no_battery = replace(HOME, has_battery=False)
    drive = _drive(profiles=(no_battery,))
    drive.run_until(START + timedelta(hours=2))
    _retry(drive, dict.fromkeys(BATTERY_DATA, START))
    assert all(not _calls(drive.plan(), Role.RETRY) for _ in range(2))


def test_a_system_with_nothing_else_to_poll_polls_for_its_retries() -> None:
    everything = SystemProfile(9, forbidden=frozenset(Endpoint))
    drive = _drive(profiles=(everything,))
    later = START + timedelta(days=2)
    retries = {Endpoint.SUMMARY: later, Endpoint.LATEST_TELEMETRY: later}
    drive.progress[9] = SystemProgress(
        retries=MappingProxyType(retries | {Endpoint.BATTERY_TELEMETRY: START})  # no battery
    )

    plan = drive.plan()

    assert plan.at == later
    assert plan.calls == {
        9: (
            EndpointCall(Endpoint.LATEST_TELEMETRY, Role.RETRY),
            EndpointCall(Endpoint.SUMMARY, Role.RETRY),
        )
    }
    # Next month's retries are next month's business.
    drive.progress[9] = SystemProgress(retries=MappingProxyType({Endpoint.SUMMARY: later + MONTH}))
    assert drive.plan() == PollPlan(
        datetime(2026, 7, 1, tzinfo=UTC), {}, "nothing to poll this month"
    )


def test_retries_go_before_anything_but_history_when_calls_run_short() -> None:
    everything = SystemProfile(9, forbidden=frozenset(Endpoint))
    drive = _drive(profiles=(everything,))
    retries = {Endpoint.SUMMARY: START, Endpoint.LATEST_TELEMETRY: START}
    drive.progress[9] = SystemProgress(retries=MappingProxyType(retries))
    while drive.planner.spendable(drive.ledger.status(), START) > 1:
        drive.ledger.after_request(RequestRecord("x", START, 200, RequestOutcome.OK))

    plan = drive.plan()

    assert _calls(plan, Role.RETRY) == [Endpoint.LATEST_TELEMETRY]


def test_a_refusal_waits_thirty_days_unless_the_plan_grew() -> None:
    refusal = Refusal.at(START)
    assert refusal == Refusal(START, START + MONTH)
    assert refusal.retry_from(START + timedelta(days=1)).retry_at == START + timedelta(days=1)
    assert refusal.retry_from(START + timedelta(days=40)) == refusal


def test_retries_never_delay_the_poll_they_ride_on() -> None:
    drive = _drive()
    drive.run_until(START + timedelta(hours=2))
    poll = drive.plan()
    drive.clock.set(poll.at)
    # Calls made just now leave the minute one slot beside the poll's own calls.
    for _ in range(drive.ledger.status().minute_limit - poll.call_count - 1):
        drive.ledger.after_request(RequestRecord("x", poll.at, 200, RequestOutcome.OK))
    before = drive.plan()

    _retry(drive, dict.fromkeys(BATTERY_DATA, START))
    plan = drive.plan()

    assert plan.at == before.at == poll.at
    assert len(_calls(plan, Role.RETRY)) == 1
