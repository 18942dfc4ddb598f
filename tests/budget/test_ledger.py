"""The call ledger: counting, refusing, honouring 429s, surviving restarts, rolling months."""

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.liveone_enphase.budget.ledger import (
    MINUTE_WINDOW,
    TOKEN_ENDPOINT,
    CallLedger,
    month_start,
    next_month_start,
)
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.enphase import (
    Endpoint,
    EnphaseRequestRefused,
    RequestOutcome,
    RequestRecord,
)
from custom_components.liveone_enphase.stored import StoredDataError
from sim.clock import ManualClock

LATEST = Endpoint.LATEST_TELEMETRY.value
START = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _ledger(clock: ManualClock, limits: PlanLimits | None = None) -> CallLedger:
    return CallLedger(limits or PlanLimits.watt(), clock)


async def _call(ledger: CallLedger, clock: ManualClock, outcome: RequestOutcome) -> None:
    await ledger.before_request(LATEST)
    ledger.after_request(RequestRecord(LATEST, clock(), 200, outcome))


async def _spend(ledger: CallLedger, clock: ManualClock, count: int) -> None:
    """Make `count` successful calls, spaced so the minute limit never bites."""
    for _ in range(count):
        await _call(ledger, clock, RequestOutcome.OK)
        clock.advance(timedelta(seconds=7))


def test_plan_limits() -> None:
    watt = PlanLimits.watt()
    assert (watt.per_month, watt.per_minute, watt.reserve, watt.pollable) == (1000, 10, 50, 950)
    kilowatt = PlanLimits.kilowatt(per_month=50_000, per_minute=20)
    assert (kilowatt.per_month, kilowatt.per_minute, kilowatt.reserve) == (50_000, 20, 2_500)
    assert watt.with_reserve(0.1).reserve == 100
    assert PlanLimits("custom", 333, 5, 0.01).reserve == 4  # rounded up, never below the ask
    with pytest.raises(ValueError, match="positive"):
        PlanLimits("bad", 0, 10)
    with pytest.raises(ValueError, match="reserve"):
        PlanLimits("bad", 10, 10, 1.0)


def test_the_strictest_of_several_plans() -> None:
    watt = PlanLimits.watt()
    custom = PlanLimits("Custom", 5_000, 5, 0.1)
    combined = PlanLimits.strictest([PlanLimits.kilowatt(), custom, watt.with_reserve(0.02)])
    assert combined == PlanLimits("Watt", 1_000, 5, 0.1)
    assert PlanLimits.strictest([watt]) == watt
    # Equal months: the first plan names the result.
    assert PlanLimits.strictest([custom, replace(custom, name="Other")]).name == "Custom"
    with pytest.raises(ValueError, match="no plan"):
        PlanLimits.strictest([])


async def test_new_limits_apply_at_once_and_keep_the_count() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    await _spend(ledger, clock, 950)
    assert ledger.refusal(LATEST) == next_month_start(START)

    ledger.limits = PlanLimits.kilowatt(per_minute=3)

    assert ledger.refusal(LATEST) == clock() - timedelta(seconds=14) + MINUTE_WINDOW
    clock.advance(MINUTE_WINDOW)
    assert ledger.refusal(LATEST) is None
    status = ledger.status()
    assert (status.used, status.usable_left, status.minute_limit) == (950, 9_500 - 950, 2)
    await _call(ledger, clock, RequestOutcome.OK)
    await _call(ledger, clock, RequestOutcome.OK)
    assert ledger.refusal(LATEST) == clock() + MINUTE_WINDOW
    ledger.limits = PlanLimits.watt()
    assert ledger.used == 952
    assert ledger.refusal(LATEST) == next_month_start(START)


def test_month_bounds_are_utc() -> None:
    late_december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_start(late_december) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month_start(late_december) == datetime(2027, 1, 1, tzinfo=UTC)


async def test_counts_successes_failures_and_token_requests() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    await _call(ledger, clock, RequestOutcome.OK)
    await _call(ledger, clock, RequestOutcome.TRANSIENT)
    await _call(ledger, clock, RequestOutcome.FORBIDDEN)
    ledger.record_token_request(clock())
    await ledger.before_request(TOKEN_ENDPOINT)
    ledger.after_request(RequestRecord(TOKEN_ENDPOINT, clock(), 200, RequestOutcome.OK))
    # A request nobody asked the guard about is still counted when it is reported.
    ledger.after_request(RequestRecord(LATEST, clock(), 500, RequestOutcome.TRANSIENT))
    status = ledger.status()
    assert status.used == 6 == ledger.used
    assert status.token_requests == 2
    assert status.failed == 3
    assert ledger.by_endpoint == {LATEST: 4, TOKEN_ENDPOINT: 2}
    assert ledger.last_request_at == START


async def test_reserve_is_kept_for_priority_calls() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock, PlanLimits("tiny", 20, 10, 0.25))  # 15 pollable, 5 reserved
    await _spend(ledger, clock, 15)
    assert ledger.status().usable_left == 0
    with pytest.raises(EnphaseRequestRefused) as refused:
        await ledger.before_request(LATEST)
    assert refused.value.retry_at == datetime(2026, 7, 1, tzinfo=UTC)
    for _ in range(5):  # token refreshes may use the reserve...
        await ledger.before_request(TOKEN_ENDPOINT)
        clock.advance(timedelta(seconds=7))
    assert ledger.status().hard_left == 0
    with pytest.raises(EnphaseRequestRefused):  # ...but not beyond the plan
        await ledger.before_request(TOKEN_ENDPOINT)
    assert ledger.used == 20


async def test_per_minute_limit_holds_for_concurrent_requests_of_several_systems() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)

    async def one(system: int) -> bool:
        try:
            await ledger.before_request(f"systems/{system}/latest")
        except EnphaseRequestRefused:
            return False
        return True

    admitted = await asyncio.gather(*(one(n) for n in range(25)))
    # One slot a minute stays free for a token refresh.
    assert sum(admitted) == 9
    with pytest.raises(EnphaseRequestRefused) as refused:
        await ledger.before_request(LATEST)
    assert refused.value.retry_at == START + MINUTE_WINDOW
    await ledger.before_request(TOKEN_ENDPOINT)  # the kept slot
    with pytest.raises(EnphaseRequestRefused):
        await ledger.before_request(TOKEN_ENDPOINT)
    clock.advance(MINUTE_WINDOW)
    await ledger.before_request(LATEST)


async def test_sliding_window_is_stricter_than_calendar_minutes() -> None:
    clock = ManualClock(START + timedelta(seconds=50))
    ledger = _ledger(clock)
    await _call_many(ledger, 9)
    clock.advance(timedelta(seconds=15))  # a new calendar minute, but not a new 61 s window
    assert ledger.refusal(LATEST) == START + timedelta(seconds=50) + MINUTE_WINDOW
    status = ledger.status()
    assert status.minute_free_at(1) == START + timedelta(seconds=50) + MINUTE_WINDOW
    assert status.minute_free_at(50) == status.minute_free_at(9)


async def _call_many(ledger: CallLedger, count: int) -> None:
    for _ in range(count):
        await ledger.before_request(LATEST)


async def test_minute_free_at_counts_only_the_window() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    for _ in range(4):
        await ledger.before_request(LATEST)
        clock.advance(timedelta(seconds=10))
    status = ledger.status()
    assert status.minute_free_at(5) == clock()  # 4 used + 5 = 9
    assert status.minute_free_at(6) == START + MINUTE_WINDOW
    assert status.minute_free_at(9) == START + timedelta(seconds=30) + MINUTE_WINDOW


async def test_month_429_silences_everything_until_period_end() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    await ledger.before_request(LATEST)
    ledger.after_request(RequestRecord(LATEST, clock(), 429, RequestOutcome.RATE_LIMITED))
    end = datetime(2026, 7, 1, tzinfo=UTC)
    ledger.note_rate_limit("month", end)
    status = ledger.status()
    assert status.month_blocked
    assert status.usable_left == status.hard_left == 0
    assert status.minute_free_at(1) == end
    clock.set(datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    for endpoint in (LATEST, TOKEN_ENDPOINT):
        with pytest.raises(EnphaseRequestRefused) as refused:
            await ledger.before_request(endpoint)
        assert refused.value.retry_at == end
    clock.set(end)
    await ledger.before_request(LATEST)
    assert ledger.status().blocked_until is None
    assert ledger.used == 1
    assert ledger.history == {"2026-06": 1}


async def test_429_blocks_without_a_period_end() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    ledger.note_rate_limit("minute", None)
    assert ledger.refusal(LATEST) == START + MINUTE_WINDOW
    ledger.note_rate_limit(None, None)
    assert ledger.refusal(LATEST) == START + timedelta(minutes=5)
    ledger.note_rate_limit("minute", START + timedelta(seconds=30))  # shorter: kept longer block
    assert ledger.refusal(LATEST) == START + timedelta(minutes=5)
    ledger.note_rate_limit("month", START + timedelta(minutes=1))  # shorter, but it is the month
    assert ledger.status().month_blocked
    ledger.note_rate_limit("month", None)
    assert ledger.refusal(LATEST) == datetime(2026, 7, 1, tzinfo=UTC)


async def test_provisional_block_on_a_429_record() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    ledger.after_request(RequestRecord(LATEST, clock(), 429, RequestOutcome.RATE_LIMITED))
    assert ledger.refusal(LATEST) == START + MINUTE_WINDOW
    assert ledger.status().blocked_period == "minute"


async def test_survives_a_restart_mid_month() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    await _spend(ledger, clock, 12)
    ledger.record_token_request(clock())
    ledger.after_request(RequestRecord(LATEST, clock(), 500, RequestOutcome.TRANSIENT))
    ledger.note_rate_limit("minute", clock() + timedelta(seconds=40))
    saved = json.loads(json.dumps(ledger.to_dict()))
    restored = CallLedger.from_dict(saved, PlanLimits.watt(), clock)
    assert restored.to_dict() == ledger.to_dict()
    assert restored.status() == ledger.status()
    assert restored.refusal(LATEST) == ledger.refusal(LATEST)


def test_unknown_storage_version_is_unreadable() -> None:
    clock = ManualClock(START)
    with pytest.raises(StoredDataError, match="version"):
        CallLedger.from_dict({"version": 99, "used": 5}, PlanLimits.watt(), clock)


@pytest.mark.parametrize(
    ("now", "used"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), 0),
        (datetime(2026, 6, 16, tzinfo=UTC), 475),
        (datetime(2026, 6, 30, 23, 59, tzinfo=UTC), 949),
    ],
)
def test_a_lost_ledger_assumes_an_even_pace_so_far(now: datetime, used: int) -> None:
    ledger = CallLedger.at_even_pace(PlanLimits.watt(), ManualClock(now))
    assert ledger.used == used
    # The planner gets the rest of the month's share, not a fresh month.
    assert ledger.status().usable_left == PlanLimits.watt().pollable - used


def test_the_pace_counts_only_calls_made_since_the_count_was_lost() -> None:
    """Assumed calls set no trend: otherwise the first call after a loss looks like a rush."""
    clock = ManualClock(datetime(2026, 6, 16, tzinfo=UTC))
    ledger = CallLedger.at_even_pace(PlanLimits.watt(), clock)
    assert ledger.status().pace == (0, timedelta(0))
    clock.advance(timedelta(days=1))
    ledger.after_request(RequestRecord("systems", clock(), 200, RequestOutcome.OK))
    again = CallLedger.from_dict(ledger.to_dict(), PlanLimits.watt(), clock)
    assert again.status().pace == (1, timedelta(days=1))
    assert again.used == 476
    clock.set(datetime(2026, 7, 2, tzinfo=UTC))  # a new month is counted from its start
    assert again.status().pace == (0, timedelta(days=1))
    # A ledger that never lost its count: every call, since the month began.
    counted = CallLedger(PlanLimits.watt(), clock)
    counted.after_request(RequestRecord("systems", clock(), 200, RequestOutcome.OK))
    assert counted.status().pace == (1, timedelta(days=1))


async def test_rolls_over_at_month_end_and_keeps_a_year_of_history() -> None:
    clock = ManualClock(datetime(2025, 1, 31, 23, 59, 30, tzinfo=UTC))
    ledger = _ledger(clock)
    for month in range(14):
        await _spend(ledger, clock, month + 1)
        clock.set(next_month_start(clock()) + timedelta(hours=1))
        assert ledger.used == 0
        assert ledger.status().token_requests == 0
    history = ledger.history
    assert len(history) == 12
    assert history["2026-02"] == 14
    assert "2025-01" not in history


async def test_restore_in_a_later_month_rolls_over() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    await _spend(ledger, clock, 3)
    saved = ledger.to_dict()
    clock.set(datetime(2026, 7, 2, tzinfo=UTC))
    restored = CallLedger.from_dict(saved, PlanLimits.watt(), clock)
    assert restored.used == 0
    assert restored.history == {"2026-06": 3}


async def test_out_of_order_records_keep_the_window_sorted() -> None:
    clock = ManualClock(START)
    ledger = _ledger(clock)
    ledger.after_request(RequestRecord(LATEST, START, 200, RequestOutcome.OK))
    ledger.after_request(
        RequestRecord(LATEST, START - timedelta(seconds=30), 200, RequestOutcome.OK)
    )
    assert list(ledger.status().recent) == [START - timedelta(seconds=30), START]
    assert ledger.last_request_at == START
