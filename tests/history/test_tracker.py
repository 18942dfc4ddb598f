"""The tracker: complete hours, trailing zeros, late intervals, catch-up and persistence."""

import json
from datetime import date, timedelta

from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.history import (
    CatchUp,
    Fetched,
    HistoryTracker,
    Series,
)
from custom_components.liveone_enphase.history.hours import to_epoch, to_moment
from custom_components.liveone_enphase.history.tracker import RETRY_FIRST_S, RETRY_MAX_S

from .helpers import StatisticsTable, fetched, meta, slot_ends, utc

T0 = to_epoch(utc(2026, 1, 15, 0))
H = 3600
MICRO = Endpoint.PRODUCTION_MICRO
PRODUCTION = Endpoint.PRODUCTION_METER
CONSUMPTION = Endpoint.CONSUMPTION_METER
BATTERY = Endpoint.BATTERY_TELEMETRY
IMPORT = Endpoint.ENERGY_IMPORT_TELEMETRY
EXPORT = Endpoint.ENERGY_EXPORT_TELEMETRY


def tracker(origin: int = T0, timezone: str | None = None) -> HistoryTracker:
    return HistoryTracker(timezone, to_moment(origin))


def quarters(start: int, *values: float) -> dict[int, float | None]:
    """Meter intervals from `start`: one value per 15 minutes."""
    return {start + 900 * (n + 1): wh for n, wh in enumerate(values)}


def ingest(history: HistoryTracker, *answers: Fetched) -> None:
    history.ingest(answers)


# --- complete hours ---------------------------------------------------------------------------


def test_only_complete_hours_are_imported_never_the_partial_current_one() -> None:
    history = tracker()
    table = StatisticsTable()
    ingest(history, fetched(CONSUMPTION, T0, T0 + 5400, quarters(T0, 1, 2, 3, 4, 5, 6), T0 + 6600))
    (rewrite,) = history.pending()
    assert rewrite.series is Series.CONSUMPTION
    assert rewrite.hours == ((to_moment(T0), 10.0),)
    assert rewrite.previous is None
    table.apply(history)
    assert history.pending() == ()
    assert history.hour_wh(Series.CONSUMPTION, to_moment(T0 + H)) is None

    ingest(
        history, fetched(CONSUMPTION, T0 + 5400, T0 + 7200, quarters(T0 + 5400, 7, 8), T0 + 8400)
    )
    (rewrite,) = history.pending()
    assert rewrite.hours == ((to_moment(T0 + H), 26.0),)
    assert rewrite.previous == to_moment(T0)
    table.apply(history)
    assert table.rows[Series.CONSUMPTION] == {T0: (10.0, 10.0), T0 + H: (26.0, 36.0)}
    assert history.imported_wh(Series.CONSUMPTION) == {to_moment(T0): 10.0, to_moment(T0 + H): 26.0}


def test_trailing_zeros_wait_until_later_data_proves_them() -> None:
    history = tracker()
    # a production meter (no meta): 5 and 3 Wh, then zeros that may just be unpublished
    ingest(history, fetched(PRODUCTION, T0, T0 + H, quarters(T0, 5, 3, 0, 0), T0 + H + 60))
    assert history.pending() == ()
    assert history.published_through == to_moment(T0 + 1800)
    # later the same zeros come back, followed by a non-zero interval: they were real
    ingest(
        history,
        fetched(
            PRODUCTION, T0 + 1800, T0 + 2 * H, quarters(T0 + 1800, 0, 0, 0, 0, 7, 0), T0 + 3 * H
        ),
    )
    (rewrite,) = history.pending()
    assert rewrite.hours == ((to_moment(T0), 8.0),)
    assert history.hour_wh(Series.SOLAR_PRODUCTION, to_moment(T0 + H)) is None  # 02:00 trails


def test_evidence_of_one_poll_proves_the_zeros_of_that_poll() -> None:
    history = tracker()
    night = quarters(T0, 0, 0, 0, 0)
    ingest(
        history,
        fetched(PRODUCTION, T0, T0 + H, night, T0 + H + 1500),
        fetched(CONSUMPTION, T0, T0 + H, quarters(T0, 90, 80, 70, 60), T0 + H + 1500),
    )
    assert {r.series: r.hours for r in history.pending()} == {
        Series.SOLAR_PRODUCTION: ((to_moment(T0), 0.0),),
        Series.CONSUMPTION: ((to_moment(T0), 300.0),),
    }


def test_evidence_does_not_reach_back_to_zeros_seen_before_it() -> None:
    history = tracker()
    ingest(history, fetched(PRODUCTION, T0, T0 + H, quarters(T0, 0, 0, 0, 0), T0 + H + 60))
    # the next poll proves data up to 01:00 was published, but the zeros were seen before
    ingest(history, fetched(CONSUMPTION, T0, T0 + H, quarters(T0, 9, 9, 9, 9), T0 + H + 1800))
    assert [r.series for r in history.pending()] == [Series.CONSUMPTION]
    # asked again, the zeros now come with the proof
    ingest(history, fetched(PRODUCTION, T0, T0 + H, quarters(T0, 0, 0, 0, 0), T0 + H + 1900))
    assert history.hour_wh(Series.SOLAR_PRODUCTION, to_moment(T0)) == 0.0


def test_micro_leaves_dark_intervals_out_so_they_are_zero_up_to_the_evidence() -> None:
    history = tracker()
    sunrise = {T0 + 3300: 2.0, T0 + 3600: 4.0}  # only the last two five-minute slots produced
    ingest(
        history,
        fetched(MICRO, T0, T0 + H + 1200, sunrise, T0 + H + 1200, system_meta=meta(T0 + H)),
    )
    (rewrite,) = history.pending()
    assert rewrite.hours == ((to_moment(T0), 6.0),)
    # without evidence beyond 00:35, the slots after it are unknown, not dark
    history = tracker()
    ingest(history, fetched(MICRO, T0, T0 + H, {T0 + 2100: 1.0}, T0 + H))
    assert history.pending() == ()


def test_a_meter_interval_left_out_stays_unknown() -> None:
    history = tracker()
    gap = {T0 + 900: 1.0, T0 + 2700: 1.0, T0 + 3600: 1.0}
    ingest(history, fetched(CONSUMPTION, T0, T0 + H, gap, T0 + H + 1800, system_meta=meta(T0 + H)))
    assert history.pending() == ()
    ingest(history, fetched(CONSUMPTION, T0, T0 + H, {T0 + 1800: 2.0}, T0 + H + 1900))
    assert history.hour_wh(Series.CONSUMPTION, to_moment(T0)) == 5.0


def test_nulls_never_erase_and_odd_values_are_tamed() -> None:
    history = tracker()
    ingest(history, fetched(CONSUMPTION, T0, T0 + H, quarters(T0, 1, 1, 1, 1), T0 + H + 60))
    corrections = {T0 + 900: None, T0 + 1800: -4.0, T0 + 2000: 50.0}  # null, negative, off-grid
    ingest(history, fetched(CONSUMPTION, T0, T0 + H, corrections, T0 + H + 120))
    assert history.hour_wh(Series.CONSUMPTION, to_moment(T0)) == 3.0


def test_a_window_without_bounds_or_evidence_adds_nothing() -> None:
    history = tracker()
    ingest(history, fetched(CONSUMPTION, None, None, {}, T0 + H, system_meta=meta(T0 + H)))
    ingest(history)
    assert history.pending() == ()
    assert history.published_through == to_moment(T0 + H)


def test_solar_comes_from_micro_data_when_complete_else_from_the_meter() -> None:
    history = tracker()
    table = StatisticsTable()
    ingest(history, fetched(PRODUCTION, T0, T0 + 2 * H, quarters(T0, *[10] * 8), T0 + 2 * H + 60))
    table.apply(history)
    assert table.hours(Series.SOLAR_PRODUCTION) == {T0: 40.0, T0 + H: 40.0}
    micro = dict.fromkeys(slot_ends(T0 + H, T0 + 2 * H, 300), 3.0)
    ingest(history, fetched(MICRO, T0 + H, T0 + 2 * H, micro, T0 + 2 * H + 120))
    (rewrite,) = history.pending()
    assert rewrite.changed == (to_moment(T0 + H),)
    table.apply(history)
    assert table.hours(Series.SOLAR_PRODUCTION) == {T0: 40.0, T0 + H: 36.0}
    table.assert_continuous()


# --- late intervals ---------------------------------------------------------------------------


def test_a_late_interval_rewrites_its_hour_and_the_later_sums_only() -> None:
    history = tracker()
    table = StatisticsTable()
    ingest(
        history,
        fetched(CONSUMPTION, T0, T0 + 3 * H, quarters(T0, *[10] * 12), T0 + 3 * H + 60),
        fetched(IMPORT, T0, T0 + 3 * H, quarters(T0, *[5] * 12), T0 + 3 * H + 60),
    )
    table.apply(history)
    # a partial interval of 01:15-01:30 is completed later: 10 -> 25 Wh
    ingest(history, fetched(CONSUMPTION, T0 + 4500, T0 + 5400, {T0 + 5400: 25.0}, T0 + 4 * H))
    (rewrite,) = history.pending()
    assert rewrite.series is Series.CONSUMPTION
    assert rewrite.changed == (to_moment(T0 + H),)
    assert [start for start, _ in rewrite.hours] == [to_moment(T0 + H), to_moment(T0 + 2 * H)]
    assert rewrite.previous == to_moment(T0)
    table.apply(history)
    assert table.rows[Series.CONSUMPTION] == {
        T0: (40.0, 40.0),
        T0 + H: (55.0, 95.0),
        T0 + 2 * H: (40.0, 135.0),
    }
    assert table.hours(Series.GRID_IMPORT) == {T0: 20.0, T0 + H: 20.0, T0 + 2 * H: 20.0}
    table.assert_continuous()
    # the same answer again changes nothing
    ingest(history, fetched(CONSUMPTION, T0 + 4500, T0 + 5400, {T0 + 5400: 25.0}, T0 + 5 * H))
    assert history.pending() == ()


def test_an_hour_filled_in_after_later_hours_rewrites_from_there() -> None:
    history = tracker()
    table = StatisticsTable()
    later = quarters(T0 + 2 * H, 1, 1, 1, 1)
    ingest(history, fetched(CONSUMPTION, T0 + 2 * H, T0 + 3 * H, later, T0 + 3 * H + 60))
    table.apply(history)
    ingest(history, fetched(CONSUMPTION, T0, T0 + 2 * H, quarters(T0, *[2] * 8), T0 + 3 * H + 120))
    (rewrite,) = history.pending()
    assert rewrite.changed == (to_moment(T0), to_moment(T0 + H))
    assert len(rewrite.hours) == 3
    assert rewrite.previous is None
    table.apply(history)
    assert table.rows[Series.CONSUMPTION][T0 + 2 * H] == (4.0, 20.0)
    table.assert_continuous()


def test_rows_carry_the_running_sum_from_the_base() -> None:
    history = tracker()
    ingest(history, fetched(CONSUMPTION, T0, T0 + 2 * H, quarters(T0, *[1] * 8), T0 + 2 * H + 60))
    (rewrite,) = history.pending()
    rows = rewrite.rows(1000.0)
    assert [(row.start, row.wh, row.total_wh) for row in rows] == [
        (to_moment(T0), 4.0, 1004.0),
        (to_moment(T0 + H), 4.0, 1008.0),
    ]
    assert rewrite.first == to_moment(T0)


# --- origin -----------------------------------------------------------------------------------


def test_nothing_before_the_origin_or_the_start_of_operation_is_imported() -> None:
    history = tracker(origin=T0 + H - 1)  # rounds up to the next whole hour
    assert history.origin == to_moment(T0 + H)
    ingest(history, fetched(CONSUMPTION, T0, T0 + 3 * H, quarters(T0, *[1] * 12), T0 + 3 * H + 60))
    assert [start for start, _ in history.pending()[0].hours] == [
        to_moment(T0 + H),
        to_moment(T0 + 2 * H),
    ]
    operating = fetched(
        CONSUMPTION,
        T0,
        T0 + 3 * H,
        {},
        T0 + 3 * H + 120,
        system_meta=meta(T0 + 3 * H, operational_at=T0 + 2 * H - 900),
    )
    ingest(history, operating)
    assert history.origin == to_moment(T0 + 2 * H)
    assert [start for start, _ in history.pending()[0].hours] == [to_moment(T0 + 2 * H)]


# --- catch-up ---------------------------------------------------------------------------------

MELBOURNE = "Australia/Melbourne"
DAY = 86_400
# 2026-01-15 00:00 in Melbourne (+11)
M0 = to_epoch(utc(2026, 1, 14, 13))


def melbourne_day(n: int) -> int:
    return M0 + n * DAY


def test_catch_up_lists_day_windows_oldest_first_from_the_first_missing_hour() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    # day 0 has its consumption up to 10:00 local, nothing else
    ingest(
        history,
        fetched(
            CONSUMPTION,
            melbourne_day(0),
            melbourne_day(0) + 10 * H,
            quarters(melbourne_day(0), *[1] * 40),
            melbourne_day(0) + 10 * H + 60,
        ),
    )
    now = to_moment(melbourne_day(3) + 5 * H)
    needs = history.catch_up(now, [CONSUMPTION, BATTERY])
    # each fetch brings a day from its start, so consumption goes on from 10:00 every day;
    # never today (2026-01-18): the polls fetch it anyway
    assert needs == [
        CatchUp(date(2026, 1, 15), BATTERY, to_moment(melbourne_day(0))),
        CatchUp(date(2026, 1, 15), CONSUMPTION, to_moment(melbourne_day(0) + 10 * H)),
        CatchUp(date(2026, 1, 16), BATTERY, to_moment(melbourne_day(1))),
        CatchUp(date(2026, 1, 16), CONSUMPTION, to_moment(melbourne_day(1) + 10 * H)),
        CatchUp(date(2026, 1, 17), BATTERY, to_moment(melbourne_day(2))),
        CatchUp(date(2026, 1, 17), CONSUMPTION, to_moment(melbourne_day(2) + 10 * H)),
    ]


def test_a_night_lost_across_midnight_is_one_fetch() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    evening, morning = melbourne_day(0) + 20 * H, melbourne_day(1) + 6 * H
    ingest(
        history,
        fetched(CONSUMPTION, M0, evening, quarters(M0, *[1] * 80), evening + 60),
        fetched(CONSUMPTION, morning, M0 + 2 * DAY, quarters(morning, *[1] * 72), M0 + 2 * DAY),
    )
    needs = history.catch_up(to_moment(M0 + 2 * DAY + 5 * H), [CONSUMPTION])
    assert needs == [CatchUp(date(2026, 1, 15), CONSUMPTION, to_moment(evening))]


def test_a_complete_day_is_not_listed_and_a_25_hour_day_needs_its_last_hour() -> None:
    # 2026-04-05 in Melbourne has 25 hours: a 24-hour window from midnight leaves one out
    start = to_epoch(utc(2026, 4, 4, 13))
    history = tracker(origin=start, timezone=MELBOURNE)
    day = quarters(start, *[1] * 100)
    ingest(history, fetched(CONSUMPTION, start, start + DAY, day, start + 2 * DAY))
    (need,) = history.catch_up(to_moment(start + 2 * DAY), [CONSUMPTION])
    assert need == CatchUp(date(2026, 4, 5), CONSUMPTION, to_moment(start + 24 * H))
    ingest(history, fetched(CONSUMPTION, start + 24 * H, start + 2 * DAY, day, start + 2 * DAY))
    assert history.catch_up(to_moment(start + 2 * DAY), [CONSUMPTION]) == []


def test_a_fetch_that_did_not_help_backs_off() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    asked = melbourne_day(1) + 6 * H
    # the meter sends nothing for day 0 (broken), although the system reports fine
    broken = fetched(CONSUMPTION, melbourne_day(0), melbourne_day(1), {}, asked)
    ingest(history, broken, fetched(IMPORT, melbourne_day(1), asked, {asked - 900: 1.0}, asked))

    def listed(at: int) -> bool:
        needs = history.catch_up(to_moment(at), [CONSUMPTION])
        return any(need.day == date(2026, 1, 15) for need in needs)

    assert not listed(asked + RETRY_FIRST_S - 1)
    assert listed(asked + RETRY_FIRST_S)
    again = asked + RETRY_FIRST_S
    ingest(history, fetched(CONSUMPTION, melbourne_day(0), melbourne_day(1), {}, again))
    assert not listed(again + 2 * RETRY_FIRST_S - 1)
    assert listed(again + 2 * RETRY_FIRST_S)
    for _ in range(10):
        ingest(history, fetched(CONSUMPTION, melbourne_day(0), melbourne_day(1), {}, again))
    assert not listed(again + RETRY_MAX_S - 1)
    assert listed(again + RETRY_MAX_S)


def test_a_poll_that_does_not_reach_the_missing_hour_is_no_attempt() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    asked = melbourne_day(1) + 2 * H
    late = melbourne_day(0) + 23 * H
    ingest(history, fetched(CONSUMPTION, late, asked, {}, asked))
    needs = history.catch_up(to_moment(asked), [CONSUMPTION])
    assert needs == [CatchUp(date(2026, 1, 15), CONSUMPTION, to_moment(melbourne_day(0)))]


def test_catch_up_looks_back_a_week_at_most_and_forgets_older_data() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    table = StatisticsTable()
    ingest(
        history,
        fetched(CONSUMPTION, melbourne_day(0), melbourne_day(1), quarters(M0, *[1] * 96), M0 + DAY),
    )
    table.apply(history)
    assert history.imported_wh(Series.CONSUMPTION)
    later = melbourne_day(20) + 5 * H
    needs = history.catch_up(to_moment(later), [CONSUMPTION])
    assert [need.day for need in needs] == [
        date(2026, 1, 15) + timedelta(days=n) for n in range(13, 20)
    ]
    # a poll 20 days on drops what is older than the look-back, and ignores such data
    old = fetched(CONSUMPTION, M0, M0 + DAY, quarters(M0, *[9] * 96), later)
    ingest(history, old)
    assert history.imported_wh(Series.CONSUMPTION) == {}
    assert history.pending() == ()


def test_no_catch_up_without_a_past_day() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    assert history.catch_up(to_moment(melbourne_day(0) + 5 * H), [CONSUMPTION]) == []


# --- persistence ------------------------------------------------------------------------------


def test_the_state_survives_a_round_trip_through_json() -> None:
    history = tracker(origin=melbourne_day(0), timezone=MELBOURNE)
    table = StatisticsTable()
    ingest(
        history,
        fetched(
            BATTERY,
            M0,
            M0 + 5 * H,
            quarters(M0, *[2] * 20),
            M0 + 5 * H + 60,
            discharge=quarters(M0, *[0] * 20),
            soc=dict.fromkeys(quarters(M0, *[0] * 20), 40.0),
        ),
        fetched(MICRO, M0, M0 + 3 * H, {M0 + 600: 1.0, M0 + 900: None}, M0 + 5 * H + 60),
        fetched(CONSUMPTION, M0, M0 + DAY, {}, M0 + 2 * DAY),
    )
    table.apply(history)
    ingest(history, fetched(EXPORT, M0 + 5 * H, M0 + 7 * H, quarters(M0 + 5 * H, 1, 0), M0 + 7 * H))
    saved = json.loads(json.dumps(history.to_dict()))
    restored = HistoryTracker.from_dict(saved)
    assert restored.to_dict() == history.to_dict()
    assert restored.timezone == MELBOURNE
    assert restored.origin == history.origin
    assert restored.published_through == history.published_through
    assert restored.pending() == history.pending()
    now = to_moment(M0 + 3 * DAY)
    endpoints = [MICRO, CONSUMPTION, BATTERY, EXPORT]
    assert restored.catch_up(now, endpoints) == history.catch_up(now, endpoints)
    for series in Series:
        assert restored.imported_wh(series) == history.imported_wh(series)


def test_moving_the_system_to_another_zone_moves_its_days() -> None:
    history = tracker(origin=M0, timezone=MELBOURNE)
    history.timezone = "Europe/Berlin"
    assert history.timezone == "Europe/Berlin"
    (need,) = history.catch_up(to_moment(M0 + DAY), [CONSUMPTION])
    assert need.day == date(2026, 1, 14)  # Melbourne's midnight is Berlin's afternoon
    assert need.start_at == to_moment(M0)
