"""The tiers of the allocation, each funded in full, in part, or not at all."""

from dataclasses import replace
from datetime import timedelta

import pytest

from custom_components.liveone_enphase.budget.allocation import (
    Allocation,
    Cadences,
    Demand,
    allocate,
)

DAY_MIN = 9 * 60.0  # nine hours of daylight left (every tier a whole number of calls)
NIGHT_MIN = 15 * 60.0


def _demand(available: float, **changes: float) -> Demand:
    values = {
        "available": available,
        "day_minutes": DAY_MIN,
        "night_minutes": NIGHT_MIN,
        "live_cost": 1,
        "battery_systems": 1,
        "catch_up_cost": 3,
        "catch_ups": 7,
        "refresh_cost": 2,
        "grid_cost": 2,
        "lifetime_cost": 5,
        **changes,
    }
    return Demand(
        available=values["available"],
        day_minutes=values["day_minutes"],
        night_minutes=values["night_minutes"],
        live_cost=int(values["live_cost"]),
        battery_systems=int(values["battery_systems"]),
        catch_up_cost=int(values["catch_up_cost"]),
        catch_ups=int(values["catch_ups"]),
        refresh_cost=int(values["refresh_cost"]),
        grid_cost=int(values["grid_cost"]),
        lifetime_cost=int(values["lifetime_cost"]),
    )


def _tiers(demand: Demand) -> list[float]:
    """Cumulative costs of the tiers, for the demand above (see the module docstring)."""
    day, night = demand.day_minutes, demand.night_minutes
    weekly = 3.0
    first = day / 60
    daily = 3 * 6.0
    basic = day / 30 - first
    lifetime = 5.0
    soc = day / 180
    fast = day / 15 - day / 30
    night_live = night / 15
    night_soc = night / 180
    steps = [weekly, first, daily, basic, lifetime, soc, fast, night_live, night_soc]
    running, totals = 0.0, []
    for step in steps:
        running += step
        totals.append(running)
    return totals


CADENCES = Cadences()


def test_nothing_to_spend() -> None:
    allocation = allocate(_demand(-5), CADENCES)
    assert allocation == Allocation(catch_up_days=7)
    crumb = allocate(_demand(3 + 1e-9), CADENCES)  # a float remainder is no call at all
    assert crumb.day_spacing is None


def test_first_tier_in_part_spreads_what_there_is() -> None:
    weekly, *_ = _tiers(_demand(0))
    allocation = allocate(_demand(weekly + 5), CADENCES)
    assert allocation.day_spacing == timedelta(minutes=DAY_MIN / 5)
    assert allocation.catch_up_days == 7


def test_daily_catch_up_in_part_stretches_its_cadence() -> None:
    tiers = _tiers(_demand(0))
    allocation = allocate(_demand(tiers[1] + 9), CADENCES)  # weekly 3 + 9 = four catch-ups
    assert allocation.day_spacing == CADENCES.first
    assert allocation.catch_up_days == 2
    allocation = allocate(_demand(tiers[2]), CADENCES)
    assert allocation.catch_up_days == 1


def test_basic_tier_in_part() -> None:
    tiers = _tiers(_demand(0))
    allocation = allocate(_demand(tiers[2] + (tiers[3] - tiers[2]) / 2), CADENCES)
    assert allocation.day_spacing is not None
    assert CADENCES.basic < allocation.day_spacing < CADENCES.first
    assert not allocation.lifetime_checks
    assert allocation.soc_spacing is None


def test_lifetime_and_soc_tiers() -> None:
    tiers = _tiers(_demand(0))
    lifetime = allocate(_demand(tiers[4]), CADENCES)
    assert lifetime.lifetime_checks
    assert lifetime.soc_spacing is None
    assert lifetime.day_spacing == CADENCES.basic
    soc_half = allocate(_demand(tiers[4] + (tiers[5] - tiers[4]) / 2), CADENCES)
    assert soc_half.soc_spacing == CADENCES.soc * 2


def test_fast_tier_in_part_and_in_full() -> None:
    tiers = _tiers(_demand(0))
    partial = allocate(_demand((tiers[5] + tiers[6]) / 2), CADENCES)
    assert partial.day_spacing is not None
    assert CADENCES.fastest < partial.day_spacing < CADENCES.basic
    assert partial.soc_spacing == CADENCES.soc
    full = allocate(_demand(tiers[6]), CADENCES)
    assert full.day_spacing == CADENCES.fastest
    assert full.night_spacing is None


def test_night_tiers() -> None:
    tiers = _tiers(_demand(0))
    night_half = allocate(_demand(tiers[6] + (tiers[7] - tiers[6]) / 2), CADENCES)
    assert night_half.night_spacing == CADENCES.fastest * 2
    assert night_half.lifetime_checks
    night_soc_short = allocate(_demand(tiers[7] + 1), CADENCES)
    assert night_soc_short.night_spacing == CADENCES.fastest
    assert night_soc_short.refresh_spacing is None
    assert night_soc_short.soc_spacing == CADENCES.soc


def test_extras_measured_grid_and_refresh() -> None:
    tiers = _tiers(_demand(0))
    no_grid = allocate(_demand(tiers[8] + 10), CADENCES)
    assert not no_grid.measured_grid
    assert no_grid.refresh_spacing is not None
    with_grid = allocate(_demand(tiers[8] + 14 + 200), CADENCES)
    assert with_grid.measured_grid
    assert with_grid.refresh_spacing == pytest.approx(
        timedelta(minutes=(DAY_MIN + NIGHT_MIN) * 4 / 200), abs=timedelta(seconds=1)
    )
    rich = allocate(_demand(100_000), CADENCES)
    assert rich.refresh_spacing == CADENCES.fastest
    nothing_to_refresh = allocate(_demand(100_000, refresh_cost=0, grid_cost=0), CADENCES)
    assert nothing_to_refresh.refresh_spacing is None


def test_polar_night_has_only_night_tiers() -> None:
    allocation = allocate(_demand(200, day_minutes=0.0), CADENCES)
    assert allocation.day_spacing is None
    assert allocation.night_spacing is not None
    assert allocation.catch_up_days == 1


def test_nothing_to_catch_up_or_poll() -> None:
    allocation = allocate(_demand(50, catch_up_cost=0, live_cost=0), CADENCES)
    assert allocation.catch_up_days == 1
    assert allocation.day_spacing is None


def test_history_is_funded_after_the_daily_catch_up_and_before_the_basic_tier() -> None:
    """History never comes before the hourly live polls and the daily catch-up (tiers 1-3)."""
    tiers = _tiers(_demand(0))
    history = 4 + 2 * 7  # four days listed, two whole-day calls for each of the 7 days to come

    def with_history(available: float) -> Allocation:
        demand = replace(_demand(available), history_listed=4, history_daily=2)
        return allocate(demand, CADENCES)

    short = with_history(tiers[1] + 9)  # the daily catch-up only in part: no history
    assert (short.history_calls, short.day_spacing, short.catch_up_days) == (0, CADENCES.first, 2)
    partly = with_history(tiers[2] + 5.5)
    assert (partly.history_calls, partly.day_spacing, partly.catch_up_days) == (
        5,
        CADENCES.first,
        1,
    )
    full = with_history(tiers[3] + history)
    assert full.history_calls == history
    assert full.day_spacing == CADENCES.basic  # the basic tier comes after it, in full
    assert allocate(_demand(tiers[3]), CADENCES).history_calls == 0
