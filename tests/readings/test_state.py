"""Readings: powers and their signs, intervals, counters that never go back, persistence."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from custom_components.liveone_enphase.budget.model import DEFAULT_VISIBLE_AFTER, Refusal
from custom_components.liveone_enphase.enphase import Endpoint, SystemMeta
from custom_components.liveone_enphase.readings.energy import (
    FOLD_DAYS,
    IntervalSeries,
    Source,
    Stream,
)
from custom_components.liveone_enphase.readings.state import (
    PowerReading,
    Quantity,
    ReadingsState,
    SocReading,
    SystemReadings,
)
from custom_components.liveone_enphase.stored import StoredDataError

from . import payloads as p

NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Berlin
Q = timedelta(minutes=15)
FIVE = timedelta(minutes=5)


def _home(tz: str = "Europe/Berlin") -> SystemReadings:
    state = ReadingsState()
    return state.add_system(
        p.SYSTEM, tz, has_battery=True, has_consumption=True, has_production_meter=True
    )


def _roundtrip(state: ReadingsState) -> ReadingsState:
    return ReadingsState.from_dict(json.loads(json.dumps(state.to_dict())))


def test_latest_telemetry_powers_and_signs() -> None:
    home = _home()
    home.apply(
        Endpoint.LATEST_TELEMETRY,
        p.latest(NOON, production=3000, consumption=1200, battery=-800),
        NOON,
    )
    power = home.power
    # Enphase's Net consumption channel is production + grid (battery excluded): the load is
    # that plus battery power, and grid is that minus production.
    assert power[Quantity.SOLAR] == PowerReading(3000, NOON, "systems/{system_id}/latest_telemetry")
    assert power[Quantity.BATTERY].watts == -800  # charging
    assert power[Quantity.CONSUMPTION].watts == 400
    assert power[Quantity.GRID].watts == -1800  # exporting
    load = power[Quantity.CONSUMPTION].watts
    assert (
        load
        == power[Quantity.SOLAR].watts + power[Quantity.GRID].watts + power[Quantity.BATTERY].watts
    )
    assert home.battery_mode == "Charging"
    assert home.last_report_at == NOON
    # An older answer does not replace a newer value.
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(NOON - Q, production=10), NOON)
    assert power[Quantity.SOLAR].watts == 3000


def test_latest_without_battery_reading_or_production() -> None:
    home = _home()
    home.apply(
        Endpoint.LATEST_TELEMETRY, p.latest(NOON, production=None, battery=None, mode=None), NOON
    )
    assert Quantity.CONSUMPTION not in home.power  # the load needs the battery's share
    assert Quantity.GRID not in home.power
    pv = ReadingsState().add_system(p.SYSTEM, "UTC", has_consumption=True)
    pv.apply(
        Endpoint.LATEST_TELEMETRY,
        p.latest(NOON, production=2000, consumption=500, battery=None),
        NOON,
    )
    assert pv.power[Quantity.CONSUMPTION].watts == 500
    assert pv.power[Quantity.GRID].watts == -1500


def test_micro_intervals_give_production_and_zero_when_dark() -> None:
    home = ReadingsState().add_system(p.SYSTEM, "UTC")
    start = NOON - timedelta(hours=1)
    rows = [(start + FIVE * n, 100.0) for n in range(1, 6)]  # until 09:25
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(start, NOON, rows, meta_at=NOON - timedelta(minutes=29)),
        NOON,
    )
    solar = home.power[Quantity.SOLAR]
    # The 09:30 report is surely published by 10:00 and brought no micro interval: the micros
    # stopped (they send nothing while dark), so solar is zero as of that report.
    report = NOON - timedelta(minutes=30)
    assert report < NOON - DEFAULT_VISIBLE_AFTER
    assert solar == PowerReading(0.0, report, "production_micro")
    assert home.energy_wh(Stream.PRODUCTION) == 500
    assert [i.wh for i in home.intervals(Stream.PRODUCTION)] == [100.0] * 5
    assert home.intervals(Stream.PRODUCTION)[0].average_w == 1200
    progress = home.progress().of(Endpoint.PRODUCTION_MICRO)
    assert progress.cursor == start + 5 * FIVE
    assert progress.complete
    # Between reports nothing is concluded: the newest interval is the newest report's.
    fresh = ReadingsState().add_system(p.SYSTEM, "UTC")
    fresh.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, NOON, [(report, 90.0)]), NOON)
    assert fresh.power[Quantity.SOLAR] == PowerReading(1080.0, report, "production_intervals")
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, None, []), NOON)  # no window end: nothing
    assert home.power[Quantity.SOLAR] == solar
    # A report not yet published is no proof of darkness, however long the lag has been.
    lagging = ReadingsState().add_system(p.SYSTEM, "UTC")
    reported = NOON - 2 * Q + timedelta(seconds=150)  # 09:32:30, with the 09:30 interval
    later = NOON + timedelta(minutes=12)  # 09:45's report is late: 27 minutes
    lagging.apply(Endpoint.LATEST_TELEMETRY, p.latest(reported, production=900), later)
    rows = [(NOON - 2 * Q, 80.0)]
    lagging.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, later, rows, meta_at=reported), later)
    assert lagging.power[Quantity.SOLAR].watts == 900
    lagging.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, later, []), later)  # no meta
    never = replace(p.micro(start, later, []), meta=SystemMeta("normal", None, None, None))
    lagging.apply(Endpoint.PRODUCTION_MICRO, never, later)  # no report at all
    assert lagging.power[Quantity.SOLAR].watts == 900
    # While producing, the newest interval is the shown value.
    busy = ReadingsState().add_system(p.SYSTEM, "UTC")
    rows = [(NOON - DEFAULT_VISIBLE_AFTER - FIVE * n, 50.0) for n in range(3)]
    busy.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, NOON, rows), NOON)
    assert busy.power[Quantity.SOLAR].measured_at == NOON - DEFAULT_VISIBLE_AFTER
    assert busy.power[Quantity.SOLAR].watts == 600


def test_meters_battery_and_grid_intervals() -> None:
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    ends = [start + Q * n for n in range(1, 4)]
    home.apply(
        Endpoint.PRODUCTION_METER,
        p.meter(start, NOON, [(e, 500.0) for e in ends], production=True),
        NOON,
    )
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, NOON, [(e, 200.0) for e in ends]), NOON)
    home.apply(
        Endpoint.BATTERY_TELEMETRY,
        p.battery(
            start, NOON, [(e, 100.0, 0.0, 60.0 + n) for n, e in enumerate(ends)], aggregate="63%"
        ),
        NOON,
    )
    assert home.energy_wh(Stream.PRODUCTION) == 1500
    assert home.energy_wh(Stream.CONSUMPTION) == 600
    assert home.energy_wh(Stream.BATTERY_CHARGE) == 300
    assert home.soc == SocReading(63.0, ends[-1])
    assert home.soc_history[int(ends[0].timestamp())] == 60.0
    assert home.power[Quantity.BATTERY] == PowerReading(-400.0, ends[-1], "battery_intervals")
    assert home.power[Quantity.CONSUMPTION].watts == 800
    # Grid was not measured: derived per interval as load - solar - battery (net export here).
    assert home.energy_wh(Stream.GRID_EXPORT) == 3 * 200
    assert home.energy_wh(Stream.GRID_IMPORT) == 0
    assert home.power[Quantity.GRID] == PowerReading(800.0 - 2000.0 + 400.0, ends[-1], "derived")
    # Measured grid intervals win where they exist.
    home.apply(
        Endpoint.ENERGY_IMPORT_TELEMETRY, p.imported(start, NOON, [(e, 10.0) for e in ends]), NOON
    )
    home.apply(
        Endpoint.ENERGY_EXPORT_TELEMETRY, p.exported(start, NOON, [(e, 210.0) for e in ends]), NOON
    )
    assert home.energy_wh(Stream.GRID_EXPORT) == 630
    assert home.energy_wh(Stream.GRID_IMPORT) == 30
    assert [i.wh for i in home.intervals(Stream.GRID_EXPORT)] == [210.0] * 3
    assert home.intervals(Stream.GRID_IMPORT)[0].start == ends[0] - Q


def test_battery_soc_without_aggregate_and_empty_window() -> None:
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    home.apply(
        Endpoint.BATTERY_TELEMETRY, p.battery(start, NOON, [(NOON - Q, 0.0, 50.0, 41.0)]), NOON
    )
    assert home.soc == SocReading(41.0, NOON - Q)
    home.apply(Endpoint.BATTERY_TELEMETRY, p.battery(NOON - Q, NOON, []), NOON)
    assert home.soc == SocReading(41.0, NOON - Q)
    assert home.intervals(Stream.GRID_IMPORT) == []  # no consumption data: nothing derived


def test_derived_grid_waits_for_all_parts() -> None:
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    ends = [start + Q * n for n in range(1, 4)]
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, NOON, [(e, 300.0) for e in ends]), NOON)
    assert home.intervals(Stream.GRID_IMPORT) == []  # no production yet
    micro_rows = [(start + FIVE * n, 20.0) for n in range(1, 10)]
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, NOON, micro_rows), NOON)
    assert home.intervals(Stream.GRID_IMPORT) == []  # no battery yet
    home.apply(
        Endpoint.BATTERY_TELEMETRY, p.battery(start, NOON, [(ends[0], 0.0, 100.0, 50.0)]), NOON
    )
    derived = home.intervals(Stream.GRID_IMPORT)
    assert [(i.end, i.wh) for i in derived] == [(ends[0], 300.0 - 60.0 - 100.0)]


def test_derived_grid_starts_where_production_data_starts() -> None:
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    ends = [start + Q * n for n in range(1, 5)]
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, NOON, [(e, 300.0) for e in ends]), NOON)
    rows = [(e, 0.0, 0.0, 50.0) for e in ends]
    home.apply(Endpoint.BATTERY_TELEMETRY, p.battery(start, NOON, rows), NOON)
    # The micro window starts half an hour later: production before it is unknown, not zero.
    micro_start = start + 2 * Q
    later = NOON + DEFAULT_VISIBLE_AFTER  # all published by then
    home.apply(
        Endpoint.PRODUCTION_MICRO, p.micro(micro_start, later, [(micro_start + FIVE, 30.0)]), later
    )
    derived = home.intervals(Stream.GRID_IMPORT)
    assert [(i.end, i.wh) for i in derived] == [(ends[2], 270.0), (ends[3], 300.0)]
    # The span covered survives a restart; a store from before it was kept falls back to the
    # oldest interval held.
    series = home.counters[Stream.PRODUCTION].sources[Source.MICRO]
    saved = series.to_dict()
    assert IntervalSeries.from_dict(saved).covered_from == int(micro_start.timestamp())
    del saved["covered_from"]
    assert IntervalSeries.from_dict(saved).covered_from == int((micro_start + FIVE).timestamp())


def test_lifetime_counters_ignore_trailing_zeros_and_take_late_days() -> None:
    home = _home()
    first = date(2026, 6, 1)
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(first, [1000, 2000, 0, 0]), NOON)
    assert home.energy_wh(Stream.PRODUCTION) == 3000
    # The late day arrives, and a day that was partial grows: the counter only rises.
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(first, [1000, 2100, 900, 0]), NOON)
    assert home.energy_wh(Stream.PRODUCTION) == 4000
    # A revision downwards changes nothing shown.
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(first, [900, 2000, 800, 0]), NOON)
    assert home.energy_wh(Stream.PRODUCTION) == 4000
    home.apply(Endpoint.CONSUMPTION_LIFETIME, p.consumption_lifetime(first, [5, 6]), NOON)
    home.apply(Endpoint.BATTERY_LIFETIME, p.battery_lifetime(first, [7, 8], [9, 10]), NOON)
    home.apply(Endpoint.ENERGY_IMPORT_LIFETIME, p.import_lifetime(first, [11]), NOON)
    home.apply(Endpoint.ENERGY_EXPORT_LIFETIME, p.export_lifetime(first, [12, 0]), NOON)
    values = {s: home.energy_wh(s) for s in Stream}
    assert values == {
        Stream.PRODUCTION: 4000,
        Stream.CONSUMPTION: 11,
        Stream.BATTERY_CHARGE: 15,
        Stream.BATTERY_DISCHARGE: 19,
        Stream.GRID_IMPORT: 11,
        Stream.GRID_EXPORT: 12,
    }
    assert home.progress().of(Endpoint.ENERGY_LIFETIME).last_success == NOON


def test_old_days_fold_and_lifetime_resumes_after_them() -> None:
    home = _home()
    first = date(2026, 5, 1)
    days = [100.0] * 40  # to 2026-06-09
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(first, days), NOON)
    counter = home.counters[Stream.PRODUCTION]
    assert counter.base_through == date(2026, 6, 10) - timedelta(days=FOLD_DAYS)
    assert home.energy_wh(Stream.PRODUCTION) == 4000
    assert home.progress().of(Endpoint.ENERGY_LIFETIME).resume_date == date(2026, 6, 1)
    # A folded day is never revised again; later days still are.
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(first, [500.0] * 40), NOON)
    assert home.energy_wh(Stream.PRODUCTION) == 4000 + 9 * 400
    # Other lifetime endpoints resume from their own (unfolded) streams: whole lifetime.
    home.apply(Endpoint.BATTERY_LIFETIME, p.battery_lifetime(date(2026, 6, 8), [1], [1]), NOON)
    assert home.progress().of(Endpoint.BATTERY_LIFETIME).resume_date is None


def test_summary_sets_today_and_a_floor() -> None:
    home = _home()
    day = date(2026, 6, 10)
    home.apply(
        Endpoint.SUMMARY, p.summary(day, NOON, today=12_000, lifetime=1_000_000, power=2500), NOON
    )
    assert home.energy_wh(Stream.PRODUCTION) == 1_012_000
    assert home.day_wh(Stream.PRODUCTION, home.today(NOON)) == 12_000
    assert home.power[Quantity.SOLAR] == PowerReading(2500, NOON, "summary")
    # Intervals that add up to less do not pull it down; more raises it.
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(NOON - Q, NOON, [(NOON - FIVE, 100.0)]), NOON)
    assert home.energy_wh(Stream.PRODUCTION) == 1_012_000


def test_truncated_windows_move_the_cursor_and_say_incomplete() -> None:
    home = _home("UTC")
    start = NOON - timedelta(days=3)
    window_end = start + timedelta(days=1)
    # The gateway reported since: the empty day is really empty.
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(NOON - Q, NOON, [], meta_at=NOON - Q), NOON)
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, window_end, []), NOON)
    progress = home.progress().of(Endpoint.CONSUMPTION_METER)
    assert progress.cursor == window_end
    assert not progress.complete
    home.note_attempt(Endpoint.CONSUMPTION_METER, NOON + Q)
    assert home.progress().of(Endpoint.CONSUMPTION_METER).last_attempt == NOON + Q


def test_a_silent_gateway_keeps_the_cursor_at_its_last_report() -> None:
    """An offline gateway uploads its backlog later: nothing after its last report is covered."""
    home = _home("UTC")
    last_report = NOON - timedelta(days=3)
    start = last_report - Q
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(start, last_report, [(last_report, 120.0)], meta_at=last_report),
        NOON - timedelta(days=2),
    )
    # Asked since: a day window cut short, then the last day, both empty.
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(last_report, last_report + timedelta(days=1), [], meta_at=last_report),
        NOON,
    )
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(NOON - timedelta(days=1), NOON, [], meta_at=last_report),
        NOON,
    )
    progress = home.progress().of(Endpoint.PRODUCTION_MICRO)
    assert progress.cursor == last_report
    assert not progress.complete
    assert progress.known_through(DEFAULT_VISIBLE_AFTER) == last_report
    # Reporting again (a dark night, say): an empty answer that reached now is complete.
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(NOON - timedelta(days=1), NOON, [], meta_at=NOON - Q),
        NOON,
    )
    assert home.progress().of(Endpoint.PRODUCTION_MICRO).complete


def test_report_cadence_and_phase_are_learnt() -> None:
    home = _home("UTC")
    base = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    for hours in (0, 6, 12):
        at = base + timedelta(hours=hours, seconds=95)
        home.apply(Endpoint.LATEST_TELEMETRY, p.latest(at), at + timedelta(minutes=30))
    assert home.report_cadence == timedelta(minutes=15)  # no sign yet of a slow gateway
    # Asked long after the next report was due, and nothing new: a slow gateway.
    late = base + timedelta(hours=13)
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(late - Q, late, [], meta_at=base + timedelta(hours=12, seconds=95)),
        late,
    )
    assert home.report_cadence == timedelta(hours=6)
    assert home.progress().report_phase == timedelta(seconds=95)
    # A 15-minute gap proves otherwise.
    at = base + timedelta(hours=12, minutes=15, seconds=95)
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(at), at)
    assert home.report_cadence == timedelta(minutes=15)


def test_state_round_trip_and_system_updates() -> None:
    state = ReadingsState()
    home = state.add_system(p.SYSTEM, "Europe/Berlin", has_battery=True, has_consumption=True)
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(NOON), NOON)
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(date(2026, 6, 1), [1000] * 9), NOON)
    home.apply(
        Endpoint.BATTERY_TELEMETRY,
        p.battery(NOON - Q, NOON, [(NOON, 1.0, 2.0, 50.0)], aggregate="50%"),
        NOON,
    )
    home.note_forbidden(Endpoint.BATTERY_LIFETIME, NOON)
    home.note_live(NOON)
    restored = _roundtrip(state)
    again = restored.system(p.SYSTEM)
    assert again.to_dict() == home.to_dict()
    assert again.profile() == home.profile()
    assert again.progress() == home.progress()
    assert again.power == home.power
    assert restored.planned_systems() == state.planned_systems()
    same = state.add_system(p.SYSTEM, "Australia/Melbourne", has_battery=False)
    assert same is home
    assert (same.timezone, same.has_battery) == ("Australia/Melbourne", False)
    assert home.energy_wh(Stream.PRODUCTION) == 9000
    with pytest.raises(StoredDataError, match="version"):
        ReadingsState.from_dict({"version": 0, "systems": [{}]})
    empty = SystemReadings(1, None)
    assert empty.progress().last_live_at is None
    assert SystemReadings.from_dict(empty.to_dict()).to_dict() == empty.to_dict()


def test_system_status_follows_the_newest_answer_and_is_kept() -> None:
    state = ReadingsState()
    home = state.add_system(p.SYSTEM, "UTC")
    seen = [home.status]
    start = NOON - Q
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, NOON, [], meta_at=start), NOON)
    seen.append(home.status)
    day = date(2026, 6, 10)
    comm = p.summary(day, start, today=1.0, lifetime=1.0, power=0.0, status="comm")
    home.apply(Endpoint.SUMMARY, comm, NOON)
    seen.append(home.status)
    # Answers without a status (no meta, latest_telemetry) leave it as it was.
    home.apply(Endpoint.SUMMARY, p.summary(day, start, today=1.0, lifetime=1.0, power=0.0), NOON)
    home.apply(Endpoint.PRODUCTION_MICRO, p.micro(start, NOON, []), NOON)
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(NOON), NOON)
    seen.append(home.status)
    assert seen == [None, "normal", "comm", "comm"]
    assert _roundtrip(state).system(p.SYSTEM).status == "comm"
    # A store written before the status was kept still loads.
    saved = home.to_dict()
    del saved["status"]
    assert SystemReadings.from_dict(saved).status is None


def test_old_intervals_are_pruned_and_not_counted_twice() -> None:
    home = ReadingsState().add_system(p.SYSTEM, "UTC", has_consumption=True)
    day_one = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    rows = [(day_one + Q * n, 10.0) for n in range(4)]
    home.apply(
        Endpoint.CONSUMPTION_METER, p.meter(day_one - Q, day_one + Q * 4, rows), day_one + Q * 4
    )
    assert home.energy_wh(Stream.CONSUMPTION) == 40
    later = day_one + timedelta(days=11)
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(later - Q, later, [(later, 5.0)]), later)
    assert [i.end for i in home.intervals(Stream.CONSUMPTION)] == [later]
    # The old ones come again (an overlapping window): already counted, ignored.
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(day_one - Q, day_one + Q * 4, rows), later)
    assert home.energy_wh(Stream.CONSUMPTION) == 45
    assert home.soc_history == {}


def test_late_intervals_of_a_folded_day_are_not_counted_again() -> None:
    home = ReadingsState().add_system(p.SYSTEM, "UTC", has_consumption=True)
    first = date(2026, 6, 1)
    later = NOON + timedelta(days=2)  # 2026-06-01 is folded into the base by then
    home.apply(Endpoint.CONSUMPTION_LIFETIME, p.consumption_lifetime(first, [100.0]), later)
    assert home.counters[Stream.CONSUMPTION].base_through == first
    old = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(old - Q, later, [(old, 100.0)]), later)
    home.settle(later + timedelta(days=1))
    assert home.energy_wh(Stream.CONSUMPTION) == 100


def test_grid_derived_without_a_battery_and_silent_devices() -> None:
    pv = ReadingsState().add_system(
        p.SYSTEM, "UTC", has_consumption=True, has_production_meter=True
    )
    start = NOON - timedelta(hours=1)
    ends = [start + Q * n for n in range(1, 3)]
    pv.apply(
        Endpoint.PRODUCTION_METER,
        p.meter(start, NOON, [(e, 100.0) for e in ends], production=True),
        NOON,
    )
    pv.apply(Endpoint.CONSUMPTION_METER, p.meter(start, NOON, [(e, 300.0) for e in ends]), NOON)
    assert [i.wh for i in pv.intervals(Stream.GRID_IMPORT)] == [200.0, 200.0]
    assert pv.power[Quantity.GRID].watts == 800.0
    # A silent system (all readings null) changes nothing.
    before = {q: (r.watts, r.measured_at) for q, r in pv.power.items()}
    pv.apply(
        Endpoint.LATEST_TELEMETRY,
        p.latest(NOON, production=None, consumption=None, battery=None),
        NOON,
    )
    assert {q: (r.watts, r.measured_at) for q, r in pv.power.items()} == before
    assert pv.last_report_at is None


def test_a_refused_endpoint_waits_for_its_retry_and_an_answer_clears_it() -> None:
    state = ReadingsState()
    home = _home()
    state.systems[home.system_id] = home
    assert not state.retry_forbidden(NOON)  # nothing refused: nothing to retry
    home.note_attempt(Endpoint.BATTERY_TELEMETRY, NOON)
    home.note_forbidden(Endpoint.BATTERY_TELEMETRY, NOON)
    assert home.profile().forbidden == {Endpoint.BATTERY_TELEMETRY}
    assert home.progress().retries == {Endpoint.BATTERY_TELEMETRY: NOON + timedelta(days=30)}

    # The plan grew: the retry may come at once, but never later than it would have.
    later = NOON + timedelta(days=2)
    assert state.retry_forbidden(later)
    assert home.progress().retries == {Endpoint.BATTERY_TELEMETRY: later}
    assert state.retry_forbidden(NOON + timedelta(days=60))
    assert home.forbidden[Endpoint.BATTERY_TELEMETRY] == Refusal(NOON, later)
    assert _roundtrip(state).system(p.SYSTEM).forbidden == home.forbidden

    at = later + Q
    home.apply(Endpoint.BATTERY_TELEMETRY, p.battery(at - Q, at, [(at, 1.0, 2.0, 50.0)]), at)
    assert home.forbidden == {}
    assert home.profile().forbidden == frozenset()
    assert home.progress().retries == {}


def test_refusals_of_older_stores_are_dated_by_the_refused_call() -> None:
    home = _home()
    home.note_attempt(Endpoint.BATTERY_TELEMETRY, NOON)
    saved = home.to_dict()
    # Before refusals were dated, the store listed the refused endpoints only.
    saved["forbidden"] = [Endpoint.BATTERY_TELEMETRY.value, Endpoint.BATTERY_LIFETIME.value]

    restored = SystemReadings.from_dict(json.loads(json.dumps(saved)))

    assert restored.forbidden == {
        Endpoint.BATTERY_TELEMETRY: Refusal.at(NOON),
        # Never attempted as far as the store knows: refused long ago, retried at once.
        Endpoint.BATTERY_LIFETIME: Refusal.at(datetime.fromtimestamp(0, UTC)),
    }


def test_trailing_zeros_are_not_reported_yet() -> None:
    """Zeros after the newest evidence are neither merged nor passed by the cursor."""
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    ends = [start + Q * n for n in range(1, 7)]  # 09:15 .. 10:30
    first = p.meter(start, NOON, [(ends[0], 300.0), (ends[1], 250.0), (ends[2], 0.0), (NOON, 0.0)])
    home.apply(Endpoint.CONSUMPTION_METER, first, NOON)
    assert home.energy_wh(Stream.CONSUMPTION) == 550
    assert [i.end for i in home.intervals(Stream.CONSUMPTION)] == ends[:2]
    # The shown load is the last reported interval's, not a zero "measured" at 10:00.
    assert home.power[Quantity.CONSUMPTION] == PowerReading(
        1000.0, ends[1], "consumption_intervals"
    )
    progress = home.progress().of(Endpoint.CONSUMPTION_METER)
    assert (progress.cursor, progress.complete) == (ends[1], False)
    assert progress.known_through(DEFAULT_VISIBLE_AFTER) == ends[1]
    # The next answer, from the cursor: a zero before a non-zero value is a real zero.
    later = NOON + 2 * Q
    second = p.meter(
        ends[1], later, [(ends[2], 120.0), (NOON, 0.0), (ends[4], 180.0), (later, 0.0)]
    )
    home.apply(Endpoint.CONSUMPTION_METER, second, later)
    assert home.energy_wh(Stream.CONSUMPTION) == 850
    assert [(i.end, i.wh) for i in home.intervals(Stream.CONSUMPTION)][2:] == [
        (ends[2], 120.0),
        (NOON, 0.0),
        (ends[4], 180.0),
    ]
    assert home.progress().of(Endpoint.CONSUMPTION_METER).cursor == ends[4]
    # Evidence carries over to the next answers (and restarts): a night of production-meter
    # zeros is real up to 10:15, unknown after; a zero state of charge proves nothing either.
    state = ReadingsState()
    state.systems[p.SYSTEM] = home
    home = _roundtrip(state).system(p.SYSTEM)
    assert home.published_through == int(ends[4].timestamp())
    zeros = p.meter(start, later, [(e, 0.0) for e in ends], production=True)
    home.apply(Endpoint.PRODUCTION_METER, zeros, later)
    assert [i.end for i in home.intervals(Stream.PRODUCTION)] == ends[:5]
    assert home.progress().of(Endpoint.PRODUCTION_METER).cursor == ends[4]
    rows = [(ends[4], 0.0, 0.0, 55.0), (later, 0.0, 0.0, 0.0)]
    home.apply(Endpoint.BATTERY_TELEMETRY, p.battery(ends[3], later, rows), later)
    assert home.soc == SocReading(55.0, ends[4])
    assert sorted(home.soc_history) == [int(ends[4].timestamp())]
    assert [i.end for i in home.intervals(Stream.BATTERY_CHARGE)] == [ends[4]]


def test_zeros_without_any_evidence_prove_nothing() -> None:
    home = _home("UTC")
    start = NOON - timedelta(hours=1)
    zeros = p.meter(start, NOON, [(start + Q * n, 0.0) for n in range(1, 5)], production=True)
    home.apply(Endpoint.PRODUCTION_METER, zeros, NOON)
    assert home.intervals(Stream.PRODUCTION) == []
    progress = home.progress().of(Endpoint.PRODUCTION_METER)
    assert (progress.cursor, progress.complete, progress.last_success) == (None, False, NOON)
    assert home.published_through is None
