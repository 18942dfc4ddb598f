"""The poll runner, over real HTTP (loopback) to the simulated Enphase cloud."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.budget.model import EndpointCall, PollPlan, Role
from custom_components.liveone_enphase.budget.planner import PollPlanner
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.enphase import (
    Endpoint,
    EnphaseClient,
    RequestOutcome,
    RequestRecord,
)
from custom_components.liveone_enphase.readings.energy import Stream
from custom_components.liveone_enphase.readings.runner import CallStatus, PollRunner
from custom_components.liveone_enphase.readings.state import Quantity, ReadingsState
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.server import SimServer

BATTERY = SiteConfig.demo_battery()
SOLAR = SiteConfig.demo_solar_only()
LATEST = Endpoint.LATEST_TELEMETRY.value


class Rig:
    """A client, a ledger, readings and a runner wired to one simulated cloud."""

    def __init__(
        self, cloud: EnphaseCloud, server: SimServer, session: aiohttp.ClientSession
    ) -> None:
        self.cloud = cloud
        self.clock: ManualClock = cloud.clock  # type: ignore[assignment]
        tokens = cloud.issue_tokens()

        async def token() -> str:
            return str(tokens["access_token"])

        self.ledger = CallLedger(PlanLimits.watt(), self.clock)
        self.client = EnphaseClient(
            session,
            token,
            cloud.api_key,
            base_url=server.enphase_url,
            guard=self.ledger,
            clock=self.clock,
        )
        self.state = ReadingsState()
        self.state.add_system(
            BATTERY.system_id,
            BATTERY.timezone,
            has_battery=True,
            has_consumption=True,
            has_production_meter=True,
        )
        self.state.add_system(
            SOLAR.system_id, SOLAR.timezone, has_consumption=True, has_production_meter=True
        )
        self.runner = PollRunner(self.client, self.state, self.clock, self.ledger)
        self.planner = PollPlanner(
            SunCalendar(BATTERY.latitude, BATTERY.longitude, BATTERY.timezone), self.clock
        )

    def plan(self) -> PollPlan:
        return self.planner.plan(self.state.planned_systems(), self.ledger.status())


@pytest.fixture
async def rig(enphase_cloud: EnphaseCloud, sim_server: SimServer) -> AsyncIterator[Rig]:
    async with aiohttp.ClientSession() as session:
        yield Rig(enphase_cloud, sim_server, session)


async def test_first_polls_fill_the_readings_with_the_truth(rig: Rig) -> None:
    first = rig.plan()
    assert first.call_count == 9  # the minute's limit: the rest follows a minute later
    report = await rig.runner.run(first)
    assert {r.status for r in report.results} == {CallStatus.OK}
    assert report.sent == first.call_count == len(rig.cloud.requests) == rig.ledger.used
    # Noon in Brisbane: the micro window's newest report is not published yet, which is no
    # reason to show 0 W over the real latest_telemetry value.
    sunny = rig.state.system(SOLAR.system_id).power[Quantity.SOLAR]
    sunny_until = rig.cloud.truth.published_until(SOLAR.system_id)
    assert sunny_until is not None
    truth_w = rig.cloud.truth.power_at(SOLAR.system_id, sunny_until).solar_w
    assert sunny.watts == pytest.approx(truth_w, abs=1)
    second = rig.plan()
    assert second.at >= first.at + timedelta(seconds=61)
    assert {c.role for calls in second.calls.values() for c in calls} == {Role.LIFETIME}
    rig.clock.set(second.at)
    await rig.runner.run(second)
    assert rig.plan().at > rig.clock() + timedelta(minutes=5)  # nothing else is due now
    assert rig.ledger.used == len(rig.cloud.requests) == 16
    truth = rig.cloud.truth
    battery = rig.state.system(BATTERY.system_id)
    published = truth.published_until(BATTERY.system_id)
    assert published is not None
    step = truth.power_at(BATTERY.system_id, published)
    power = battery.power
    assert power[Quantity.SOLAR].watts == pytest.approx(step.solar_w, abs=1)
    assert power[Quantity.BATTERY].watts == pytest.approx(step.battery_w, abs=2)  # + discharging
    assert power[Quantity.CONSUMPTION].watts == pytest.approx(step.load_w, abs=2)
    assert power[Quantity.GRID].watts == pytest.approx(step.grid_w, abs=2)  # + importing
    assert power[Quantity.SOLAR].measured_at - published < timedelta(minutes=3)
    assert battery.soc is not None
    lifetime = truth.lifetime(BATTERY.system_id, published)
    assert battery.energy_wh(Stream.PRODUCTION) == lifetime.solar_wh
    assert battery.energy_wh(Stream.CONSUMPTION) == lifetime.load_wh
    assert battery.energy_wh(Stream.BATTERY_CHARGE) == lifetime.charge_wh
    assert battery.energy_wh(Stream.BATTERY_DISCHARGE) == lifetime.discharge_wh
    assert battery.last_live_at == first.at


async def test_a_late_report_does_not_read_as_zero_solar(rig: Rig) -> None:
    # The gateway stops reporting shortly before noon: the micro window then lacks its newest
    # intervals, but no published report proves the micros were dark.
    rig.cloud.faults.take_offline(SOLAR.system_id, start=rig.clock() - timedelta(minutes=50))
    await rig.runner.run(rig.plan())
    solar = rig.state.system(SOLAR.system_id).power[Quantity.SOLAR]
    published = rig.cloud.truth.published_until(SOLAR.system_id)
    assert published is not None
    assert solar.watts == pytest.approx(
        rig.cloud.truth.power_at(SOLAR.system_id, published).solar_w, abs=1
    )
    assert solar.watts > 1000


async def test_grid_counters_equal_the_truth_after_the_first_polls(rig: Rig) -> None:
    # The consumption and battery windows start at local midnight, the micro window a day back:
    # intervals without production data must not be derived (they once booked the whole
    # morning's load as import).
    rig.clock.advance(timedelta(minutes=5))
    for _ in range(2):
        plan = rig.plan()
        rig.clock.set(max(plan.at, rig.clock()))
        await rig.runner.run(plan)
    for site in (BATTERY, SOLAR):
        readings = rig.state.system(site.system_id)
        published = rig.cloud.truth.published_until(site.system_id)
        lifetime = rig.cloud.truth.lifetime(site.system_id, published)
        assert readings.counters[Stream.GRID_IMPORT].sources  # derived, not only reported
        assert readings.energy_wh(Stream.GRID_IMPORT) == lifetime.import_wh
        assert readings.energy_wh(Stream.GRID_EXPORT) == lifetime.export_wh


async def test_a_day_of_polls_stays_fresh_and_within_budget(rig: Rig) -> None:
    end = rig.clock() + timedelta(hours=23)  # the rig's access token lives a day
    ages = []
    while rig.clock() < end:
        plan = rig.plan()
        rig.clock.set(max(plan.at, rig.clock()))
        if plan.calls:
            report = await rig.runner.run(plan)
            assert {r.status for r in report.results} == {CallStatus.OK}
            for site in (BATTERY, SOLAR):
                # Never more than was measured (derived intervals net inside 15 minutes).
                truth = rig.cloud.truth.lifetime(site.system_id, rig.clock())
                readings = rig.state.system(site.system_id)
                assert readings.energy_wh(Stream.GRID_IMPORT) <= truth.import_wh
                assert readings.energy_wh(Stream.GRID_EXPORT) <= truth.export_wh
            if any(c.role is Role.LIVE for c in plan.calls.get(BATTERY.system_id, ())):
                solar = rig.state.system(BATTERY.system_id).power[Quantity.SOLAR]
                ages.append(rig.clock() - solar.measured_at)
        else:
            rig.clock.advance(timedelta(seconds=1))
    assert len(ages) >= 20
    # Every live poll after the first lands just after a report is surely published.
    assert all(age <= timedelta(minutes=26) for age in ages[1:])
    # The first fill, then two systems' share of a 31-day month.
    assert rig.ledger.used == len(rig.cloud.requests) <= 16 + 2 * 950 // 31


async def test_forbidden_endpoints_are_dropped_from_later_plans(
    sim_clock: ManualClock, socket_enabled: None
) -> None:
    cloud = EnphaseCloud(clock=sim_clock, sites=[BATTERY, SOLAR], plan=Plan.WATT.without_battery())
    async with (
        SimServer(enphase=cloud, host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
    ):
        rig = Rig(cloud, server, session)
        report = await rig.runner.run(rig.plan())
        forbidden = {r.endpoint for r in report.with_status(CallStatus.FORBIDDEN)}
        assert forbidden == {Endpoint.BATTERY_TELEMETRY, Endpoint.BATTERY_LIFETIME}
        battery = rig.state.system(BATTERY.system_id)
        assert battery.profile().forbidden == forbidden
        assert battery.forbidden[Endpoint.BATTERY_LIFETIME].refused_at == rig.clock()
        planned = {c.endpoint for calls in rig.plan().calls.values() for c in calls}
        assert not planned & forbidden

        # The plan now covers battery data: a retry's answer is merged and lifts the refusal.
        cloud.application.limiter.plan = Plan.WATT
        rig.clock.advance(timedelta(minutes=2))
        retry = EndpointCall(Endpoint.BATTERY_LIFETIME, Role.RETRY)
        report = await rig.runner.run(PollPlan(rig.clock(), {BATTERY.system_id: (retry,)}, "t"))
        assert [r.status for r in report.results] == [CallStatus.OK]
        assert set(battery.forbidden) == {Endpoint.BATTERY_TELEMETRY}
        assert battery.total_known(Stream.BATTERY_CHARGE)


async def test_a_month_429_blocks_and_ends_the_poll(rig: Rig) -> None:
    period_end = rig.clock() + timedelta(days=3)
    body = {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "month",
        "period_end": int(period_end.timestamp()),
        "limit": 1000,
    }
    rig.cloud.faults.respond(body, status=429, endpoint=LATEST, count=1)
    plan = rig.plan()
    report = await rig.runner.run(plan)
    assert report.results[0].status is CallStatus.RATE_LIMITED
    assert {r.status for r in report.results[1:]} == {CallStatus.SKIPPED}
    status = rig.ledger.status()
    assert status.blocked_until == period_end
    assert status.usable_left == 0
    assert rig.plan().calls == {}


async def test_the_ledger_refuses_before_anything_is_sent(rig: Rig) -> None:
    for _ in range(950):
        rig.ledger.after_request(RequestRecord(LATEST, rig.clock(), 200, RequestOutcome.OK))
    plan = PollPlan(
        rig.clock(), {BATTERY.system_id: (EndpointCall(Endpoint.LATEST_TELEMETRY, Role.LIVE),)}, "t"
    )
    report = await rig.runner.run(plan)
    assert [r.status for r in report.results] == [CallStatus.REFUSED]
    assert report.sent == 0
    assert rig.cloud.requests == []
    assert rig.state.system(BATTERY.system_id).last_live_at is None


async def test_a_guard_refusal_inside_the_client_is_reported(rig: Rig) -> None:
    for _ in range(950):
        rig.ledger.after_request(RequestRecord(LATEST, rig.clock(), 200, RequestOutcome.OK))
    runner = PollRunner(
        rig.client, rig.state, rig.clock
    )  # no pre-check: the client's guard says no
    plan = PollPlan(
        rig.clock(), {SOLAR.system_id: (EndpointCall(Endpoint.SUMMARY, Role.LIVE),)}, "t"
    )
    report = await runner.run(plan)
    assert [r.status for r in report.results] == [CallStatus.REFUSED]
    assert rig.cloud.requests == []


async def test_auth_failure_stops_the_poll(rig: Rig) -> None:
    rig.cloud.faults.revoke_all_tokens()
    report = await rig.runner.run(rig.plan())
    assert report.results[0].status is CallStatus.AUTH_FAILED
    assert report.auth_failed
    assert {r.status for r in report.results[1:]} == {CallStatus.SKIPPED}


async def test_a_rejected_api_key_stops_the_poll_without_asking_for_a_login(rig: Rig) -> None:
    rig.cloud.regenerate_api_key()
    report = await rig.runner.run(rig.plan())
    assert report.results[0].status is CallStatus.KEY_REJECTED
    assert report.key_rejected
    assert not report.auth_failed
    assert {r.status for r in report.results[1:]} == {CallStatus.SKIPPED}


async def test_a_removed_system_skips_its_other_calls_only(rig: Rig) -> None:
    rig.cloud.faults.remove_system(BATTERY.system_id)
    plan = PollPlan(
        rig.clock(),
        {
            BATTERY.system_id: (
                EndpointCall(Endpoint.LATEST_TELEMETRY, Role.LIVE),
                EndpointCall(Endpoint.ENERGY_LIFETIME, Role.LIFETIME),
            ),
            SOLAR.system_id: (EndpointCall(Endpoint.LATEST_TELEMETRY, Role.LIVE),),
        },
        "t",
    )
    report = await rig.runner.run(plan)
    assert [r.status for r in report.results] == [
        CallStatus.NOT_FOUND,
        CallStatus.SKIPPED,
        CallStatus.OK,
    ]


async def test_a_server_error_is_reported_and_the_poll_goes_on(rig: Rig) -> None:
    rig.cloud.faults.server_error(endpoint=LATEST, count=1)
    plan = PollPlan(
        rig.clock(),
        {
            BATTERY.system_id: (
                EndpointCall(Endpoint.LATEST_TELEMETRY, Role.LIVE),
                EndpointCall(Endpoint.SUMMARY, Role.LIVE),
                EndpointCall(Endpoint.PRODUCTION_METER, Role.CATCH_UP),
                EndpointCall(Endpoint.ENERGY_IMPORT_TELEMETRY, Role.CATCH_UP),
                EndpointCall(Endpoint.ENERGY_EXPORT_TELEMETRY, Role.CATCH_UP),
            )
        },
        "t",
    )
    report = await rig.runner.run(plan)
    statuses = [r.status for r in report.results]
    assert statuses == [CallStatus.FAILED] + [CallStatus.OK] * 4
    assert report.results[0].detail is not None
    battery = rig.state.system(BATTERY.system_id)
    # The failed live call still counts as the live poll (no retry storm) and as an attempt.
    assert battery.last_live_at == rig.clock()
    progress = battery.progress().of(Endpoint.LATEST_TELEMETRY)
    assert (progress.last_attempt, progress.last_success) == (rig.clock(), None)
    assert battery.intervals(Stream.GRID_IMPORT)


async def test_an_endpoint_a_poll_cannot_use(rig: Rig) -> None:
    plan = PollPlan(
        rig.clock(), {SOLAR.system_id: (EndpointCall(Endpoint.DEVICES, Role.LIVE),)}, "t"
    )
    with pytest.raises(ValueError, match="not an endpoint a poll can use"):
        await rig.runner.run(plan)


async def test_a_restart_from_the_stores_makes_no_extra_call(rig: Rig) -> None:
    for _ in range(3):
        plan = rig.plan()
        rig.clock.set(max(plan.at, rig.clock()))
        await rig.runner.run(plan)
    planned = rig.plan()
    sent = len(rig.cloud.requests)
    # Home Assistant restarts: readings and ledger come back from their stores.
    rig.clock.advance((planned.at - rig.clock()) / 2)
    state = ReadingsState.from_dict(json.loads(json.dumps(rig.state.to_dict())))
    ledger = CallLedger.from_dict(
        json.loads(json.dumps(rig.ledger.to_dict())), PlanLimits.watt(), rig.clock
    )
    again = rig.planner.plan(state.planned_systems(), ledger.status())
    assert again == planned
    assert len(rig.cloud.requests) == sent


async def test_answers_come_back_and_a_history_call_leaves_the_progress_alone(rig: Rig) -> None:
    day_ago = rig.clock() - timedelta(days=2)
    plan = PollPlan(
        rig.clock(),
        {
            BATTERY.system_id: (
                EndpointCall(Endpoint.CONSUMPTION_METER, Role.CATCH_UP, start_at=day_ago),
                EndpointCall(Endpoint.PRODUCTION_METER, Role.HISTORY, start_at=day_ago),
            )
        },
        "t",
    )
    report = await rig.runner.run(plan)
    assert [r.status for r in report.results] == [CallStatus.OK, CallStatus.OK]
    assert all(r.answer is not None and r.asked_at == rig.clock() for r in report.results)
    assert "answer=" not in repr(report.results[0])
    (answers,) = report.interval_answers().values()
    assert [item.endpoint for item in answers] == [
        Endpoint.CONSUMPTION_METER,
        Endpoint.PRODUCTION_METER,
    ]
    battery = rig.state.system(BATTERY.system_id)
    assert battery.progress().of(Endpoint.CONSUMPTION_METER).last_success == rig.clock()
    assert battery.progress().of(Endpoint.PRODUCTION_METER).last_attempt is None
    assert not battery.intervals(Stream.PRODUCTION)
    assert rig.ledger.used == 2
