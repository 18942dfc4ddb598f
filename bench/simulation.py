"""One strategy at one place through the simulated year, measured against the truth.

The runs drive the real planner, ledger, runner and Enphase client against the simulated cloud
(free Watt plan: 1,000 calls a month, 10 a minute, token requests counted) with a simulated
clock, and restart Home Assistant every 24 h 37 min: the readings and the ledger go through
`to_dict` → JSON → `from_dict` as the Home Assistant store keeps them, and the next poll is
planned again from them. Token refreshes go to the simulator's token endpoint and are counted.
"""

import base64
import json
import time as timer
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import aiohttp
from aiohttp import web

from bench.inprocess import InProcessSession
from bench.metrics import Completeness, ExactHours, Staleness, month_key, share
from bench.sites import Place
from bench.strategies import Ours, StatisticsImport, Strategy
from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.budget.model import PollPlan, Role
from custom_components.liveone_enphase.budget.sun import SunCalendar
from custom_components.liveone_enphase.enphase import EnphaseClient, RequestOutcome
from custom_components.liveone_enphase.history.feeds import endpoint_series
from custom_components.liveone_enphase.readings.energy import Stream
from custom_components.liveone_enphase.readings.runner import CallStatus, PollRunner
from custom_components.liveone_enphase.readings.state import Quantity, ReadingsState
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan
from sim.enphase.physics import SiteModel

START = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM_ID = 7_000_001
BASE_URL = "http://enphase.sim"
RESTART_EVERY = timedelta(hours=24, minutes=37)
CHECK_AT = time(9, 0)

type StrategyFactory = Callable[[SunCalendar, ManualClock], Strategy]


class TokenKeeper:
    """Hands out the access token, refreshing it at the simulator when it has expired.

    Home Assistant keeps the tokens in the config entry, so they survive restarts; every
    refresh is a request to Enphase and is booked in the ledger.
    """

    def __init__(self, session: InProcessSession, cloud: EnphaseCloud, clock: ManualClock) -> None:
        self._session = session
        self._cloud = cloud
        self._clock = clock
        self._adopt(cloud.issue_tokens())
        self.ledger: CallLedger | None = None
        self.attempts = 0

    def _adopt(self, tokens: dict[str, object]) -> None:
        self._access = str(tokens["access_token"])
        self._refresh = str(tokens["refresh_token"])
        self._expires = self._clock() + timedelta(seconds=int(cast(int, tokens["expires_in"])))

    async def __call__(self) -> str:
        now = self._clock()
        if now < self._expires - timedelta(minutes=1):
            return self._access
        self.attempts += 1
        pair = f"{self._cloud.client_id}:{self._cloud.client_secret}".encode()
        basic = f"Basic {base64.b64encode(pair).decode('ascii')}"
        params = {"grant_type": "refresh_token", "refresh_token": self._refresh}
        async with self._session.post(
            f"{BASE_URL}/oauth/token", params=params, headers={"Authorization": basic}
        ) as answer:
            ok = answer.status == 200
            if self.ledger is not None:
                outcome = RequestOutcome.OK if ok else RequestOutcome.TRANSIENT
                self.ledger.record_token_request(now, status=answer.status, outcome=outcome)
            if not ok:
                raise RuntimeError(f"token refresh answered {answer.status}")
            self._adopt(await answer.json())
        return self._access


@dataclass
class RunResult:
    """The figures of one strategy at one place."""

    place: str
    strategy: str
    sent_by_month: dict[str, int]
    attempted_by_month: dict[str, int]
    rate_limited: int
    refused: int
    median_min: float | None
    p95_min: float | None
    samples: int
    intervals_share: float
    exact_hours: dict[str, Any]
    restart_regressions: int
    counter_dips: int
    production_error_pct: float
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_sent(self) -> int:
        """Most requests received by Enphase in any month."""
        return max(self.sent_by_month.values(), default=0)

    @property
    def max_attempted(self) -> int:
        """Most requests wanted in any month (refused ones included)."""
        return max(self.attempted_by_month.values(), default=0)

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON."""
        return {
            "place": self.place,
            "strategy": self.strategy,
            "max_calls_sent_per_month": self.max_sent,
            "max_calls_attempted_per_month": self.max_attempted,
            "calls_sent_by_month": self.sent_by_month,
            "calls_attempted_by_month": self.attempted_by_month,
            "total_calls_sent": sum(self.sent_by_month.values()),
            "rate_limited_429": self.rate_limited,
            "refused_by_ledger": self.refused,
            "daylight_staleness_median_min": _finite(self.median_min),
            "daylight_staleness_p95_min": _finite(self.p95_min),
            "daylight_minutes_sampled": self.samples,
            "intervals_by_next_morning_share": round(self.intervals_share, 4),
            **self.exact_hours,
            "restart_regressions": self.restart_regressions,
            "counter_dips": self.counter_dips,
            "production_counter_error_pct": round(self.production_error_pct, 3),
            "seconds": round(self.seconds, 1),
            **self.extra,
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or value == float("inf") else value


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


_TRUTH: dict[tuple[str, datetime], tuple[SiteModel, bytearray]] = {}


def _truth(place: Place, cloud: EnphaseCloud, end: datetime) -> tuple[SiteModel, Staleness]:
    """The site's physics, integrated once per place and process and shared by every run.

    The model depends only on the site's configuration (never on the clock or the requests),
    so all strategies at a place observe exactly the same weather and household.
    """
    system = cloud.systems[SYSTEM_ID]
    key = (place.name, end)
    if key not in _TRUTH:
        staleness = Staleness.for_model(system.model, end)
        _TRUTH[key] = (system.model, staleness.daylight)
    model, daylight = _TRUTH[key]
    system.model = model
    return model, Staleness(daylight, model.start)


class Simulation:
    """The run of one strategy at one place."""

    def __init__(self, place: Place, name: str, make: StrategyFactory, days: int) -> None:
        self.place = place
        self.name = name
        self.began = timer.perf_counter()
        self.clock = ManualClock(START)
        self.site = place.site(SYSTEM_ID, (START - timedelta(days=30)).date())
        self.cloud = EnphaseCloud(clock=self.clock, sites=[self.site], plan=Plan.WATT)
        self.end = START + timedelta(days=days)
        self.model, self.staleness = _truth(place, self.cloud, self.end)
        app = web.Application()
        self.cloud.install(app)
        self.session = InProcessSession(app)
        self.keeper = TokenKeeper(self.session, self.cloud, self.clock)
        self.calendar = SunCalendar(place.latitude, place.longitude, place.timezone)
        self.strategy = make(self.calendar, self.clock)
        self.ledger = CallLedger(PlanLimits.watt(), self.clock)
        self.state = ReadingsState()
        self.runner = self._connect()
        self.completeness = Completeness(self.model)
        self.statistics = (
            self.strategy.statistics if isinstance(self.strategy, Ours) else StatisticsImport()
        )
        self.exact: ExactHours | None = None
        self.attempted: Counter[str] = Counter()
        self.refused = self.regressions = self.same_instant = self.dips = self.history = 0
        self.counters = dict.fromkeys(Stream, 0.0)
        self.next_restart = START + RESTART_EVERY
        self.check_day = self.calendar.local_date(START)
        self.next_check = self.calendar.local_time(self.check_day + timedelta(days=1), CHECK_AT)
        # The first whole local day, checked as the day after it ends.
        self.hours_day = self.calendar.local_date(START - timedelta(seconds=1)) + timedelta(days=1)
        self.next_hours_check = self.calendar.midnight(self.hours_day + timedelta(days=2))
        self.last_run: datetime | None = None

    def _connect(self) -> PollRunner:
        """A client and runner for the current ledger and readings (after each restart)."""
        self.keeper.ledger = self.ledger
        http = cast(aiohttp.ClientSession, self.session)
        self.client = EnphaseClient(
            http,
            self.keeper,
            self.cloud.api_key,
            base_url=BASE_URL,
            guard=self.ledger,
            clock=self.clock,
        )
        return PollRunner(self.client, self.state, self.clock, self.ledger)

    async def run(self) -> RunResult:
        """Set up, then poll until the end."""
        await self._set_up()
        plan = self._plan()
        while self.clock() < self.end:
            now = self.clock()
            moment = min(
                max(plan.at, now),
                self.next_restart,
                self.next_check,
                self.next_hours_check,
                self.end,
            )
            shown = self.state.system(SYSTEM_ID).power.get(Quantity.SOLAR)
            self.staleness.observe(now, moment, None if shown is None else shown.measured_at)
            self.clock.set(moment)
            if moment >= self.end:
                break
            if moment == self.next_check:
                self._morning_check()
            elif moment == self.next_hours_check:
                self._hours_check()
            elif moment == self.next_restart:
                plan = self._restart(plan)
            else:
                plan = await self._poll(plan, moment)
        return self._result()

    async def _set_up(self) -> None:
        """Once, as the config flow would: what the system has decides what to poll."""
        devices = await self.client.devices(SYSTEM_ID)
        configs = {meter.config_type for meter in devices.meters}
        self.state.add_system(
            SYSTEM_ID,
            self.site.timezone,
            has_battery=bool(devices.encharges),
            has_consumption=bool(configs & {"Net", "Total"}),
            has_production_meter="Production" in configs,
        )
        profile = self.state.system(SYSTEM_ID).profile()
        series = tuple(
            s for group in endpoint_series(profile.history_endpoints).values() for s in group
        )
        self.exact = ExactHours(self.model, self.calendar.zone, series, self.statistics.rows)

    def _plan(self) -> PollPlan:
        return self.strategy.plan(self.state, self.ledger.status(), self.clock(), self.last_run)

    def _morning_check(self) -> None:
        """Count yesterday's intervals, and check that no counter went back."""
        readings = self.state.system(SYSTEM_ID)
        day = self.check_day
        self.completeness.check(
            readings, self.calendar.midnight(day), self.calendar.midnight(day + timedelta(days=1))
        )
        for stream in Stream:
            value = readings.energy_wh(stream)
            self.dips += value < self.counters[stream]
            self.counters[stream] = value
        self.check_day += timedelta(days=1)
        self.next_check = self.calendar.local_time(self.check_day + timedelta(days=1), CHECK_AT)

    def _hours_check(self) -> None:
        """As a day ends, count the hours of the day before it imported exactly."""
        if self.exact is not None:
            self.exact.check(self.hours_day)
        self.hours_day += timedelta(days=1)
        self.next_hours_check = self.calendar.midnight(self.hours_day + timedelta(days=2))

    def _restart(self, plan: PollPlan) -> PollPlan:
        """Home Assistant restarts: everything comes back from the store; plan again."""
        self.state = ReadingsState.from_dict(json.loads(json.dumps(self.state.to_dict())))
        self.ledger = CallLedger.from_dict(
            json.loads(json.dumps(self.ledger.to_dict())), PlanLimits.watt(), self.clock
        )
        self.statistics.restart()
        self.runner = self._connect()
        replanned = self._plan()
        if plan.calls and replanned.at < plan.at:
            self.regressions += 1
        self.next_restart += RESTART_EVERY
        return replanned

    async def _poll(self, plan: PollPlan, moment: datetime) -> PollPlan:
        """Run the plan if it is due, and plan the next one.

        As the coordinator does, the plan is made again when it is due: what the statistics
        miss may have changed since it was made (a day ended).
        """
        if plan.calls and plan.at <= moment:
            plan = self._plan()
        if plan.calls and plan.at <= moment:
            self.attempted[month_key(moment)] += plan.call_count
            report = await self.runner.run(plan)
            self.statistics.observe(self.state, report)
            self.refused += len(report.with_status(CallStatus.REFUSED))
            self.history += sum(1 for r in report.results if r.role is Role.HISTORY)
            self.last_run = moment
        following = self._plan()
        if following.at <= moment and following.calls:
            self.same_instant += 1
            following = PollPlan(moment + timedelta(seconds=1), following.calls, following.reason)
        return following

    def _exact_hours(self) -> dict[str, Any]:
        """The exact-hours figures: overall and per series, by the next day and ever."""
        exact = self.exact
        if exact is None:
            return {}
        ever = exact.ever()
        hours = sum(exact.hours.values())
        return {
            "hours_checked": hours,
            "hours_exact_by_next_day_share": _rounded(share(exact.by_next_day.total(), hours)),
            "hours_exact_ever_share": _rounded(share(ever.total(), hours)),
            "hours_exact_by_series": {
                series.value: {
                    "by_next_day": _rounded(share(exact.by_next_day[series], exact.hours[series])),
                    "ever": _rounded(share(ever[series], exact.hours[series])),
                }
                for series in exact.series
            },
        }

    def _result(self) -> RunResult:
        cloud = self.cloud
        sent: Counter[str] = Counter(month_key(record.time) for record in cloud.requests)
        for record in cloud.token_requests:
            self.attempted[month_key(record.time)] += 1
        readings = self.state.system(SYSTEM_ID)
        truth = cloud.truth.lifetime(SYSTEM_ID, self.end).solar_wh
        produced = readings.energy_wh(Stream.PRODUCTION)
        error = 100.0 * (produced - truth) / truth if truth else 0.0
        return RunResult(
            place=self.place.name,
            strategy=self.name,
            sent_by_month=dict(sorted(sent.items())),
            attempted_by_month=dict(sorted(self.attempted.items())),
            rate_limited=sum(1 for record in cloud.requests if record.status == 429),
            refused=self.refused,
            median_min=self.staleness.quantile(0.5),
            p95_min=self.staleness.quantile(0.95),
            samples=self.staleness.samples,
            intervals_share=self.completeness.share,
            exact_hours=self._exact_hours(),
            restart_regressions=self.regressions,
            counter_dips=self.dips,
            production_error_pct=error,
            seconds=timer.perf_counter() - self.began,
            extra={
                "replanned_at_the_same_instant": self.same_instant,
                "history_calls": self.history,
            },
        )
