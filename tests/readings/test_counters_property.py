"""Property: lifetime counters never go backwards, whatever order, repeats, gaps or restarts.

A true history of daily energy is delivered piecemeal, as Enphase would: lifetime series cut at
random days with trailing zeros (not reported yet), partial values for the day in progress,
downward revisions, interval batches repeated and out of order, restarts in between (the state
goes through JSON), and time moving on so old days fold. The counter must never decrease and
never exceed the truth; delivered in full before anything folds, it must equal the truth.
"""

import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.readings.energy import Stream
from custom_components.liveone_enphase.readings.state import ReadingsState, SystemReadings

from . import payloads as p

DAYS = 7  # within the intervals kept (8 days), so a full delivery can still count them all
FIRST = date(2026, 3, 1)
SLOTS = (6, 9, 12, 15)  # interval ends (hour of day) per day, a quarter of the day each

truths = st.lists(
    st.lists(st.integers(min_value=0, max_value=2_000), min_size=4, max_size=4),
    min_size=DAYS,
    max_size=DAYS,
)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("lifetime"), st.integers(0, DAYS - 1), st.integers(0, DAYS), st.floats(0, 1)
        ),
        st.tuples(
            st.just("intervals"), st.integers(0, DAYS - 1), st.integers(1, 15), st.booleans()
        ),
        st.tuples(st.just("restart"), st.just(0), st.just(0), st.just(0.0)),
        st.tuples(st.just("advance"), st.integers(1, 72), st.just(0), st.just(0.0)),
    ),
    max_size=25,
)


def _slot(day: int, slot: int) -> datetime:
    return datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), UTC) + timedelta(
        hours=SLOTS[slot]
    )


def _deliver(
    readings: SystemReadings, truth: list[list[int]], op: tuple[str, int, int, float], now: datetime
) -> None:
    kind, a, b, share = op
    if kind == "lifetime":
        # Days from `a`; reported up to `b` (the last of them partial), zeros after.
        values = []
        for day in range(a, DAYS):
            whole = sum(truth[day])
            if day < b - 1:
                values.append(whole)
            elif day == b - 1:
                values.append(int(whole * share))
            else:
                values.append(0)
        readings.apply(
            Endpoint.CONSUMPTION_LIFETIME,
            p.consumption_lifetime(FIRST + timedelta(days=a), values),
            now,
        )
    elif kind == "intervals":
        chosen = [slot for slot in range(4) if b & (1 << slot)]
        rows = [(_slot(a, slot), float(truth[a][slot])) for slot in chosen]
        if share:
            rows.reverse()
        start = _slot(a, 0) - timedelta(hours=6)
        readings.apply(Endpoint.CONSUMPTION_METER, p.meter(start, now, rows + rows[:1]), now)


def _new() -> tuple[ReadingsState, SystemReadings]:
    state = ReadingsState()
    return state, state.add_system(p.SYSTEM, "UTC", has_consumption=True)


@settings(max_examples=60, deadline=None)
@given(truth=truths, ops=operations)
def test_counters_never_decrease_and_never_exceed_the_truth(
    truth: list[list[int]], ops: list[tuple[str, int, int, float]]
) -> None:
    state, readings = _new()
    now = _slot(DAYS - 1, 3) + timedelta(hours=1)
    total = sum(map(sum, truth))
    shown = 0.0
    for op in ops:
        if op[0] == "restart":
            state = ReadingsState.from_dict(json.loads(json.dumps(state.to_dict())))
            readings = state.system(p.SYSTEM)
        elif op[0] == "advance":
            now += timedelta(hours=op[1])
            readings.settle(now)
        else:
            _deliver(readings, truth, op, now)
        value = readings.energy_wh(Stream.CONSUMPTION)
        assert value >= shown
        assert value <= total
        shown = value


@settings(max_examples=40, deadline=None)
@given(truth=truths, ops=operations)
def test_everything_delivered_adds_up_to_the_truth(
    truth: list[list[int]], ops: list[tuple[str, int, int, float]]
) -> None:
    state, readings = _new()
    now = _slot(DAYS - 1, 3) + timedelta(hours=1)
    for op in ops:
        if op[0] == "restart":
            state = ReadingsState.from_dict(json.loads(json.dumps(state.to_dict())))
            readings = state.system(p.SYSTEM)
        elif op[0] != "advance":  # nothing folds: everything can still be corrected
            _deliver(readings, truth, op, now)
    if ops and ops[0][0] == "lifetime":
        _deliver(readings, truth, ("lifetime", 0, DAYS, 1.0), now)
    else:
        for day in range(DAYS):
            _deliver(readings, truth, ("intervals", day, 15, 0.0), now)
    assert readings.energy_wh(Stream.CONSUMPTION) == sum(map(sum, truth))
