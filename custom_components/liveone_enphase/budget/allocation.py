"""How the calls left in the month are shared out, in tiers of decreasing value.

Fixed costs (token refreshes, lifetime checks) are taken first by the planner. What remains
funds, in order, as far as it goes:

1. a weekly catch-up of every interval endpoint (one call covers up to a week);
2. live polls in daylight, up to one an hour;
3. the catch-up every day instead of every week (yesterday complete by the next morning);
3b. history for the hourly statistics: the days listed as missing, and for every day still to
   come one whole-day call per endpoint only the statistics need (measured grid import and
   export on the free plan); funded only from what tiers 1-3 leave, never before them;
4. live polls in daylight, up to one every 30 minutes;
5. the periodic check of the lifetime counters against Enphase's daily totals;
6. battery state of charge during daylight, every `soc` (3 h);
7. live polls in daylight, up to one per report (15 min): polling faster buys nothing;
8. live polls (and state of charge) at night, up to one per report;
9. measured grid import/export in the catch-up (otherwise grid energy is derived);
10. interval data refreshed on live polls, as often as what is left allows.

A tier that cannot be fully funded gets what is left, spread evenly, and the tiers after it get
nothing. On the free plan a long summer day stops in tier 4 and a winter day reaches tier 7;
tiers 8-10 are for the paid plans, and for polar night (no daylight: everything is tier 8).
"""

from dataclasses import dataclass
from datetime import timedelta
from math import floor

_WEEK_DAYS = 7
_LONGEST_MIN = 366 * 24 * 60


@dataclass(frozen=True, slots=True)
class Demand:
    """What the systems of one planner could use over the rest of the month.

    Minutes are of daylight and of night from the planning reference to the month's end;
    costs are requests per poll round (all systems together) or per catch-up.
    `history_listed`: history calls listed now; `history_daily`: the whole-day history calls
    each day to come will need (endpoints outside the catch-up).
    """

    available: float
    day_minutes: float
    night_minutes: float
    live_cost: int
    battery_systems: int
    catch_up_cost: int
    catch_ups: int
    refresh_cost: int
    grid_cost: int
    lifetime_cost: int = 0
    history_listed: int = 0
    history_daily: int = 0


@dataclass(frozen=True, slots=True)
class Cadences:
    """The spacings of the tiers, as settings."""

    first: timedelta = timedelta(hours=1)
    basic: timedelta = timedelta(minutes=30)
    fastest: timedelta = timedelta(minutes=15)
    soc: timedelta = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The cadences the budget affords (None: not funded); `history_calls`: history calls funded."""

    day_spacing: timedelta | None = None
    night_spacing: timedelta | None = None
    soc_spacing: timedelta | None = None
    refresh_spacing: timedelta | None = None
    catch_up_days: int = 1
    lifetime_checks: bool = False
    measured_grid: bool = False
    history_calls: int = 0


class _Purse:
    """What is left to spend, tier by tier."""

    def __init__(self, available: float) -> None:
        self.left = max(0.0, available)

    def take(self, cost: float) -> float:
        """Spend up to `cost`; return how much of it was funded."""
        funded = min(cost, self.left)
        self.left -= funded
        return funded


def _minutes(spacing: timedelta) -> float:
    return spacing.total_seconds() / 60


def _spacing(minutes: float, per_round: float, calls: float) -> timedelta | None:
    """Spread `calls` in rounds of `per_round` over `minutes`: the spacing (None: no calls)."""
    if calls <= 0 or minutes <= 0 or per_round <= 0:
        return None
    spacing = minutes * per_round / calls
    # A crumb of a call (float remainders) would mean a spacing beyond any horizon.
    return timedelta(minutes=spacing) if spacing <= _LONGEST_MIN else None


def allocate(demand: Demand, cadences: Cadences) -> Allocation:
    """Fund the tiers in order (see the module docstring)."""
    purse = _Purse(demand.available)
    day, night, live = demand.day_minutes, demand.night_minutes, demand.live_cost
    weeks = -(-demand.catch_ups // _WEEK_DAYS)
    weekly = purse.take(demand.catch_up_cost * weeks)
    first_cost = day / _minutes(cadences.first) * live
    first = purse.take(first_cost)
    daily_cost = demand.catch_up_cost * max(0, demand.catch_ups - weeks)
    daily = purse.take(daily_cost) if first == first_cost else 0.0
    catch_up_days = _catch_up_days(demand, weekly + daily)
    history_cost = demand.history_listed + demand.history_daily * demand.catch_ups
    history = purse.take(history_cost) if daily == daily_cost else 0.0
    history_calls = floor(history)
    basic_cost = day / _minutes(cadences.basic) * live - first_cost
    basic = purse.take(basic_cost) if daily == daily_cost and history == history_cost else 0.0
    lifetime = basic == basic_cost and purse.take(demand.lifetime_cost) == demand.lifetime_cost
    soc_cost = demand.battery_systems * day / _minutes(cadences.soc)
    soc = purse.take(soc_cost) if lifetime else 0.0
    fast_cost = day / _minutes(cadences.fastest) * live - first_cost - basic_cost
    fast = purse.take(fast_cost) if soc == soc_cost else 0.0
    day_spacing = _spacing(day, live, first + basic + fast)
    soc_spacing = _spacing(day, demand.battery_systems, soc)
    if fast < fast_cost:
        return Allocation(
            day_spacing, None, soc_spacing, None, catch_up_days, lifetime, False, history_calls
        )
    night_live_cost = night / _minutes(cadences.fastest) * live
    night_live = purse.take(night_live_cost)
    night_spacing = _spacing(night, live, night_live)
    if night_live < night_live_cost:
        return Allocation(
            day_spacing, night_spacing, soc_spacing, None, catch_up_days, True, False, history_calls
        )
    night_soc_cost = demand.battery_systems * night / _minutes(cadences.soc)
    night_soc = purse.take(night_soc_cost)
    if night_soc < night_soc_cost:
        return Allocation(
            day_spacing, night_spacing, soc_spacing, None, catch_up_days, True, False, history_calls
        )
    soc_spacing = _spacing(day + night, demand.battery_systems, soc + night_soc)
    grid_cost = demand.grid_cost * demand.catch_ups
    measured_grid = demand.grid_cost > 0 and purse.left >= grid_cost
    refresh_cost = demand.refresh_cost
    if measured_grid:
        purse.take(grid_cost)
        refresh_cost += demand.grid_cost
    refresh = _spacing(day + night, refresh_cost, purse.left)
    if refresh is not None:
        refresh = max(refresh, cadences.fastest)
    return Allocation(
        day_spacing, night_spacing, soc_spacing, refresh, 1, True, measured_grid, history_calls
    )


def _catch_up_days(demand: Demand, funded: float) -> int:
    """How many days apart the catch-ups the budget affords are (1 to 7)."""
    if demand.catch_up_cost == 0 or demand.catch_ups == 0:
        return 1
    affordable = int(funded / demand.catch_up_cost)
    if affordable < 1:
        return _WEEK_DAYS
    return max(1, min(_WEEK_DAYS, -(-demand.catch_ups // affordable)))
