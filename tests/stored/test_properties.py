"""Property: whatever JSON one of our stores holds, reading it gives a usable model or
`StoredDataError`, nothing else; what `to_dict` wrote always reads back the same.

Each stored-data parser is fed arbitrary JSON, randomly damaged copies of a real `to_dict`
output, and every copy of that output with one value made null or one key dropped. Whatever
parses must also be usable: its own `to_dict` reads back the same, and the code that runs on it
after a restart (planning, merging a new answer, queueing for LiveOne) does not fail.
"""

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.enphase import Endpoint, RequestOutcome, RequestRecord
from custom_components.liveone_enphase.history import HistoryTracker
from custom_components.liveone_enphase.history.hours import to_epoch
from custom_components.liveone_enphase.inventory import SystemInfo
from custom_components.liveone_enphase.liveone import (
    Batch,
    Outbox,
    PowerSample,
    StoreResult,
    power_readings,
)
from custom_components.liveone_enphase.push_readings import PushCursor
from custom_components.liveone_enphase.readings.energy import EnergyCounter, IntervalSeries, Stream
from custom_components.liveone_enphase.readings.state import ReadingsState, SystemReadings
from custom_components.liveone_enphase.stored import StoredDataError
from sim.clock import ManualClock

from ..history.helpers import fetched
from ..json_values import JSON, damaged, mutate
from ..liveone.helpers import MemoryStorage, sample_readings
from ..readings import payloads as p

NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
LATER = NOON + timedelta(hours=3)
Q = timedelta(minutes=15)
HISTORY_ENDPOINTS = [
    Endpoint.PRODUCTION_MICRO,
    Endpoint.CONSUMPTION_METER,
    Endpoint.BATTERY_TELEMETRY,
    Endpoint.ENERGY_IMPORT_TELEMETRY,
]


# --- real stored documents --------------------------------------------------------------------


def _readings() -> ReadingsState:
    """A battery home after a morning of answers from every endpoint."""
    state = ReadingsState()
    home = state.add_system(
        p.SYSTEM, "Europe/Berlin", has_battery=True, has_consumption=True, has_production_meter=True
    )
    start = NOON - 4 * Q
    ends = [start + n * Q for n in range(1, 5)]
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(NOON), NOON)
    home.apply(
        Endpoint.PRODUCTION_MICRO,
        p.micro(start, NOON, [(end - timedelta(minutes=5), 80.0) for end in ends], meta_at=NOON),
        NOON,
    )
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, NOON, [(e, 150.0) for e in ends]), NOON)
    home.apply(
        Endpoint.BATTERY_TELEMETRY,
        p.battery(start, NOON, [(e, 40.0, 0.0, 55.0) for e in ends], aggregate="56%"),
        NOON,
    )
    day = NOON.date() - timedelta(days=3)
    home.apply(Endpoint.ENERGY_LIFETIME, p.production_lifetime(day, [9000, 8000, 0]), NOON)
    home.apply(Endpoint.BATTERY_LIFETIME, p.battery_lifetime(day, [500, 400], [450, 0]), NOON)
    home.apply(
        Endpoint.SUMMARY, p.summary(NOON.date(), NOON, today=900, lifetime=1e6, power=2000), NOON
    )
    home.note_forbidden(Endpoint.ENERGY_EXPORT_TELEMETRY, NOON)
    return state


def _tracker() -> HistoryTracker:
    """A tracker that has taken a few hours of micro, meter and battery intervals."""
    origin = to_epoch(NOON) - 6 * 3600
    tracker = HistoryTracker("Europe/Berlin", datetime.fromtimestamp(origin, UTC))
    quarters = {origin + 900 * n: 100.0 for n in range(1, 13)}
    fives = {origin + 300 * n: 30.0 for n in range(1, 25)}
    at = origin + 5 * 3600
    tracker.ingest(
        [
            fetched(Endpoint.PRODUCTION_MICRO, origin, origin + 2 * 3600, fives, at),
            fetched(Endpoint.CONSUMPTION_METER, origin, origin + 3 * 3600, quarters, at),
            fetched(
                Endpoint.BATTERY_TELEMETRY,
                origin,
                origin + 3 * 3600,
                quarters,
                at,
                discharge=dict.fromkeys(quarters, 0.0),
            ),
        ]
    )
    for rewrite in tracker.pending()[:2]:
        tracker.mark_imported(rewrite)
    tracker.catch_up(NOON + timedelta(days=2), HISTORY_ENDPOINTS)
    return tracker


def _ledger(clock: ManualClock) -> CallLedger:
    ledger = CallLedger(PlanLimits.watt(), clock)
    for seconds in range(0, 50, 10):
        ledger.after_request(
            RequestRecord("systems", NOON + timedelta(seconds=seconds), 200, RequestOutcome.OK)
        )
    ledger.record_token_request(NOON, status=500, outcome=RequestOutcome.TRANSIENT)
    ledger.note_rate_limit("minute", NOON + timedelta(seconds=40))
    return ledger


def _batch() -> Batch:
    return Batch.create("4201001", sample_readings(NOON, 2), created_at=NOON)


def _cursor() -> PushCursor:
    cursor = PushCursor()
    cursor.system(7).advance(power_readings(PowerSample(NOON, solar_w=900.0, battery_soc_pct=50)))
    cursor.system(8).advance(sample_readings(NOON, 1))
    return cursor


def _info() -> SystemInfo:
    return SystemInfo(
        system_id=4_201_001,
        name="Demo Battery Home",
        timezone="Australia/Melbourne",
        status="normal",
        has_battery=True,
        has_consumption=True,
        has_production_meter=True,
        gateway_model="IQ Gateway",
        gateway_firmware=None,
        fetched_at=NOON,
    )


# --- using what was read ----------------------------------------------------------------------


def _use_readings(state: ReadingsState) -> None:
    state.planned_systems()
    for home in state.systems.values():
        _use_system(home)


def _use_system(home: SystemReadings) -> None:
    """What runs on restored readings: sensors, the push, and merging the next answers."""
    for stream in Stream:
        home.intervals(stream)
        home.energy_wh(stream)
        home.total_known(stream)
        home.day_wh(stream, home.today(LATER))
    PushCursor().new_readings(home, polled_at=LATER)
    start = LATER - 2 * Q
    home.apply(Endpoint.LATEST_TELEMETRY, p.latest(LATER), LATER)
    home.apply(
        Endpoint.PRODUCTION_MICRO, p.micro(start, LATER, [(LATER, 50.0)], meta_at=LATER), LATER
    )
    home.apply(Endpoint.CONSUMPTION_METER, p.meter(start, LATER, [(LATER, 90.0)]), LATER)
    home.apply(
        Endpoint.BATTERY_TELEMETRY, p.battery(start, LATER, [(LATER, 0.0, 30.0, 50.0)]), LATER
    )
    home.settle(LATER + timedelta(days=12))
    home.profile()
    home.progress()


def _use_counter(counter: EnergyCounter) -> None:
    counter.book_days([(LATER.date(), 100.0)])
    counter.settle(LATER.date() + timedelta(days=12), LATER + timedelta(days=12))
    counter.day_wh(LATER.date())


def _use_series(series: IntervalSeries) -> None:
    series.merge([(LATER, 10.0)], UTC)
    series.intervals()
    series.latest()
    series.prune(LATER, LATER.date() - timedelta(days=10))


def _use_tracker(tracker: HistoryTracker) -> None:
    tracker.pending()
    tracker.catch_up(LATER + timedelta(days=1), HISTORY_ENDPOINTS)
    end = to_epoch(LATER)
    tracker.ingest(
        [
            fetched(
                Endpoint.CONSUMPTION_METER,
                end - 3600,
                end,
                {end - 900 * n: 10.0 for n in range(4)},
                end + 1800,
            )
        ]
    )
    for rewrite in tracker.pending():
        rewrite.rows(0.0)
        tracker.mark_imported(rewrite)


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` on a loop of its own, leaving the thread's current loop alone.

    `asyncio.run` unsets it, and Home Assistant 2026.3's test plugin needs one before every
    later test that is not a coroutine.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(work)
    finally:
        loop.close()


def _use_ledger(ledger: CallLedger) -> None:
    ledger.status()
    ledger.refusal("systems")
    _run(_spend(ledger))
    ledger.history  # noqa: B018 - rolls the month over, as a status read does


async def _spend(ledger: CallLedger) -> None:
    if ledger.refusal("systems") is None:
        await ledger.before_request("systems")


def _use_batch(batch: Batch) -> None:
    batch.to_wire()


def _use_cursor(cursor: PushCursor) -> None:
    home = _readings().system(p.SYSTEM)
    cursor.system(p.SYSTEM)
    cursor.new_readings(home, polled_at=LATER)
    cursor.keep_only([p.SYSTEM])


def _use_info(info: SystemInfo) -> None:
    assert info.device_info["name"] == info.name
    info.is_due(LATER)


# --- the parsers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parser:
    """A stored-data parser, a real document it reads, and what runs on its result."""

    name: str
    parse: Callable[[object], Any]
    document: Any
    use: Callable[[Any], None]


def _clock() -> ManualClock:
    return ManualClock(NOON + timedelta(seconds=30))


def _parse_ledger(data: object) -> CallLedger:
    return CallLedger.from_dict(data, PlanLimits.watt(), _clock())


_HOME = _readings().system(p.SYSTEM)
PARSERS = [
    Parser("readings", ReadingsState.from_dict, _readings().to_dict(), _use_readings),
    Parser("system", SystemReadings.from_dict, _HOME.to_dict(), _use_system),
    Parser(
        "counter",
        EnergyCounter.from_dict,
        _HOME.counters[Stream.PRODUCTION].to_dict(),
        _use_counter,
    ),
    Parser(
        "series",
        IntervalSeries.from_dict,
        next(iter(_HOME.counters[Stream.CONSUMPTION].sources.values())).to_dict(),
        _use_series,
    ),
    Parser("tracker", HistoryTracker.from_dict, _tracker().to_dict(), _use_tracker),
    Parser("ledger", _parse_ledger, _ledger(_clock()).to_dict(), _use_ledger),
    Parser("batch", Batch.from_dict, _batch().to_dict(), _use_batch),
    Parser("cursor", PushCursor.from_dict, _cursor().to_dict(), _use_cursor),
    Parser("inventory", SystemInfo.from_dict, _info().to_dict(), _use_info),
]
IDS = [parser.name for parser in PARSERS]


def _json(value: Any) -> Any:
    """What a save and a load make of a document (HA's Store keeps JSON)."""
    return json.loads(json.dumps(value))


def _read_or_refuse(parser: Parser, data: Any) -> None:
    """The rule: a model that round-trips and can be used, or StoredDataError."""
    try:
        model = parser.parse(data)
    except StoredDataError:
        return
    again = parser.parse(_json(model.to_dict()))
    assert _json(again.to_dict()) == _json(model.to_dict())
    parser.use(model)


def test_every_stored_data_parser_is_covered() -> None:
    """Each `from_dict` of stored data is in PARSERS (the Enphase models are tested elsewhere)."""
    covered = {getattr(parser.parse, "__self__", None) for parser in PARSERS}
    covered.add(CallLedger)
    assert covered >= {
        ReadingsState,
        SystemReadings,
        EnergyCounter,
        IntervalSeries,
        HistoryTracker,
        CallLedger,
        Batch,
        PushCursor,
        SystemInfo,
    }


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
def test_what_to_dict_wrote_reads_back_the_same(parser: Parser) -> None:
    document = _json(parser.document)
    model = parser.parse(document)
    assert _json(model.to_dict()) == document
    parser.use(model)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
@settings(max_examples=60)
@given(data=JSON)
def test_arbitrary_json_gives_a_model_or_stored_data_error(parser: Parser, data: Any) -> None:
    _read_or_refuse(parser, data)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
@settings(max_examples=60)
@given(data=st.data())
def test_damaged_documents_give_a_model_or_stored_data_error(
    parser: Parser, data: st.DataObject
) -> None:
    _read_or_refuse(parser, mutate(_json(parser.document), data))


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
def test_a_null_or_a_missing_key_anywhere_gives_a_model_or_stored_data_error(
    parser: Parser,
) -> None:
    for where, document in damaged(_json(parser.document)):
        try:
            _read_or_refuse(parser, document)
        except Exception as err:
            pytest.fail(f"{where}: {err!r}")


class _Unsent:
    """A sender for an outbox that only loads and queues here."""

    async def store(self, batch: Batch) -> StoreResult:
        raise AssertionError(batch)


def _load_outbox(stored: dict[str, Any]) -> None:
    """Load `stored` as the outbox's data, then queue one more batch (which saves everything)."""
    storage = MemoryStorage()
    storage.text = json.dumps(stored)
    outbox = Outbox(_Unsent(), storage, clock=_clock())

    async def run() -> None:
        await outbox.load()
        before = outbox.status
        await outbox.enqueue(_batch())
        assert outbox.status.pending_batches == before.pending_batches + 1
        assert storage.text is not None
        assert Outbox(_Unsent(), storage, clock=_clock()).status.pending_batches == 0

    _run(run())


@settings(max_examples=100)
@given(stored=st.dictionaries(st.sampled_from(["version", "batches", "last_drop", "x"]), JSON))
def test_the_outbox_loads_any_object(stored: dict[str, Any]) -> None:
    """The outbox reads its part of the push store leniently: what it cannot read is dropped
    (and counted, for a repair issue), never raised."""
    _load_outbox(stored)


@settings(max_examples=100)
@given(data=st.data())
def test_the_outbox_loads_any_damaged_snapshot(data: st.DataObject) -> None:
    document = {
        "version": 1,
        "batches": [_batch().to_dict(), _batch().to_dict()],
        "last_ack_at": "2026-06-10T10:00:00Z",
        "dropped_readings": {"rejected": 3},
        "last_drop": {
            "at": "2026-06-10T09:00:00Z",
            "reason": "rejected",
            "batches": 1,
            "readings": 3,
            "detail": "HTTP 422",
        },
    }
    damaged_document = mutate(_json(document), data)
    if isinstance(damaged_document, dict):
        _load_outbox(damaged_document)


def _series_document() -> Any:
    series = IntervalSeries(timedelta(minutes=15))
    series.values = {1_781_000_100: 5.0}
    return _json(series.to_dict())


def _ledger_document() -> Any:
    return _json(_ledger(_clock()).to_dict())


@pytest.mark.parametrize(
    ("document", "parse", "change", "message"),
    [
        (_ledger_document, _parse_ledger, {"month": "2026-13"}, "expected a month as YYYY-MM"),
        (_ledger_document, _parse_ledger, {"month": "2026-1"}, "expected a month as YYYY-MM"),
        (_series_document, IntervalSeries.from_dict, {"length_s": 0}, "not an interval length"),
        (_series_document, IntervalSeries.from_dict, {"wh": []}, "ends and wh differ"),
    ],
    ids=["month_out_of_range", "month_not_zero_padded", "no_length", "ends_without_wh"],
)
def test_values_of_the_right_type_but_wrong_meaning_are_refused(
    document: Callable[[], Any],
    parse: Callable[[object], object],
    change: dict[str, Any],
    message: str,
) -> None:
    """Fuzzing finds these only by luck: well-typed documents that would still mislead."""
    with pytest.raises(StoredDataError, match=message):
        parse(document() | change)
