"""The poll planner: budget, timing, daylight, catch-ups, restarts, limits."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.budget.model import (
    DEFAULT_VISIBLE_AFTER,
    EndpointProgress,
    PollPlan,
    Role,
    SystemProfile,
    SystemProgress,
)
from custom_components.liveone_enphase.budget.planner import PlannerSettings, PollPlanner
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.enphase import (
    Endpoint,
    Granularity,
    RequestOutcome,
    RequestRecord,
)
from sim.clock import ManualClock

from .driver import Drive, FakeCloud

BERLIN = (52.52, 13.40, "Europe/Berlin")
TROMSO = (69.65, 18.96, "Europe/Oslo")
MELBOURNE = (-37.81, 144.96, "Australia/Melbourne")
HOME = SystemProfile(1, has_battery=True, has_consumption=True, has_production_meter=True)
PV_ONLY = SystemProfile(2)
HOME_LIFETIME = (
    Endpoint.ENERGY_LIFETIME,
    Endpoint.CONSUMPTION_LIFETIME,
    Endpoint.BATTERY_LIFETIME,
    Endpoint.ENERGY_IMPORT_LIFETIME,
    Endpoint.ENERGY_EXPORT_LIFETIME,
)


def _drive(
    place: tuple[float, float, str],
    start: datetime,
    profiles: tuple[SystemProfile, ...] = (HOME,),
    limits: PlanLimits | None = None,
    planner_settings: PlannerSettings | None = None,
) -> Drive:
    clock = ManualClock(start)
    calendar = SunCalendar(*place)
    return Drive(
        clock=clock,
        ledger=CallLedger(limits or PlanLimits.watt(), clock),
        planner=PollPlanner(calendar, clock, planner_settings),
        profiles=profiles,
    )


def _local(drive: Drive, moment: datetime) -> datetime:
    return moment.astimezone(drive.planner.calendar.zone)


def _month(drive: Drive, start: datetime) -> None:
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    drive.run_until(end)


def test_first_plan_fills_everything_at_once_within_a_minute() -> None:
    drive = _drive(BERLIN, datetime(2026, 6, 10, 10, 0, tzinfo=UTC))
    plan = drive.plan()
    assert plan.at == drive.clock()
    roles = [call.role for call in plan.calls[1]]
    assert roles.count(Role.LIVE) == 1
    assert roles.count(Role.CATCH_UP) == 3
    assert roles.count(Role.LIFETIME) == 5  # the first fill of the lifetime counters
    assert plan.call_count == 9 == drive.ledger.status().minute_limit
    catch_up = next(c for c in plan.calls[1] if c.endpoint is Endpoint.CONSUMPTION_METER)
    assert catch_up.granularity is Granularity.WEEK
    assert catch_up.start_at == datetime(2026, 6, 8, 22, 0, tzinfo=UTC)  # yesterday, local midnight
    micro = next(c for c in plan.calls[1] if c.endpoint is Endpoint.PRODUCTION_MICRO)
    assert micro.granularity is Granularity.DAY
    assert micro.start_at == drive.clock() - timedelta(days=1)
    assert "live" in plan.reason


@pytest.mark.parametrize(
    ("place", "start"),
    [
        (BERLIN, datetime(2026, 6, 1, tzinfo=UTC)),  # long days
        (BERLIN, datetime(2026, 12, 1, tzinfo=UTC)),  # short days
        (TROMSO, datetime(2026, 6, 1, tzinfo=UTC)),  # polar day
        (TROMSO, datetime(2026, 12, 1, tzinfo=UTC)),  # polar night
        (MELBOURNE, datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_month_uses_the_budget_and_never_more(
    place: tuple[float, float, str], start: datetime
) -> None:
    drive = _drive(place, start)
    _month(drive, start)
    used = drive.ledger.history[start.strftime("%Y-%m")]
    assert 900 <= used <= 950
    polls = drive.live_polls()
    assert polls
    # Never two live polls within a report interval: faster buys nothing.
    assert min(b - a for a, b in pairwise(polls)) >= timedelta(minutes=15)


def test_polar_night_spends_on_the_night_tier_and_polar_day_round_the_clock() -> None:
    night = _drive(TROMSO, datetime(2026, 12, 10, tzinfo=UTC))
    allocation = night.planner.allocation(night.systems(), night.ledger.status())
    assert allocation.day_spacing is None
    assert allocation.night_spacing is not None
    night.run_until(datetime(2026, 12, 12, tzinfo=UTC))
    hours = {_local(night, poll).hour for poll in night.live_polls()}
    assert len(hours) >= 20  # spread over the whole dark day
    day = _drive(TROMSO, datetime(2026, 6, 10, tzinfo=UTC))
    day.run_until(datetime(2026, 6, 12, tzinfo=UTC))
    assert len({_local(day, poll).hour for poll in day.live_polls()}) >= 20


def test_daylight_gets_the_polls_and_the_first_comes_before_sunrise() -> None:
    drive = _drive(BERLIN, datetime(2026, 3, 10, tzinfo=UTC))
    drive.run_until(datetime(2026, 3, 13, tzinfo=UTC))
    calendar = drive.planner.calendar
    for day in (date(2026, 3, 11), date(2026, 3, 12)):
        (light,) = calendar.daylight(day)
        polls = [p for p in drive.live_polls() if calendar.local_date(p) == day]
        assert all(light.start - timedelta(minutes=15) <= p <= light.end for p in polls)
        assert light.start - timedelta(minutes=15) <= polls[0] <= light.start


@pytest.mark.parametrize("phase", [timedelta(0), timedelta(seconds=60)])
def test_live_polls_land_just_after_a_report_is_surely_published(phase: timedelta) -> None:
    """Polls follow the report boundary (the learnt phase), not the upload delay."""
    drive = _drive(BERLIN, datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    drive.progress[1] = SystemProgress(report_phase=phase)
    drive.run_until(datetime(2026, 12, 10, 14, 0, tzinfo=UTC))
    later = drive.live_polls()[1:]
    assert len(later) >= 10
    for poll in later:
        boundary_offset = (poll - DEFAULT_VISIBLE_AFTER).timestamp() % 900
        assert boundary_offset == phase.total_seconds()


def test_dst_days_keep_local_catch_up_times() -> None:
    for start in (datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC)):
        drive = _drive(BERLIN, start)
        days_left = (drive.ledger.status().month_end - start).days
        for _ in range(950 - 30 * days_left):  # ~30 calls a day left: no night polls
            drive.ledger.after_request(RequestRecord("x", start, 200, RequestOutcome.OK))
        drive.run_until(start + timedelta(days=4))
        catch_ups = [
            _local(drive, plan.at)
            for plan in drive.executed[1:]
            if any(call.role is Role.CATCH_UP for calls in plan.calls.values() for call in calls)
        ]
        assert [moment.time() for moment in catch_ups] == [time(4, 30)] * 3
    calendar = SunCalendar(*BERLIN)
    spring = calendar.split(
        calendar.midnight(date(2026, 3, 29)), calendar.midnight(date(2026, 3, 30))
    )
    autumn = calendar.split(
        calendar.midnight(date(2026, 10, 25)), calendar.midnight(date(2026, 10, 26))
    )
    assert sum(spring, timedelta()) == timedelta(hours=23)
    assert sum(autumn, timedelta()) == timedelta(hours=25)


def test_adapts_when_the_budget_was_spent_faster() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    drive.run_until(start + timedelta(days=10))
    before = drive.planner.allocation(drive.systems(), drive.ledger.status())
    for _ in range(300):  # another application on the same key, or a restart storm
        drive.ledger.after_request(RequestRecord("systems", drive.clock(), 200, RequestOutcome.OK))
    after = drive.planner.allocation(drive.systems(), drive.ledger.status())
    assert before.day_spacing is not None
    assert after.day_spacing is not None
    assert after.day_spacing > before.day_spacing
    _month(drive, start)
    assert drive.ledger.history["2026-06"] <= 950


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    latitude=st.floats(min_value=-75, max_value=75),
    longitude=st.floats(min_value=-179, max_value=179),
    month=st.integers(min_value=1, max_value=12),
    used=st.integers(min_value=0, max_value=1_000),
    bursts=st.lists(st.tuples(st.integers(0, 47), st.integers(0, 60)), max_size=4),
)
def test_never_plans_more_than_the_budget_allows(
    latitude: float, longitude: float, month: int, used: int, bursts: list[tuple[int, int]]
) -> None:
    """The last two days of a month, after random spending, with random extra bursts."""
    end = datetime(2026 + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    start = end - timedelta(days=2)
    drive = _drive((latitude, longitude, "UTC"), start)
    for _ in range(used):
        drive.ledger.after_request(RequestRecord("x", start, 200, RequestOutcome.OK))
    pending = sorted((start + timedelta(hours=hour), count) for hour, count in bursts)

    def spend_bursts(current: Drive) -> None:
        while pending and pending[0][0] <= current.clock():
            _, count = pending.pop(0)
            for _ in range(count):
                current.ledger.after_request(
                    RequestRecord("x", current.clock(), 200, RequestOutcome.OK)
                )

    def check(current: Drive, plan: PollPlan) -> None:
        status = current.ledger.status()
        assert status.used + plan.call_count <= max(status.used, status.limits.pollable)

    drive.before_each = spend_bursts
    drive.on_plan = check
    drive.run_until(end)
    ours = sum(plan.call_count for plan in drive.executed)
    assert ours <= max(0, 950 - used)


def test_a_restart_plans_the_same_poll() -> None:
    start = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    drive.run_until(start + timedelta(hours=9))
    planned = drive.plan()
    assert planned.at > drive.clock()
    for gap in (timedelta(minutes=1), (planned.at - drive.clock()) / 2):
        drive.clock.set(drive.clock() + gap)  # Home Assistant restarts meanwhile
        restored = CallLedger.from_dict(drive.ledger.to_dict(), PlanLimits.watt(), drive.clock)
        again = drive.planner.plan(drive.systems(), restored.status())
        assert again == planned


def test_a_429_or_a_spent_month_waits() -> None:
    start = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    drive.ledger.note_rate_limit("minute", start + timedelta(seconds=40))
    assert drive.plan().at == start + timedelta(seconds=40)
    drive.ledger.note_rate_limit("month", datetime(2026, 7, 1, tzinfo=UTC))
    plan = drive.plan()
    assert plan.calls == {}
    assert plan.at == datetime(2026, 6, 11, 10, 0, tzinfo=UTC)  # looks again tomorrow
    late = _drive(BERLIN, datetime(2026, 6, 30, 20, 0, tzinfo=UTC))
    late.ledger.note_rate_limit("month", datetime(2026, 7, 1, tzinfo=UTC))
    assert late.plan().at == datetime(2026, 7, 1, tzinfo=UTC)


def test_plans_split_at_the_minute_limit() -> None:
    profiles = tuple(replace(HOME, system_id=n) for n in range(1, 4))
    drive = _drive(BERLIN, datetime(2026, 6, 10, 10, 0, tzinfo=UTC), profiles)
    first = drive.plan()
    assert first.call_count == 9
    assert all(call.role is Role.LIVE for call in first.calls[3][:1])  # live calls go first
    drive.execute(first)
    second = drive.plan()
    assert second.at >= first.at + timedelta(seconds=61)
    assert second.call_count <= 9


def test_forbidden_endpoints_are_dropped_and_fall_back() -> None:
    forbidden = frozenset({Endpoint.LATEST_TELEMETRY, Endpoint.BATTERY_TELEMETRY})
    profile = replace(HOME, forbidden=forbidden)
    assert profile.live_endpoints == (Endpoint.PRODUCTION_MICRO,)
    drive = _drive(BERLIN, datetime(2026, 6, 10, 10, 0, tzinfo=UTC), (profile,))
    endpoints = {call.endpoint for call in drive.plan().calls[1]}
    assert not endpoints & forbidden
    assert Endpoint.BATTERY_LIFETIME in endpoints


@pytest.mark.parametrize(
    ("profile", "live"),
    [
        (HOME, (Endpoint.LATEST_TELEMETRY,)),
        (PV_ONLY, (Endpoint.PRODUCTION_MICRO,)),
        (SystemProfile(3, has_production_meter=True), (Endpoint.PRODUCTION_MICRO,)),
        (
            SystemProfile(4, has_battery=True),
            (Endpoint.PRODUCTION_MICRO, Endpoint.LATEST_TELEMETRY),
        ),
        (
            SystemProfile(
                5, has_production_meter=True, forbidden=frozenset({Endpoint.PRODUCTION_MICRO})
            ),
            (Endpoint.PRODUCTION_METER,),
        ),
        (
            SystemProfile(
                6, has_consumption=True, forbidden=frozenset({Endpoint.PRODUCTION_MICRO})
            ),
            (Endpoint.SUMMARY, Endpoint.LATEST_TELEMETRY),
        ),
        (
            SystemProfile(
                7,
                forbidden=frozenset(
                    {Endpoint.PRODUCTION_MICRO, Endpoint.SUMMARY, Endpoint.LATEST_TELEMETRY}
                ),
            ),
            (),
        ),
    ],
)
def test_live_endpoints_per_profile(profile: SystemProfile, live: tuple[Endpoint, ...]) -> None:
    assert profile.live_endpoints == live


def test_a_system_with_nothing_left_to_poll() -> None:
    blocked = frozenset(Endpoint)
    drive = _drive(
        BERLIN, datetime(2026, 6, 10, tzinfo=UTC), (SystemProfile(9, forbidden=blocked),)
    )
    plan = drive.plan()
    assert (plan.at, plan.calls) == (datetime(2026, 7, 1, tzinfo=UTC), {})
    empty = _drive(BERLIN, datetime(2026, 6, 10, tzinfo=UTC), ())
    assert empty.plan().reason == "nothing to poll this month"


def test_pv_only_system_polls_its_intervals_live() -> None:
    drive = _drive(MELBOURNE, datetime(2026, 1, 10, tzinfo=UTC), (PV_ONLY,))
    drive.run_until(datetime(2026, 1, 12, tzinfo=UTC))
    live = [call for plan in drive.executed for call in plan.calls[2] if call.role is Role.LIVE]
    assert {call.endpoint for call in live} == {Endpoint.PRODUCTION_MICRO}
    assert all(call.granularity is Granularity.DAY for call in live)


def test_catch_up_runs_once_a_day_and_retries_after_a_failure() -> None:
    start = datetime(2026, 12, 10, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    drive.run_until(start + timedelta(days=3))
    catch_ups = [
        _local(drive, plan.at)
        for plan in drive.executed
        if any(call.role is Role.CATCH_UP for calls in plan.calls.values() for call in calls)
    ]
    assert [moment.date() for moment in catch_ups[1:]] == [date(2026, 12, 11), date(2026, 12, 12)]
    # A failed catch-up (sent, no success) is tried again half an hour later.
    now = drive.clock()
    before = now - timedelta(days=2)
    failed = EndpointProgress(last_attempt=now, last_success=before, cursor=before)
    assert drive.planner._catch_up_due(failed, DEFAULT_VISIBLE_AFTER, 1, now) == now + timedelta(
        minutes=30
    )
    never = EndpointProgress(last_attempt=now)
    assert drive.planner._catch_up_due(never, DEFAULT_VISIBLE_AFTER, 1, now) == now + timedelta(
        minutes=30
    )


def _berlin_planner(moment: datetime) -> tuple[PollPlanner, datetime]:
    """A planner at Berlin whose clock stands at `moment`, for its private rules alone."""
    return PollPlanner(SunCalendar(*BERLIN), ManualClock(moment)), moment


def test_catch_up_missed_by_a_long_outage_waits_for_the_next_instant() -> None:
    planner, now = _berlin_planner(datetime(2026, 12, 12, 12, 0, tzinfo=UTC))
    calendar = planner.calendar
    stale = EndpointProgress(
        last_attempt=now - timedelta(days=3),
        last_success=now - timedelta(days=3),
        cursor=now - timedelta(days=3),
    )
    due = planner._catch_up_due(stale, DEFAULT_VISIBLE_AFTER, 1, now)
    assert due == calendar.local_time(date(2026, 12, 13), time(4, 30))
    early = ManualClock(datetime(2026, 12, 12, 2, 0, tzinfo=UTC))
    assert PollPlanner(calendar, early)._catch_up_due(
        stale, DEFAULT_VISIBLE_AFTER, 1, early()
    ) == calendar.local_time(date(2026, 12, 12), time(4, 30))
    # Every third day when the budget is tight: three days after the last one.
    recent = replace(stale, last_success=now - timedelta(days=1), cursor=now - timedelta(days=1))
    due = planner._catch_up_due(recent, DEFAULT_VISIBLE_AFTER, 3, now)
    assert due == calendar.local_time(date(2026, 12, 14), time(4, 30))
    assert planner._catch_up_due(EndpointProgress(), DEFAULT_VISIBLE_AFTER, 1, now) == now
    # The gateway came back with a week's backlog: a call each retry_after until it is in.
    back = stale.last_success + timedelta(days=2)
    silent = replace(stale, complete=False)
    assert planner._catch_up_due(silent, DEFAULT_VISIBLE_AFTER, 1, now, reported=back) == now
    # An answer that was complete is not a backlog, however long ago: the usual instant.
    assert planner._catch_up_due(
        stale, DEFAULT_VISIBLE_AFTER, 1, now, reported=back
    ) == calendar.local_time(date(2026, 12, 13), time(4, 30))
    walked = replace(stale, last_success=now, complete=False)
    assert planner._catch_up_due(
        walked, DEFAULT_VISIBLE_AFTER, 1, now, reported=back
    ) == now + timedelta(minutes=30)
    # Asked at this morning's instant and still incomplete (a silent gateway): tomorrow's.
    morning = calendar.local_time(date(2026, 12, 12), time(4, 30))
    asked = replace(stale, last_attempt=morning, last_success=morning, complete=False)
    soon = ManualClock(morning + timedelta(minutes=5))
    assert PollPlanner(calendar, soon)._catch_up_due(
        asked, DEFAULT_VISIBLE_AFTER, 1, soon()
    ) == calendar.local_time(date(2026, 12, 13), time(4, 30))


def test_tight_budgets_stretch_catch_ups_and_skip_lifetime_checks() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    tight = PlanLimits("tight", 400, 10, 0.05)
    drive = _drive(BERLIN, start, limits=tight)
    drive.run_until(start + timedelta(days=1))
    allocation = drive.planner.allocation(drive.systems(), drive.ledger.status())
    assert allocation.catch_up_days > 1
    assert not allocation.lifetime_checks
    _month(drive, start)
    assert drive.ledger.history["2026-06"] <= tight.pollable
    lifetime = [
        call
        for plan in drive.executed
        for calls in plan.calls.values()
        for call in calls
        if call.role is Role.LIFETIME
    ]
    assert len(lifetime) == 5  # only the first fill


def test_lifetime_check_after_a_month_when_affordable() -> None:
    start = datetime(2026, 12, 18, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    checked = EndpointProgress(
        last_attempt=start - timedelta(days=29), last_success=start - timedelta(days=29)
    )
    lifetime = {e: checked for e in HOME_LIFETIME}
    drive.progress[1] = SystemProgress(endpoints=MappingProxyType(lifetime))
    drive.run_until(start + timedelta(days=3))
    lifetime_days = sorted(
        {
            _local(drive, plan.at).date()
            for plan in drive.executed
            if any(c.role is Role.LIFETIME for calls in plan.calls.values() for c in calls)
        }
    )
    assert lifetime_days == [date(2026, 12, 19)]  # 30 days after the last, at the catch-up


def test_slow_gateways_are_polled_once_per_report() -> None:
    start = datetime(2026, 6, 10, tzinfo=UTC)
    drive = _drive(BERLIN, start, (PV_ONLY,))
    drive.cloud = FakeCloud(cadence=timedelta(hours=6))
    drive.run_until(start + timedelta(hours=1))
    drive.progress[2] = replace(drive.progress[2], report_cadence=timedelta(hours=6))
    drive.run_until(start + timedelta(days=2))
    polls = drive.live_polls()[1:]
    gaps = {b - a for a, b in pairwise(polls)}
    assert gaps == {timedelta(hours=6)}


def test_battery_state_of_charge_rides_on_live_polls_when_funded() -> None:
    start = datetime(2026, 12, 10, tzinfo=UTC)
    drive = _drive(BERLIN, start)
    drive.run_until(start + timedelta(days=2))
    allocation = drive.planner.allocation(drive.systems(), drive.ledger.status())
    assert allocation.soc_spacing == timedelta(hours=3)
    riders = [
        plan.at
        for plan in drive.executed
        if any(c.role is Role.REFRESH for calls in plan.calls.values() for c in calls)
    ]
    assert len(riders) >= 4
    assert all(
        any(c.role is Role.LIVE for c in plan.calls[1])
        for plan in drive.executed
        if plan.at in riders
    )


def test_paid_plan_reaches_nights_grid_and_refreshes() -> None:
    start = datetime(2026, 6, 10, tzinfo=UTC)
    drive = _drive(BERLIN, start, limits=PlanLimits.kilowatt(per_minute=50))
    drive.run_until(start + timedelta(days=1))
    allocation = drive.planner.allocation(drive.systems(), drive.ledger.status())
    assert allocation.night_spacing == timedelta(minutes=15)
    assert allocation.measured_grid
    assert allocation.refresh_spacing is not None
    drive.run_until(start + timedelta(days=2))
    endpoints = {
        c.endpoint for plan in drive.executed for calls in plan.calls.values() for c in calls
    }
    assert Endpoint.ENERGY_IMPORT_TELEMETRY in endpoints


def test_budget_share_halves_what_may_be_spent() -> None:
    clock = ManualClock(datetime(2026, 6, 10, tzinfo=UTC))
    ledger = CallLedger(PlanLimits.watt(), clock)
    calendar = SunCalendar(*BERLIN)
    whole = PollPlanner(calendar, clock).spendable(ledger.status(), clock())
    half = PollPlanner(calendar, clock, PlannerSettings(budget_share=0.5)).spendable(
        ledger.status(), clock()
    )
    assert half == 950 // 2 - 21
    assert whole == 950 - 21


def test_a_call_for_an_endpoint_days_behind_asks_a_week_not_just_the_last_day() -> None:
    """A gateway back from days offline: the live poll must not jump past the backlog."""
    planner, now = _berlin_planner(datetime(2026, 12, 12, 12, 0, tzinfo=UTC))
    behind = EndpointProgress(
        last_attempt=now, last_success=now, cursor=now - timedelta(days=5), complete=False
    )
    meter = planner._interval_call(
        Endpoint.CONSUMPTION_METER, Role.LIVE, behind, DEFAULT_VISIBLE_AFTER, now
    )
    assert meter.granularity is Granularity.WEEK
    assert meter.start_at == now - timedelta(days=5)
    micro = planner._interval_call(
        Endpoint.PRODUCTION_MICRO, Role.LIVE, behind, DEFAULT_VISIBLE_AFTER, now
    )
    assert micro.granularity is Granularity.DAY  # micro data comes a day at a time
    assert micro.start_at == now - timedelta(days=5)  # walks on from where it is known
    recent = replace(behind, cursor=now - timedelta(hours=3))
    live = planner._interval_call(
        Endpoint.CONSUMPTION_METER, Role.LIVE, recent, DEFAULT_VISIBLE_AFTER, now
    )
    assert live.granularity is Granularity.DAY
    assert live.start_at == now - timedelta(hours=3)
