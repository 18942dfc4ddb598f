"""The fault matrix's machinery: named scenarios, one run of the whole stack, the shared checks.

A `Scenario` names a fault, how it is injected and cleared, and what Home Assistant must show
while it lasts and after it clears. `Run.play` drives one through the real integration, the
simulated Enphase cloud and the simulated LiveOne receiver on one manual clock: set up an entry
that pushes to LiveOne, let the planned polls happen, inject, check, clear, check the recovery,
and end with the checks every scenario shares (`Run.assert_common`):

- the log: no record with a traceback, no ERROR but the ones the scenario names (Home
  Assistant's own, e.g. when reauth starts), no secret;
- the budget: the ledger counted exactly the requests the simulator received, within the plan's
  month, and no calendar minute held more requests than the plan allows;
- LiveOne: everything the simulated cloud published and the integration fetched reached the
  receiver exactly once (unless a scenario allows a resend), equal to the simulator's physical
  truth; only what LiveOne itself refused is missing, and exactly that is counted as dropped.
"""

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.coordinator import LiveOneEnphaseCoordinator
from custom_components.liveone_enphase.liveone import OutboxState, validate_request
from custom_components.liveone_enphase.push import LiveOnePush
from custom_components.liveone_enphase.readings.energy import Stream
from custom_components.liveone_enphase.store import application_key, async_get_budgets
from sim.enphase import EnphaseCloud, Plan
from sim.enphase.ledger import RequestRecord
from sim.enphase.publishing import Outage
from sim.liveone import LiveOneReceiver
from sim.liveone.contract import parse_store
from sim.server import SimServer

from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    TimeMachine,
    assert_issue_translated,
    make_entry,
)
from .test_push import INTERVAL_KEYS, KEY, SITES, TOTAL_KEYS, push_options
from .test_sensor import PREFIX

SUMMER_NOON: Final = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 13:00 in Melbourne
LATEST: Final = "systems/{system_id}/latest_telemetry"
AUTHORIZE: Final = "oauth/authorize"  # the user's browser, not the application: never counted

# Where each interval point comes from: every group must have answered for the point to be
# complete up to that answer (derived grid flows need both the meter and the production).
_PRODUCTION = frozenset(
    {
        "systems/{system_id}/telemetry/production_micro",
        "systems/{system_id}/telemetry/production_meter",
    }
)
_CONSUMPTION = frozenset({"systems/{system_id}/telemetry/consumption_meter"})
_BATTERY = frozenset({"systems/{system_id}/telemetry/battery"})
_SOURCES: Final[Mapping[str, tuple[frozenset[str], ...]]] = {
    INTERVAL_KEYS[Stream.PRODUCTION]: (_PRODUCTION,),
    INTERVAL_KEYS[Stream.CONSUMPTION]: (_CONSUMPTION,),
    INTERVAL_KEYS[Stream.BATTERY_CHARGE]: (_BATTERY,),
    INTERVAL_KEYS[Stream.BATTERY_DISCHARGE]: (_BATTERY,),
    INTERVAL_KEYS[Stream.GRID_IMPORT]: (_CONSUMPTION, _PRODUCTION),
    INTERVAL_KEYS[Stream.GRID_EXPORT]: (_CONSUMPTION, _PRODUCTION),
}
# Each interval point's length and the truth field it measures.
_INTERVAL_TRUTH: Final[Mapping[str, tuple[timedelta, str]]] = {
    INTERVAL_KEYS[Stream.PRODUCTION]: (timedelta(minutes=5), "solar_wh"),
    INTERVAL_KEYS[Stream.CONSUMPTION]: (timedelta(minutes=15), "load_wh"),
    INTERVAL_KEYS[Stream.BATTERY_CHARGE]: (timedelta(minutes=15), "charge_wh"),
    INTERVAL_KEYS[Stream.BATTERY_DISCHARGE]: (timedelta(minutes=15), "discharge_wh"),
    INTERVAL_KEYS[Stream.GRID_IMPORT]: (timedelta(minutes=15), "import_wh"),
    INTERVAL_KEYS[Stream.GRID_EXPORT]: (timedelta(minutes=15), "export_wh"),
}
# Grid flows are derived by netting inside each interval: a lower bound of the truth.
_LOWER_BOUNDS: Final = frozenset(
    {INTERVAL_KEYS[Stream.GRID_IMPORT], INTERVAL_KEYS[Stream.GRID_EXPORT]}
)
# Each power point, the truth field it measures, its sign in LiveOne, and the tolerance (W).
_POWER_TRUTH: Final[Mapping[str, tuple[str, int, float]]] = {
    "solar_w": ("solar_w", 1, 1.0),
    "load_w": ("load_w", 1, 3.0),
    "battery_w": ("battery_w", -1, 3.0),  # LiveOne: positive while charging
    "grid_w": ("grid_w", 1, 3.0),
}
_REPORT: Final = timedelta(minutes=15)  # the demo gateways report every 15 minutes
_PAST_TIMEOUTS: Final = timedelta(seconds=31)  # the clients give up after 30 s
_WH_ROUNDING_W: Final = 12.0  # Enphase's intervals count whole Wh: 1 Wh in 5 min is 12 W
_SETTLED: Final = 200  # loop turns without a new held request before time jumps


class Power(StrEnum):
    """What a system's solar power sensor must show."""

    FRESH = "fresh"
    """A value equal to what Enphase published at the system's last answered live call."""
    KEPT = "kept"
    """The value it showed just before the fault."""
    UNAVAILABLE = "unavailable"
    ANY = "any"


@dataclass(frozen=True, kw_only=True)
class Expect:
    """What Home Assistant shows at one moment of a scenario."""

    power: Power | Mapping[int, Power] = Power.FRESH
    reauth: bool = False
    issues: frozenset[str] = frozenset()
    """The translation keys of the integration's open repair issues (exactly these)."""
    state: ConfigEntryState = ConfigEntryState.LOADED
    outbox: OutboxState = OutboxState.OK
    backlog: bool = False
    """Whether readings wait in the LiveOne outbox."""

    def power_of(self, system_id: int) -> Power:
        """The expectation for one system."""
        return self.power if isinstance(self.power, Power) else self.power[system_id]


type Step = Callable[[Run], Awaitable[None]]
type Check = Callable[[Run], None]


async def clear_all(run: Run) -> None:
    """Turn every fault switch of both simulators off."""
    run.cloud.faults.clear()
    run.receiver.clear_faults()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One named fault: how it starts and ends, and what the user sees meanwhile and after."""

    id: str
    inject: Step
    during: timedelta
    expect_during: Expect
    clear: Step = clear_all
    after: timedelta = timedelta(hours=2)
    expect_after: Expect = Expect()
    systems: tuple[int, ...] = (BATTERY_SITE,)
    starts_at: datetime = SUMMER_NOON
    lead: timedelta = timedelta(minutes=30)
    """Normal polling before the fault."""
    step: timedelta = timedelta(minutes=5)
    """How far the clocks move at a time (timers due inside a step fire at its end)."""
    prepare: Step | None = None
    """Runs before the entry is set up (e.g. to damage what it stored)."""
    check: Check | None = None
    """Assertions of this scenario alone, after the common ones."""
    errors: tuple[str, ...] = ()
    """ERROR records that must be logged (Home Assistant's own), by a part of their message."""
    resends: bool = False
    """LiveOne may receive a reading twice (a resend it stores once)."""
    backfill: timedelta | None = None
    """How far back the integration fetches data that appears late (older data is given up)."""
    hangs: bool = False
    """Requests hang: while one does, the monotonic clock jumps past the clients' timeouts."""


@dataclass
class Run:
    """One scenario played against Home Assistant and both simulators."""

    hass: HomeAssistant
    scenario: Scenario
    cloud: EnphaseCloud
    receiver: LiveOneReceiver
    server: SimServer
    time: TimeMachine
    caplog: pytest.LogCaptureFixture
    login: Callable[..., Awaitable[Any]]
    hass_storage: dict[str, Any]
    monkeypatch: pytest.MonkeyPatch
    entry: MockConfigEntry | None = None
    injected_at: datetime | None = None
    cleared_at: datetime | None = None
    kept: dict[int, str] = field(default_factory=dict)
    counters: dict[int, list[float]] = field(default_factory=dict)
    outages: dict[int, list[Outage]] = field(default_factory=dict)
    ledger_from: int = 0
    """Index into the simulator's requests from which the ledger counts."""

    # --- the parts --------------------------------------------------------------------------

    @property
    def config_entry(self) -> MockConfigEntry:
        """The entry under test."""
        assert self.entry is not None
        return self.entry

    @property
    def coordinator(self) -> LiveOneEnphaseCoordinator:
        """The loaded entry's coordinator."""
        coordinator: LiveOneEnphaseCoordinator = self.config_entry.runtime_data.coordinator
        return coordinator

    @property
    def push(self) -> LiveOnePush:
        """The loaded entry's LiveOne push."""
        push: LiveOnePush | None = self.config_entry.runtime_data.push
        assert push is not None
        return push

    @property
    def app_key(self) -> str:
        """The short name of the application (its ledger's storage key ends with it)."""
        return application_key(self.cloud.client_id)

    @property
    def ledger(self) -> CallLedger:
        """The application's call ledger."""
        return async_get_budgets(self.hass).loaded[self.cloud.client_id].ledger

    def sent(self) -> list[RequestRecord]:
        """Every request the application sent to Enphase (the browser's pages left out)."""
        return [r for r in self.cloud.requests if r.endpoint != AUTHORIZE]

    def api_requests(self) -> list[RequestRecord]:
        """The Monitoring API requests (token requests left out)."""
        return [r for r in self.sent() if not r.endpoint.startswith("oauth/")]

    def in_fault(self, when: datetime) -> bool:
        """Whether `when` lies between the injection and the clearing of the fault."""
        start = self.injected_at
        end = self.cleared_at
        return start is not None and when >= start and (end is None or when <= end)

    def reauth_flows(self) -> list[str]:
        """The reauth flows in progress for the entry."""
        return [
            flow["flow_id"]
            for flow in self.hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"]["source"] == SOURCE_REAUTH
            and flow["context"].get("entry_id") == self.config_entry.entry_id
        ]

    def issues(self) -> dict[str, ir.IssueEntry]:
        """The integration's open repair issues, by translation key."""
        return {
            issue.translation_key or issue_id: issue
            for (domain, issue_id), issue in ir.async_get(self.hass).issues.items()
            if domain == DOMAIN and issue.active
        }

    # --- driving ------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Add the entry (pushing the scenario's systems to LiveOne) and set it up."""
        scenario = self.scenario
        entry = make_entry(
            self.hass, self.cloud, self.server.enphase_url, system_ids=list(scenario.systems)
        )
        sites = {system_id: SITES[system_id] for system_id in scenario.systems}
        options = push_options(self.server.liveone_url, sites=sites)
        self.hass.config_entries.async_update_entry(entry, options=options)
        self.entry = entry
        if scenario.prepare is not None:
            await scenario.prepare(self)
        assert await self.hass.config_entries.async_setup(entry.entry_id)
        await self.hass.async_block_till_done()

    async def advance(self, delta: timedelta) -> None:
        """Let `delta` pass in the scenario's steps."""
        await self.time.advance(delta, step=self.scenario.step)

    async def restart(self) -> None:
        """Restart Home Assistant as far as the entry can tell: unload it, set it up again."""
        assert await self.hass.config_entries.async_reload(self.config_entry.entry_id)
        await self.hass.async_block_till_done()

    async def _time_out_hangs(self) -> None:
        """Let the clients' timeouts fire: Home Assistant's frozen clock never moves by itself.

        The jump waits until the held requests settle, so that a request still on its way to
        the simulator is not timed out before it arrives.
        """
        held, settled = 0, 0
        while True:
            await asyncio.sleep(0)
            hanging = self.cloud.faults.hanging
            settled = settled + 1 if hanging == held else 0
            held = hanging
            if hanging and settled >= _SETTLED:
                self.time.freezer.tick(_PAST_TIMEOUTS)
                settled = 0

    async def play(self) -> None:
        """Set up, poll, inject, check, clear, check the recovery, then the shared checks."""
        scenario = self.scenario
        if scenario.hangs:
            ticker = asyncio.create_task(self._time_out_hangs())
            try:
                await self._play()
            finally:
                ticker.cancel()
        else:
            await self._play()

    async def _play(self) -> None:
        scenario = self.scenario
        await self.setup()
        await self.advance(scenario.lead)
        self.expect(Expect(), "before")
        self.kept = {sid: self.solar_power(sid) for sid in scenario.systems}
        self.injected_at = self.time.now()
        await scenario.inject(self)
        await self.advance(scenario.during)
        self.expect(scenario.expect_during, "during")
        self.outages = {sid: list(outages) for sid, outages in self.cloud.faults.outages.items()}
        self.cleared_at = self.time.now()
        await scenario.clear(self)
        await self.advance(scenario.after)
        self.expect(scenario.expect_after, "after")
        self.assert_common()
        if scenario.check is not None:
            scenario.check(self)

    # --- what the user sees -------------------------------------------------------------------

    def solar_power(self, system_id: int) -> str:
        """The state of a system's solar power sensor."""
        state = self.hass.states.get(f"{PREFIX[system_id]}solar_power")
        assert state is not None, system_id
        return state.state

    def expect(self, expected: Expect, phase: str) -> None:
        """Assert what Home Assistant shows now."""
        entry = self.config_entry
        assert entry.state is expected.state, phase
        assert bool(self.reauth_flows()) is expected.reauth, phase
        issues = self.issues()
        assert set(issues) == expected.issues, (phase, set(issues))
        for issue in issues.values():
            assert_issue_translated(issue)
        if expected.state is not ConfigEntryState.LOADED:
            return
        for system_id in self.scenario.systems:
            self._expect_power(system_id, expected.power_of(system_id), phase)
            self._expect_counter(system_id, phase)
        status = self.push.status
        assert status.state is expected.outbox, phase
        assert (status.pending_batches > 0) is expected.backlog, phase

    def _expect_power(self, system_id: int, expected: Power, phase: str) -> None:
        shown = self.solar_power(system_id)
        match expected:
            case Power.UNAVAILABLE:
                assert shown == STATE_UNAVAILABLE, (phase, system_id)
            case Power.KEPT:
                assert shown == self.kept[system_id], (phase, system_id)
            case Power.FRESH:
                answered = [
                    r
                    for r in self.api_requests()
                    if r.endpoint == LATEST and r.system_id == system_id and r.status == 200
                ]
                assert answered, (phase, system_id)
                if phase == "after" and self.cleared_at is not None:
                    assert answered[-1].time >= self.cleared_at, (phase, system_id)
                until = self.published_until(system_id, answered[-1].time)
                assert until is not None
                truth = self.cloud.truth.power_at(system_id, until)
                assert float(shown) == pytest.approx(truth.solar_w, abs=1), (phase, system_id)

    def _expect_counter(self, system_id: int, phase: str) -> None:
        """The lifetime solar counter is always shown and never goes back."""
        state = self.hass.states.get(f"{PREFIX[system_id]}solar_energy")
        assert state is not None
        assert state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN), (phase, system_id)
        seen = self.counters.setdefault(system_id, [])
        seen.append(float(state.state))
        assert seen == sorted(seen), (phase, system_id)

    def published_until(self, system_id: int, when: datetime) -> datetime | None:
        """The end of the data the cloud showed at `when`, with every outage injected so far."""
        outages = self.outages or self.cloud.faults.outages
        view = self.cloud.systems[system_id].view(when, outages.get(system_id, []))
        return None if view.data_until is None else datetime.fromtimestamp(view.data_until, UTC)

    # --- the shared checks --------------------------------------------------------------------

    def assert_common(self) -> None:
        """The log, the budget and LiveOne, as every scenario must leave them."""
        self.assert_log()
        self.assert_budget()
        self.assert_liveone()

    def assert_log(self) -> None:
        """No traceback, no secret, and no ERROR but those the scenario names."""
        records = self.caplog.records
        for record in records:
            if record.levelname in ("WARNING", "ERROR", "CRITICAL"):
                assert record.exc_info is None, record.getMessage()
                assert "Traceback" not in record.getMessage()
        errors = [r.getMessage() for r in records if r.levelname in ("ERROR", "CRITICAL")]
        for message in errors:
            assert any(part in message for part in self.scenario.errors), message
        for part in self.scenario.errors:
            assert any(part in message for message in errors), part
        text = self.caplog.text
        token = self.config_entry.data["token"]
        secrets = [
            self.cloud.api_key,
            self.cloud.client_secret,
            KEY,
            token["access_token"],
            token["refresh_token"],
        ]
        for secret in secrets:
            assert secret not in text

    def assert_budget(self) -> None:
        """The ledger counted what Enphase received, within the plan, never a minute too many."""
        sent = self.sent()
        ledger = self.ledger
        counted = sent[self.ledger_from :]
        # A lost count restarts at an even pace: those assumed calls were never sent by us.
        assumed = ledger.status().assumed
        assert assumed == 0 or self.ledger_from > 0
        assert ledger.used - assumed == len(counted)
        assert ledger.used <= Plan.WATT.per_month
        assert self.cloud.usage()[1] <= len(sent)
        per_minute = Counter(int(r.time.timestamp()) // 60 for r in sent)
        assert max(per_minute.values(), default=0) <= Plan.WATT.per_minute

    def assert_liveone(self) -> None:
        """LiveOne holds what the cloud published and the integration fetched, once, truthfully."""
        status = self.push.status
        assert status.pending_batches == 0
        assert status.state is OutboxState.OK
        refused = self.refused_readings()
        assert status.dropped_total == len(refused)
        if not self.scenario.resends:
            assert self.receiver.ledger.duplicates == 0
        for record in self.receiver.posts(action="store"):
            if record.status == 200:
                assert validate_request(record.body) == [], record.session_label
        for system_id in self.scenario.systems:
            site = SITES[system_id]
            self._assert_powers(system_id, site)
            self._assert_intervals(system_id, site, refused)
            self._assert_counters(system_id, site)

    def refused_readings(self) -> set[tuple[str, str, datetime]]:
        """The readings LiveOne refused as a batch (dropped by design, with a repair)."""
        refused: set[tuple[str, str, datetime]] = set()
        for record in self.receiver.posts(action="store"):
            if record.status in (400, 413, 422) and isinstance(record.body, dict):
                site = str(record.body["vendorSiteId"])
                refused |= {(site, r.key, r.measured_at) for r in parse_store(record.body).readings}
        return refused

    def _held(self, site: str, key: str) -> dict[datetime, float]:
        return {row.measured_at: float(row.value) for row in self.receiver.ledger.series(site, key)}

    def _answered(self, system_id: int, endpoints: Iterable[str]) -> list[RequestRecord]:
        """The system's requests to these endpoints that were answered outside the fault."""
        wanted = set(endpoints)
        return [
            r
            for r in self.api_requests()
            if r.system_id == system_id
            and r.endpoint in wanted
            and r.status == 200
            and not self.in_fault(r.time)
        ]

    def _assert_powers(self, system_id: int, site: str) -> None:
        """Every live answer's powers arrived; each equals the truth of its report."""
        reports = {
            until + _report_delay(self.cloud, system_id, until)
            for r in self._answered(system_id, [LATEST])
            if (until := self.published_until(system_id, r.time)) is not None
        }
        for key, (field_name, sign, tolerance) in _POWER_TRUTH.items():
            held = self._held(site, key)
            if key == "battery_w" and system_id != BATTERY_SITE:
                assert held == {}
                continue
            assert reports <= set(held), (site, key, sorted(reports - set(held)))
            for measured_at, value in held.items():
                truth = self.cloud.truth.power_at(system_id, _floor(measured_at, _REPORT))
                expected = sign * getattr(truth, field_name)
                average = sign * self._average_w(system_id, key, measured_at)
                assert value == pytest.approx(expected, abs=tolerance) or value == pytest.approx(
                    average, abs=tolerance + _WH_ROUNDING_W
                ), (site, key, measured_at, value, expected, average)

    def _average_w(self, system_id: int, key: str, end: datetime) -> float:
        """The mean power of the interval ending at `end` (a power read from intervals).

        Solar intervals last 5 minutes, the others 15; the flows are netted as Enphase does.
        """
        length = timedelta(minutes=5 if key == "solar_w" else 15)
        energy = self.cloud.truth.energy(system_id, end - length, end)
        per_hour = timedelta(hours=1) / length
        wh = {
            "solar_w": energy.solar_wh,
            "load_w": energy.load_wh,
            "battery_w": energy.discharge_wh - energy.charge_wh,
            "grid_w": energy.import_wh - energy.export_wh,
        }[key]
        return wh * per_hour

    def _assert_intervals(
        self, system_id: int, site: str, refused: set[tuple[str, str, datetime]]
    ) -> None:
        """Each interval equals the truth; none is missing up to what the last answers covered."""
        for key, (length, field_name) in _INTERVAL_TRUTH.items():
            held = self._held(site, key)
            if not held:
                assert system_id != BATTERY_SITE or "battery" not in key or not held
                continue
            for end, value in held.items():
                truth = getattr(self.cloud.truth.energy(system_id, end - length, end), field_name)
                if key in _LOWER_BOUNDS:
                    assert 0 <= value <= truth + 1, (site, key, end)
                else:
                    assert value == pytest.approx(truth, abs=1), (site, key, end)
            covered = self._covered_until(system_id, _SOURCES[key])
            assert covered is not None, (site, key)
            missing = [
                end
                for end in _ends(min(held), covered, length)
                if end not in held
                and (site, key, end) not in refused
                and (field_name != "solar_wh" or self._solar(system_id, end, length) > 0)
                and not self._beyond_backfill(system_id, key, end)
            ]
            assert missing == [], (site, key, len(missing), missing[:2], missing[-2:])

    def _beyond_backfill(self, system_id: int, key: str, end: datetime) -> bool:
        """Whether an interval was already too old to fetch when its data appeared.

        Data that appears late is fetched back to the backfill limit from the first call for
        it (5-minute micro data a day per call, walking on from there).
        """
        limit = self.scenario.backfill
        cleared = self.cleared_at
        if limit is None or cleared is None:
            return False
        endpoints = frozenset().union(*_SOURCES[key])
        first = min(r.time for r in self._answered(system_id, endpoints) if r.time >= cleared)
        return end <= first - limit  # an interval ending where the window starts is before it

    def _solar(self, system_id: int, end: datetime, length: timedelta) -> int:
        return self.cloud.truth.energy(system_id, end - length, end).solar_wh

    def _covered_until(self, system_id: int, groups: Sequence[frozenset[str]]) -> datetime | None:
        """How far the data the integration last fetched for every group reached."""
        ends: list[datetime] = []
        for group in groups:
            answered = self._answered(system_id, group)
            if not answered:
                return None
            until = self.published_until(system_id, answered[-1].time)
            if until is None:
                return None
            ends.append(until)
        return min(ends)

    def _assert_counters(self, system_id: int, site: str) -> None:
        """Counters only rise, end at the integration's totals, and never exceed the truth."""
        readings = self.coordinator.readings.system(system_id)
        truth = self.cloud.truth.lifetime(system_id)
        truth_fields = {
            Stream.PRODUCTION: "solar_wh",
            Stream.CONSUMPTION: "load_wh",
            Stream.BATTERY_CHARGE: "charge_wh",
            Stream.BATTERY_DISCHARGE: "discharge_wh",
            Stream.GRID_IMPORT: "import_wh",
            Stream.GRID_EXPORT: "export_wh",
        }
        for stream, key in TOTAL_KEYS.items():
            series = [row.value for row in self.receiver.ledger.series(site, key)]
            if not series:
                continue
            assert series == sorted(series), (site, key)
            assert series[-1] == round(readings.energy_wh(stream) / 1000, 3), (site, key)
            assert float(series[-1]) <= getattr(truth, truth_fields[stream]) / 1000 + 0.001


def _floor(when: datetime, size: timedelta) -> datetime:
    seconds = int(size.total_seconds())
    return datetime.fromtimestamp(int(when.timestamp()) // seconds * seconds, UTC)


def _ends(first: datetime, last: datetime, length: timedelta) -> list[datetime]:
    """Interval ends from `first` to `last`, both included."""
    ends: list[datetime] = []
    end = first
    while end <= last:
        ends.append(end)
        end += length
    return ends


def _report_delay(cloud: EnphaseCloud, system_id: int, until: datetime) -> timedelta:
    """How long after an interval's end the gateway's report of it arrived."""
    delay = cloud.systems[system_id].publisher.report_delay(int(until.timestamp()))
    return timedelta(seconds=delay)


def issues(*keys: str) -> frozenset[str]:
    """A set of repair issue translation keys."""
    return frozenset(keys)


def matches(pattern: str, texts: Iterable[str]) -> bool:
    """Whether any text matches the regular expression."""
    return any(re.search(pattern, text) for text in texts)


ALL_SYSTEMS: Final = (BATTERY_SITE, SOLAR_SITE)
