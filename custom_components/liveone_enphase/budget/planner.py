"""The poll planner: when to poll next, and which endpoints to call for which system.

A pure function of the clock, the place (its daylight), the systems' profiles and progress (from
the readings state) and the ledger's status. It keeps no state of its own, so a restart changes
nothing: given the same persisted progress it plans the same poll at the same time.

How it spends the month:
- Fixed costs first: token refreshes and the first fill of the lifetime counters. The rest is
  shared out in tiers (`allocation`): live polls in daylight, the daily catch-up (each interval
  endpoint once, from where its data is known complete, so a whole night comes in one call per
  endpoint), the monthly lifetime check, battery state of charge, nights, extras.
- Live polls are spread evenly over daylight at the spacing the budget affords, the first one
  pulled to sunrise, and each moved to just after the moment the next 15-minute report is sure to
  be published (`timing`), so the shown value is as young as the calls allow.
- A plan never holds more calls than the budget still allows (the token refreshes still to come
  set aside), nor more than the minute allows; what is left over comes in the next plan.
- Past days the hourly statistics still miss (`SystemProgress.history`, listed by the
  statistics importer) are the least valuable calls: they never make a poll of their own, only
  ride on one that is going anyway (the catch-up before dawn, typically), and go first when a
  plan must be trimmed. They are funded from what the live and catch-up tiers leave (tier 3b
  of `allocation`), never as a fixed cost: a fixed cost came before the hourly live polls and,
  on a tight budget, starved them. A day is asked for only once it has ended and its last
  report is surely published, so one whole-day call per endpoint completes it.
- An endpoint Enphase refused (403) is retried once its wait is over (`SystemProgress.retries`:
  30 days after the refusal, or at once after the user named a bigger plan): one call, riding
  like a history call (before them) on the next poll that goes anyway; only a system with
  nothing else to poll gets a poll of its own for it. A retry that fails for another reason is
  tried again after `retry_after`. Retries due this month are a fixed cost.
- The allocation is recomputed at every plan from the calls actually left, so a restart storm or
  another application on the same key only stretches the spacing for the rest of the month. It is
  computed as of the last live poll (not "now"), so planning again later — after a restart —
  yields the same time, never an earlier one.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from math import ceil, floor

from ..enphase import Endpoint, Granularity
from .allocation import Allocation, Cadences, Demand, allocate
from .ledger import BudgetStatus
from .model import (
    DEFAULT_VISIBLE_AFTER,
    INTERVAL_ENDPOINTS,
    LIFETIME_ENDPOINTS,
    EndpointCall,
    EndpointProgress,
    PollPlan,
    Role,
    SystemProfile,
    SystemProgress,
)
from .sun import SunCalendar
from .timing import advance, align_to_publication, dither_for, sunrise_anchor

type Clock = Callable[[], datetime]
type PlannedSystem = tuple[SystemProfile, SystemProgress]

GRID_INTERVALS = (Endpoint.ENERGY_IMPORT_TELEMETRY, Endpoint.ENERGY_EXPORT_TELEMETRY)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_WEEK = timedelta(days=7)
# A catch-up instant missed by more than this (Home Assistant was down, or the budget said
# no) is not made up for late: the next one reaches back over both days.
_CATCH_UP_GRACE = timedelta(hours=1)
# A gateway that reported this much beyond what is known came back with a backlog (a daily
# catch-up's window ends a day after it starts, and it may run up to its grace late: that much
# behind is the daily routine).
_BACKLOG = _DAY + _CATCH_UP_GRACE
_ROLE_ORDER = {
    Role.LIVE: 0,
    Role.REFRESH: 1,
    Role.CATCH_UP: 2,
    Role.LIFETIME: 3,
    Role.RETRY: 4,
    Role.HISTORY: 5,
}
# When the budget cannot pay for a whole plan, drop these first (a missed catch-up is made
# good by the next one, which reaches back a week; a missed live value is lost).
_TRIM_ORDER = (Role.HISTORY, Role.RETRY, Role.REFRESH, Role.LIFETIME, Role.CATCH_UP, Role.LIVE)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """Tunables; the defaults suit the free plan and Enphase's 15-minute reporting.

    `budget_share`: the fraction of the application's calls this planner may use (several
    config entries sharing one application each get a share). `max_backfill`: how far back a
    catch-up reaches (one call covers a week where the endpoint allows it; 5-minute micro data
    a day per call, one more call each `retry_after` while the gateway has reported beyond it).
    """

    visible_after: timedelta = DEFAULT_VISIBLE_AFTER
    cadences: Cadences = field(default_factory=Cadences)
    catch_up_at: time = time(4, 30)
    lifetime_every: timedelta = timedelta(days=30)
    retry_after: timedelta = timedelta(minutes=30)
    max_backfill: timedelta = timedelta(days=7)
    token_refreshes_per_day: float = 1.0
    budget_share: float = 1.0
    live_merge: timedelta = timedelta(minutes=2)
    slow_cadence: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True, order=True)
class _Item:
    due: datetime
    order: int
    system_id: int
    call: EndpointCall = field(compare=False)


class PollPlanner:
    """Plans the next poll of the systems of one place (one config entry)."""

    def __init__(
        self,
        calendar: SunCalendar,
        clock: Clock,
        settings: PlannerSettings | None = None,
    ) -> None:
        self.calendar = calendar
        self.settings = settings or PlannerSettings()
        self._clock = clock

    # --- public -------------------------------------------------------------------------------

    def plan(self, systems: Sequence[PlannedSystem], budget: BudgetStatus) -> PollPlan:
        """Plan the next poll: when, and which endpoints per system.

        The earliest due items that the budget affords make the plan; items it cannot afford
        are dropped, least valuable first. If nothing at all is affordable, plan again a day
        later (the token refreshes set aside shrink day by day) or when the month turns.
        """
        now = self._clock()
        month_end = budget.month_end
        allocation = self.allocation(systems, budget)
        # Retries ride on other polls; only with nothing else to poll do they make their own.
        items = sorted(self._items(systems, allocation, now)) or self._retries(systems, month_end)
        if not items:
            return PollPlan(month_end, {}, "nothing to poll this month")
        for at in sorted({max(item.due, now) for item in items}):
            if at >= month_end:
                return PollPlan(month_end, {}, "next poll falls in the next month: plan again")
            chosen = _unique(
                item
                for item in items
                if item.due <= at
                or (item.call.role is Role.LIVE and item.due <= at + self.settings.live_merge)
            )
            chosen += self._riders(systems, allocation, chosen, at)
            spendable = self.spendable(budget, at)
            chosen = self._affordable(chosen, spendable)
            if chosen:
                chosen = chosen[: budget.minute_limit]
                taken = {(item.system_id, item.call.endpoint) for item in chosen}
                riders = [
                    item
                    for item in self._retries(systems, at)
                    if (item.system_id, item.call.endpoint) not in taken
                ]
                riders += self._history(systems, taken, items, at, allocation.history_calls)
                chosen += _spare(riders, chosen, at, budget, spendable)
                return _assemble(chosen, at, budget, allocation)
        return PollPlan(min(month_end, now + _DAY), {}, "the budget is spent for now")

    def allocation(self, systems: Sequence[PlannedSystem], budget: BudgetStatus) -> Allocation:
        """Work out what the calls left afford from the reference instant to the month's end.

        Live polls are spread from the last live poll; the costs still to come (token
        refreshes, catch-ups, lifetime checks) are counted from the last request made, as
        everything before it is already in the ledger's count.
        """
        settings = self.settings
        reference = self._reference(systems, budget)
        month_end = budget.month_end
        counted_from = max(reference, min(budget.now, budget.last_request_at or reference))
        light, dark = self.calendar.split(reference, month_end)
        fixed = ceil((month_end - counted_from) / _DAY * settings.token_refreshes_per_day)
        live_cost = battery_systems = catch_up_cost = refresh_cost = grid_cost = 0
        lifetime_cost = history_listed = history_daily = 0
        for profile, progress in systems:
            live = profile.live_endpoints
            catch_up = self._catch_up_endpoints(profile, measured_grid=False)
            for endpoint in self._lifetime_endpoints(profile):
                state = progress.of(endpoint)
                if state.last_success is None:
                    fixed += 1
                elif counted_from <= self._lifetime_due(state, counted_from) < month_end:
                    lifetime_cost += 1
            catch_up_cost += len(catch_up)
            fixed += sum(1 for _, at in _retry_waits(profile, progress) if at < month_end)
            history_listed += len(progress.history)
            history_daily += len([e for e in profile.history_endpoints if e not in catch_up])
            if progress.report_cadence >= settings.slow_cadence:
                fixed += ceil((month_end - reference) / progress.report_cadence) * len(live)
                continue
            live_cost += len(live)
            battery_systems += profile.has_battery and Endpoint.BATTERY_TELEMETRY not in live
            refresh_cost += len([e for e in catch_up if e not in live])
            grid_cost += len([e for e in GRID_INTERVALS if profile.usable(e)])
        demand = Demand(
            available=floor(budget.usable_left * settings.budget_share) - fixed,
            day_minutes=light / _MINUTE,
            night_minutes=dark / _MINUTE,
            live_cost=live_cost,
            battery_systems=battery_systems,
            catch_up_cost=catch_up_cost,
            catch_ups=sum(1 for _ in self._catch_up_instants(counted_from, month_end)),
            refresh_cost=refresh_cost,
            grid_cost=grid_cost,
            lifetime_cost=lifetime_cost,
            history_listed=history_listed,
            history_daily=history_daily,
        )
        return allocate(demand, settings.cadences)

    def spendable(self, budget: BudgetStatus, now: datetime) -> int:
        """Count the calls a plan may use now: our share, less the token refreshes still due."""
        days_left = (budget.month_end - now) / timedelta(days=1)
        tokens = ceil(days_left * self.settings.token_refreshes_per_day)
        return floor(budget.usable_left * self.settings.budget_share) - tokens

    # --- items --------------------------------------------------------------------------------

    def _items(
        self, systems: Sequence[PlannedSystem], allocation: Allocation, now: datetime
    ) -> Iterator[_Item]:
        for profile, progress in systems:
            system_id = profile.system_id
            lag = progress.settled_after(self.settings.visible_after)
            live_at = self._next_live(profile, progress, allocation, now)
            if live_at is not None:
                for endpoint in profile.live_endpoints:
                    state = progress.of(endpoint)
                    call = self._interval_call(endpoint, Role.LIVE, state, lag, now)
                    yield _Item(live_at, _ROLE_ORDER[Role.LIVE], system_id, call)
            for endpoint in self._catch_up_endpoints(profile, allocation.measured_grid):
                state = progress.of(endpoint)
                due = self._catch_up_due(
                    state, lag, allocation.catch_up_days, now, reported=progress.last_report_at
                )
                call = self._interval_call(endpoint, Role.CATCH_UP, state, lag, now)
                yield _Item(due, _ROLE_ORDER[Role.CATCH_UP], system_id, call)
            for endpoint in self._lifetime_endpoints(profile):
                state = progress.of(endpoint)
                if state.last_success is not None and not allocation.lifetime_checks:
                    continue
                call = EndpointCall(endpoint, Role.LIFETIME, start_date=state.resume_date)
                yield _Item(
                    self._lifetime_due(state, now), _ROLE_ORDER[Role.LIFETIME], system_id, call
                )

    def _retries(self, systems: Sequence[PlannedSystem], by: datetime) -> list[_Item]:
        """One call per refused endpoint whose wait is over by `by`, due when it is over.

        An endpoint that no longer applies to the hardware is not retried; a retry that failed
        otherwise than with a 403 waits `retry_after`, like any failed call.
        """
        now = self._clock()
        items = []
        for profile, progress in systems:
            lag = progress.settled_after(self.settings.visible_after)
            for endpoint, wait_until in _retry_waits(profile, progress):
                state = progress.of(endpoint)
                due = max(wait_until, self._retry_at(state) or wait_until)
                if due > by:
                    continue
                if endpoint in LIFETIME_ENDPOINTS:
                    call = EndpointCall(endpoint, Role.RETRY, start_date=state.resume_date)
                else:
                    call = self._interval_call(endpoint, Role.RETRY, state, lag, max(due, now))
                items.append(_Item(due, _ROLE_ORDER[Role.RETRY], profile.system_id, call))
        return sorted(items)

    def _riders(
        self,
        systems: Sequence[PlannedSystem],
        allocation: Allocation,
        chosen: list[_Item],
        at: datetime,
    ) -> list[_Item]:
        """Interval refreshes (battery state of charge first) that ride on a live poll."""
        live_systems = {item.system_id for item in chosen if item.call.role is Role.LIVE}
        taken = {(item.system_id, item.call.endpoint) for item in chosen}
        slack = (allocation.day_spacing or timedelta(0)) / 2
        riders = []
        for profile, progress in systems:
            if profile.system_id not in live_systems:
                continue
            for endpoint in self._catch_up_endpoints(profile, allocation.measured_grid):
                spacings = [allocation.refresh_spacing]
                if endpoint is Endpoint.BATTERY_TELEMETRY:
                    spacings.append(allocation.soc_spacing)
                funded = [spacing for spacing in spacings if spacing is not None]
                if not funded or (profile.system_id, endpoint) in taken:
                    continue
                state = progress.of(endpoint)
                if state.last_success is not None and at - state.last_success < min(funded) - slack:
                    continue
                lag = progress.settled_after(self.settings.visible_after)
                call = self._interval_call(endpoint, Role.REFRESH, state, lag, at)
                riders.append(_Item(at, _ROLE_ORDER[Role.REFRESH], profile.system_id, call))
        return riders

    def _affordable(self, chosen: list[_Item], spendable: int) -> list[_Item]:
        """Drop the least valuable calls until the plan fits what may be spent."""
        kept = list(chosen)
        for role in _TRIM_ORDER:
            while len(kept) > spendable and any(item.call.role is role for item in kept):
                last = max(i for i, item in enumerate(kept) if item.call.role is role)
                del kept[last]
        return kept if spendable > 0 else []

    def _history(
        self,
        systems: Sequence[PlannedSystem],
        taken: set[tuple[int, Endpoint]],
        coming: Sequence[_Item],
        at: datetime,
        funded: int,
    ) -> list[_Item]:
        """Return the first `funded` history calls that may ride on the poll at `at`.

        Only for days that ended, with their last report published, before `at`; none for an
        endpoint the poll calls anyway, nor for a window a catch-up still `coming` will fetch
        (they bring the same intervals, and the list is made again after each poll).
        """
        published = at - self.settings.visible_after
        catch_ups = {
            (item.system_id, item.call.endpoint): item.call
            for item in coming
            if item.call.role is Role.CATCH_UP
        }
        calls = [
            _Item(at, _ROLE_ORDER[Role.HISTORY], profile.system_id, call)
            for profile, progress in systems
            for call in progress.history
            if (profile.system_id, call.endpoint) not in taken
            and not _covers(catch_ups.get((profile.system_id, call.endpoint)), call)
            and (call.start_at is None or self._day_end(call.start_at) <= published)
        ]
        return calls[:funded]

    def _day_end(self, moment: datetime) -> datetime:
        """Return the end of the local day holding `moment`."""
        return self.calendar.midnight(self.calendar.local_date(moment) + _DAY)

    # --- timing -------------------------------------------------------------------------------

    def _next_live(
        self,
        profile: SystemProfile,
        progress: SystemProgress,
        allocation: Allocation,
        now: datetime,
    ) -> datetime | None:
        """When this system's next live poll is due (None: none affordable)."""
        if not profile.live_endpoints:
            return None
        last = progress.last_live_at
        if last is None:
            return now
        cadence = progress.report_cadence
        settings = self.settings
        if cadence >= settings.slow_cadence:
            nominal: datetime | None = last + cadence
        else:
            day = _at_least(allocation.day_spacing, cadence)
            night = _at_least(allocation.night_spacing, cadence)
            nominal = advance(self.calendar, last, day, night)
            if nominal is not None and night != day:
                anchored = sunrise_anchor(self.calendar, last, nominal, settings.cadences.fastest)
                if anchored != nominal:
                    # The first value of the day must be there when the light comes: take the
                    # last report published before sunrise, not the nearest.
                    return align_to_publication(
                        anchored, progress.report_boundary(), cadence, settings.visible_after, 0.0
                    )
        if nominal is None:
            return None
        return align_to_publication(
            nominal,
            progress.report_boundary(),
            cadence,
            settings.visible_after,
            dither_for(last),
        )

    def _catch_up_due(
        self,
        state: EndpointProgress,
        lag: timedelta,
        every_days: int,
        now: datetime,
        *,
        reported: datetime | None = None,
    ) -> datetime:
        """Find the catch-up instant at which this endpoint's data is next incomplete.

        When the budget only affords a catch-up every few days, the next one waits until that
        many days after the last (one call then brings all of them). A first fill is due at
        once; a failed catch-up is retried after `retry_after`. When the last answer fell short
        of what the gateway has `reported` by more than `_BACKLOG` (it came back from offline
        with a backlog), the rest is fetched a call each `retry_after` (each moves on by its
        window).
        """
        retry = self._retry_at(state)
        if state.last_success is None:
            return now if retry is None else max(now, retry)
        known = state.known_through(lag)
        behind = known is not None and reported is not None and reported - known > _BACKLOG
        if behind and not state.complete:
            return max(now, retry or state.last_success + self.settings.retry_after)
        day = self.calendar.local_date(now) - _DAY
        while known is not None and known >= self.calendar.midnight(day):
            day += _DAY
        if every_days > 1:
            day = max(day, self.calendar.local_date(state.last_success) + timedelta(every_days))
        due = self._catch_up_instant(day)
        if retry is not None:
            return max(due, retry)
        if due < now - _CATCH_UP_GRACE:
            today = self.calendar.local_date(now)
            due = self._catch_up_instant(today)
            if due < now - _CATCH_UP_GRACE:
                due = self._catch_up_instant(today + _DAY)
        if due <= state.last_success:
            # Still incomplete after asking at this instant (a silent gateway): once a day.
            due = self._catch_up_instant(self.calendar.local_date(state.last_success) + _DAY)
        return due

    def _lifetime_due(self, state: EndpointProgress, now: datetime) -> datetime:
        """Now for a first fill; later, at the catch-up instant `lifetime_every` on."""
        retry = self._retry_at(state)
        if state.last_success is None:
            return now if retry is None else max(now, retry)
        day = self.calendar.local_date(state.last_success) + self.settings.lifetime_every
        due = self._catch_up_instant(day)
        return due if retry is None else max(due, retry)

    def _retry_at(self, state: EndpointProgress) -> datetime | None:
        """After a failure, when to try again."""
        attempt = state.last_attempt
        if attempt is None or (state.last_success is not None and state.last_success >= attempt):
            return None
        return attempt + self.settings.retry_after

    def _catch_up_instant(self, day: date) -> datetime:
        return self.calendar.local_time(day, self.settings.catch_up_at)

    def _catch_up_instants(self, start: datetime, end: datetime) -> Iterator[datetime]:
        day = self.calendar.local_date(start)
        while (instant := self._catch_up_instant(day)) < end:
            if instant > start:
                yield instant
            day += timedelta(days=1)

    def _reference(self, systems: Sequence[PlannedSystem], budget: BudgetStatus) -> datetime:
        """Pick the instant the allocation is computed from: this month's last live poll."""
        polls = [p.last_live_at for _, p in systems if p.last_live_at is not None]
        last = max(polls, default=budget.now)
        return min(budget.now, max(last, budget.month_start))

    # --- calls --------------------------------------------------------------------------------

    def _interval_call(
        self,
        endpoint: Endpoint,
        role: Role,
        state: EndpointProgress,
        lag: timedelta,
        now: datetime,
    ) -> EndpointCall:
        """Build a call; an interval endpoint continues from where its data is known complete.

        A catch-up, or any call for an endpoint more than a day behind, asks for a week where
        the endpoint allows it, so one call closes any gap up to the backfill limit instead of
        jumping past it; 5-minute micro data comes a day at a time, so a micro endpoint behind
        walks forward a day per call from where it is known. Otherwise live and refresh calls
        ask for the last day, for a current value. Never asked before: from
        yesterday's midnight. Other endpoints take no window.
        """
        if endpoint not in INTERVAL_ENDPOINTS:
            return EndpointCall(endpoint, role)
        known = state.known_through(lag)
        behind = known is not None and now - known > _DAY
        weekly = endpoint is not Endpoint.PRODUCTION_MICRO and (role is Role.CATCH_UP or behind)
        reach = self.settings.max_backfill if weekly or behind else _DAY
        if known is None:
            yesterday = self.calendar.local_date(now) - timedelta(days=1)
            start = self.calendar.midnight(yesterday)
        else:
            start = known
        granularity = Granularity.WEEK if weekly else Granularity.DAY
        return EndpointCall(
            endpoint, role, start_at=max(start, now - reach), granularity=granularity
        )

    def _catch_up_endpoints(
        self, profile: SystemProfile, measured_grid: bool
    ) -> tuple[Endpoint, ...]:
        candidates = [
            profile.production_intervals,
            Endpoint.CONSUMPTION_METER,
            Endpoint.BATTERY_TELEMETRY,
            *(GRID_INTERVALS if measured_grid else ()),
        ]
        return tuple(e for e in candidates if e is not None and profile.usable(e))

    @staticmethod
    def _lifetime_endpoints(profile: SystemProfile) -> tuple[Endpoint, ...]:
        return tuple(sorted(e for e in LIFETIME_ENDPOINTS if profile.usable(e)))


def _assemble(
    chosen: Sequence[_Item], at: datetime, budget: BudgetStatus, allocation: Allocation
) -> PollPlan:
    """Group the chosen calls per system, no sooner than the minute's limit lets them all go."""
    calls: dict[int, tuple[EndpointCall, ...]] = {}
    for item in chosen:
        calls[item.system_id] = (*calls.get(item.system_id, ()), item.call)
    when = max(at, budget.minute_free_at(len(chosen)))
    return PollPlan(when, calls, _reason(chosen, allocation))


def _retry_waits(
    profile: SystemProfile, progress: SystemProgress
) -> Iterator[tuple[Endpoint, datetime]]:
    """Yield the refused endpoints that still apply to the system, with the end of each wait."""
    for endpoint, wait_until in sorted(progress.retries.items()):
        if profile.applies(endpoint):
            yield endpoint, wait_until


def _spare(
    calls: Sequence[_Item],
    chosen: Sequence[_Item],
    at: datetime,
    budget: BudgetStatus,
    spendable: int,
) -> list[_Item]:
    """Return the first `calls` that fit in the poll at `at`, neither delaying it nor overspending.

    One request of the minute is left free: a token refresh may come with the poll.
    """
    room = min(spendable, budget.minute_limit - 1) - len(chosen)
    riders = list(calls[: max(0, room)])
    when = max(at, budget.minute_free_at(len(chosen)))
    while riders and budget.minute_free_at(len(chosen) + len(riders)) > when:
        riders.pop()
    return riders


def _covers(catch_up: EndpointCall | None, call: EndpointCall) -> bool:
    """Whether a catch-up will fetch the window a history call would start.

    A history call starts at the hour that holds the first missing interval, so a catch-up
    that starts within that hour counts as covering it.
    """
    if catch_up is None or catch_up.start_at is None or call.start_at is None:
        return False
    reach = _WEEK if catch_up.granularity is Granularity.WEEK else _DAY
    return catch_up.start_at - _HOUR < call.start_at < catch_up.start_at + reach


def _unique(items: Iterator[_Item]) -> list[_Item]:
    """One call per system and endpoint, the most valuable role kept (live before catch-up)."""
    kept: dict[tuple[int, Endpoint], _Item] = {}
    for item in sorted(items, key=lambda item: (item.order, item.system_id)):
        kept.setdefault((item.system_id, item.call.endpoint), item)
    return list(kept.values())


def _at_least(spacing: timedelta | None, floor_: timedelta) -> timedelta | None:
    return None if spacing is None else max(spacing, floor_)


def _reason(chosen: Sequence[_Item], allocation: Allocation) -> str:
    roles = sorted({item.call.role for item in chosen}, key=_ROLE_ORDER.__getitem__)
    spacing = allocation.day_spacing
    pace = f"{spacing.total_seconds() / 60:.0f} min in daylight" if spacing else "no live polls"
    return f"{', '.join(roles)} ({pace})"
