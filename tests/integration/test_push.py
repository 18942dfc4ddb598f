"""Pushing to LiveOne from Home Assistant: both simulators over loopback, time moved by hand.

The coordinator polls the simulated Enphase cloud; every reading it produces must reach the
simulated LiveOne receiver exactly once, through outages and restarts, in the contract's shape.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, EntityCategory
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.liveone_enphase import push as push_module
from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.coordinator import LiveOneEnphaseCoordinator
from custom_components.liveone_enphase.liveone import (
    Batch,
    LiveOneBatchRejectedError,
    OutboxLimits,
    OutboxState,
    PowerSample,
    power_readings,
    validate_request,
)
from custom_components.liveone_enphase.push import (
    CONF_API_KEY,
    CONF_PUSH,
    CONF_SITES,
    CONF_URL,
    DEFAULT_URL,
    LiveOnePush,
    PushOptions,
    PushStore,
    SiteRouter,
    storage_key,
)
from custom_components.liveone_enphase.push_readings import PushCursor
from custom_components.liveone_enphase.readings.energy import Stream
from custom_components.liveone_enphase.readings.state import Quantity
from custom_components.liveone_enphase.stored import StoredDataError
from sim.enphase import EnphaseCloud
from sim.liveone import LiveOneReceiver, RequestRecord
from sim.server import SimServer

from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    TimeMachine,
    assert_issue_translated,
    make_entry,
    open_options,
)

pytestmark = pytest.mark.usefixtures("credentials")

FIRST_POLL = timedelta(minutes=10)  # the planner's first poll comes a few minutes after setup

KEY = "lo_test_key_for_both_sites_01"
SITE_A = "melbourne-battery-home"  # LiveOne's site for the battery demo system
SITE_B = "brisbane-solar-home"  # and for the solar-only one
SITES = {BATTERY_SITE: SITE_A, SOLAR_SITE: SITE_B}

# What the readings model calls each flow, as LiveOne's point keys (written out independently).
POWER_KEYS = {
    Quantity.SOLAR: "solar_w",
    Quantity.CONSUMPTION: "load_w",
    Quantity.BATTERY: "battery_w",
    Quantity.GRID: "grid_w",
}
INTERVAL_KEYS = {
    Stream.PRODUCTION: "solar_wh_interval",
    Stream.CONSUMPTION: "load_wh_interval",
    Stream.BATTERY_CHARGE: "battery_in_wh_interval",
    Stream.BATTERY_DISCHARGE: "battery_out_wh_interval",
    Stream.GRID_IMPORT: "grid_in_wh_interval",
    Stream.GRID_EXPORT: "grid_out_wh_interval",
}
TOTAL_KEYS = {
    Stream.PRODUCTION: "solar_kwh_total",
    Stream.CONSUMPTION: "load_kwh_total",
    Stream.BATTERY_CHARGE: "battery_in_kwh_total",
    Stream.BATTERY_DISCHARGE: "battery_out_kwh_total",
    Stream.GRID_IMPORT: "grid_in_kwh_total",
    Stream.GRID_EXPORT: "grid_out_kwh_total",
}


@pytest.fixture
def liveone_sites() -> dict[str, str]:
    return {SITE_A: KEY, SITE_B: KEY}


@dataclass(frozen=True)
class Stack:
    """Home Assistant with both simulators on one manual clock."""

    cloud: EnphaseCloud
    server: SimServer
    receiver: LiveOneReceiver
    time: TimeMachine

    async def setup(
        self, hass: HomeAssistant, options: dict[str, Any] | None = None, **changes: Any
    ) -> MockConfigEntry:
        """Add the simulated account's entry with pushing options, and set it up."""
        entry = make_entry(hass, self.cloud, self.server.enphase_url, **changes)
        chosen = push_options(self.server.liveone_url) if options is None else options
        hass.config_entries.async_update_entry(entry, options=chosen)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        return entry


@pytest.fixture
def stack(
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    receiver: LiveOneReceiver,
    time_machine: TimeMachine,
) -> Stack:
    """Both simulators served, HA's clock frozen to theirs."""
    return Stack(enphase_cloud, sim_server, receiver, time_machine)


def push_options(
    url: str, *, key: str = KEY, sites: dict[int, str] | None = None, enabled: bool = True
) -> dict[str, Any]:
    """Options as the options flow saves them."""
    chosen = SITES if sites is None else sites
    return {
        CONF_PUSH: enabled,
        CONF_URL: url,
        CONF_API_KEY: key,
        CONF_SITES: {str(system_id): site for system_id, site in chosen.items()},
    }


def push_of(entry: MockConfigEntry) -> LiveOnePush:
    push: LiveOnePush | None = entry.runtime_data.push
    assert push is not None
    return push


def coordinator_of(entry: MockConfigEntry) -> LiveOneEnphaseCoordinator:
    coordinator: LiveOneEnphaseCoordinator = entry.runtime_data.coordinator
    return coordinator


def stores(receiver: LiveOneReceiver) -> list[RequestRecord]:
    """The store requests LiveOne received, answered or not."""
    return receiver.posts(action="store")


def liveone_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue_id.startswith("liveone_")
    }


def stored(receiver: LiveOneReceiver, site: str) -> dict[tuple[str, datetime], float | int | str]:
    """What LiveOne holds for a site: (point, time) -> value."""
    return {(row.key, row.measured_at): row.value for row in receiver.ledger.for_site(site)}


class Produced:
    """Every power and state of charge the coordinator showed, as LiveOne should hold them.

    It watches the coordinator of the entry (again after each restart); interval energies and
    counters are read at the end, from the coordinator's final readings.
    """

    def __init__(self, entry: MockConfigEntry) -> None:
        self.entry = entry
        self.readings: dict[int, dict[tuple[str, datetime], float]] = {sid: {} for sid in SITES}
        self.counters: dict[int, dict[str, list[float]]] = {sid: {} for sid in SITES}

    def follow(self) -> None:
        """Watch the entry's current coordinator (call after each setup)."""
        coordinator = coordinator_of(self.entry)
        self.entry.async_on_unload(coordinator.async_add_listener(self.take))
        self.take()

    def take(self) -> None:
        for system_id, readings in coordinator_of(self.entry).readings.systems.items():
            seen = self.readings[system_id]
            for quantity, power in readings.power.items():
                # LiveOne's battery power is positive while charging, HA's while discharging.
                sign = -1 if quantity is Quantity.BATTERY else 1
                seen[POWER_KEYS[quantity], power.measured_at] = sign * power.watts + 0.0
            for epoch, percent in readings.soc_history.items():
                seen["battery_soc", datetime.fromtimestamp(epoch, UTC)] = percent
            if readings.soc is not None:
                seen["battery_soc", readings.soc.measured_at] = readings.soc.percent

    def expected(self, system_id: int) -> dict[tuple[str, datetime], float]:
        """Powers and SoC seen, plus every interval the final readings hold."""
        readings = coordinator_of(self.entry).readings.system(system_id)
        expected = dict(self.readings[system_id])
        for stream, key in INTERVAL_KEYS.items():
            for interval in readings.intervals(stream):
                expected[key, interval.end] = interval.wh
        return expected

    def assert_delivered(self, receiver: LiveOneReceiver) -> None:
        """LiveOne holds exactly what was produced; counters rise to the coordinator's."""
        for system_id, site in SITES.items():
            held = stored(receiver, site)
            counters = {k: v for k, v in held.items() if k[0].endswith("_kwh_total")}
            others = {k: v for k, v in held.items() if k not in counters}
            assert others == self.expected(system_id), site
            readings = coordinator_of(self.entry).readings.system(system_id)
            for stream, key in TOTAL_KEYS.items():
                series = [row.value for row in receiver.ledger.series(site, key)]
                if not series:
                    continue
                assert series == sorted(series), key
                assert series[-1] == round(readings.energy_wh(stream) / 1000, 3), key
            assert {key for key, _ in counters} >= {"solar_kwh_total", "load_kwh_total"}


async def test_a_day_without_liveone_and_three_restarts_lose_nothing(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    stack: Stack,
) -> None:
    entry = await stack.setup(hass)
    produced = Produced(entry)
    produced.follow()
    await stack.time.advance(timedelta(hours=1))
    assert push_of(entry).status.pending_batches == 0
    assert len(stack.receiver.ledger) > 0

    stack.receiver.set_down()
    back_at = stack.time.now() + timedelta(hours=24)
    for _ in range(3):
        await stack.time.advance(timedelta(hours=7))
        pending = push_of(entry).status.pending_readings
        assert pending > 0
        saved = hass_storage[storage_key(entry.entry_id)]["data"]
        assert sum(len(batch["readings"]) for batch in saved["outbox"]["batches"]) == pending
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert push_of(entry).status.pending_readings >= pending
        produced.follow()
    await stack.time.run_until(back_at)
    assert push_of(entry).status.state is OutboxState.BACKOFF
    failed = [record for record in stack.receiver.posts() if record.status is None]
    # Capped backoff: a failed attempt at most every 15 minutes, at least one every 15.
    assert 24 * 4 - 8 <= len(failed) <= 24 * 4 * 2 + 8

    stack.receiver.clear_faults()
    await stack.time.advance(timedelta(minutes=30))

    status = push_of(entry).status
    assert (status.pending_batches, status.dropped_total) == (0, 0)
    assert status.last_ack_at is not None
    assert status.last_ack_at >= back_at
    produced.assert_delivered(stack.receiver)
    assert stack.receiver.ledger.duplicates == 0
    for record in stores(stack.receiver):
        if record.status == 200:
            assert validate_request(record.body) == [], record.session_label
    # The interval energies LiveOne holds add up to what the panels really produced.
    solar = stack.receiver.ledger.series(SITE_A, "solar_wh_interval")
    truth = stack.cloud.truth.energy(
        BATTERY_SITE, solar[0].measured_at - timedelta(minutes=5), solar[-1].measured_at
    )
    assert sum(float(row.value) for row in solar) == pytest.approx(truth.solar_wh, rel=0.01)
    assert not liveone_issues(hass)


async def test_every_batch_follows_the_contract(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    # A site left for a system the entry no longer has is ignored.
    sites = {**SITES, 4_209_999: "gone-site"}
    entry = await stack.setup(hass, push_options(stack.server.liveone_url, sites=sites))
    await stack.time.advance(timedelta(hours=8))

    assert stack.receiver.posts(site_id="gone-site") == []
    bodies = [record.body for record in stores(stack.receiver)]
    assert len(bodies) > 10
    labels = [body["sessionLabel"] for body in bodies]
    assert len(set(labels)) == len(labels)
    for body in bodies:
        assert validate_request(body) == []
        assert body["apiKey"] == "***"  # the receiver's log redacts it: it was sent
        assert body["vendorSiteId"] in (SITE_A, SITE_B)
        for reading in body["readings"]:
            assert reading["measurementTime"].endswith("Z")
            assert (reading.get("transform") == "d") == reading["physicalPathTail"].endswith(
                "_total"
            )
    # Signs: LiveOne's battery power is HA's with the sign flipped (positive while charging).
    readings = coordinator_of(entry).readings.system(BATTERY_SITE)
    battery = readings.power[Quantity.BATTERY]
    held = stack.receiver.ledger.get(SITE_A, "battery_w", battery.measured_at)
    assert held is not None
    assert held.value == -battery.watts + 0.0
    grid = readings.power[Quantity.GRID]
    held = stack.receiver.ledger.get(SITE_A, "grid_w", grid.measured_at)
    assert held is not None
    assert held.value == grid.watts
    assert {row.key for row in stack.receiver.ledger.for_site(SITE_B)}.isdisjoint(
        {"battery_w", "battery_soc", "battery_in_kwh_total"}
    )


async def test_a_wrong_key_raises_one_issue_probes_hourly_and_the_options_fix_drains(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    entry = await stack.setup(hass)
    await stack.time.advance(timedelta(hours=1))
    # The site owner rotates the key on LiveOne's side.
    stack.receiver.sites = {SITE_A: "lo_rotated_key", SITE_B: "lo_rotated_key"}
    sent = len(stores(stack.receiver))

    await stack.time.advance(timedelta(hours=6))

    refused = stores(stack.receiver)[sent:]
    assert refused
    assert {record.status for record in refused} == {401}
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(refused)]
    assert all(gap >= timedelta(hours=1) for gap in gaps)
    assert len(refused) <= 7
    assert push_of(entry).status.state is OutboxState.PAUSED_AUTH
    issues = liveone_issues(hass)
    assert list(issues) == [f"liveone_auth_failed_{entry.entry_id}"]
    issue = issues[f"liveone_auth_failed_{entry.entry_id}"]
    assert_issue_translated(issue)
    # It names the site whose push was refused first (which one depends on the poll order).
    assert refused[0].site_id in {SITE_A, SITE_B}
    assert issue.translation_placeholders == {"name": entry.title, "site_id": refused[0].site_id}
    pending = push_of(entry).status.pending_readings
    assert pending > 0
    # An update of the entry that leaves the options alone (a token refresh) changes nothing.
    hass.config_entries.async_update_entry(entry, title="Renamed")
    await hass.async_block_till_done()
    assert push_of(entry).status.state is OutboxState.PAUSED_AUTH

    flow = await open_options(hass, entry.entry_id, "liveone")
    schema = flow["data_schema"]
    assert schema is not None
    names = [str(key) for key in schema.schema]
    answer = {
        CONF_PUSH: True,
        CONF_URL: stack.server.liveone_url,
        CONF_API_KEY: "lo_rotated_key",
        **{name: site for name in names for sid, site in SITES.items() if str(sid) in name},
    }
    result = await hass.config_entries.options.async_configure(flow["flow_id"], answer)
    assert result["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)

    assert entry.options[CONF_API_KEY] == "lo_rotated_key"
    status = push_of(entry).status
    assert (status.state, status.pending_readings) == (OutboxState.OK, 0)
    assert not liveone_issues(hass)
    assert stack.receiver.ledger.duplicates == 0


async def test_an_unknown_site_pauses_and_a_corrected_site_takes_the_backlog(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    typo = {BATTERY_SITE: "melbourne-batery-home", SOLAR_SITE: SITE_B}
    entry = await stack.setup(hass, push_options(stack.server.liveone_url, sites=typo))
    await stack.time.advance(timedelta(hours=2))

    assert push_of(entry).status.state is OutboxState.PAUSED_UNKNOWN_SITE
    issue = liveone_issues(hass)[f"liveone_unknown_site_{entry.entry_id}"]
    assert_issue_translated(issue)
    assert issue.translation_placeholders == {
        "name": entry.title,
        "site_id": "melbourne-batery-home",
    }
    assert len(liveone_issues(hass)) == 1
    assert stack.receiver.ledger.for_site(SITE_A) == []

    hass.config_entries.async_update_entry(entry, options=push_options(stack.server.liveone_url))
    await hass.async_block_till_done(wait_background_tasks=True)

    assert push_of(entry).status.pending_batches == 0
    assert not liveone_issues(hass)
    assert {row.key for row in stack.receiver.ledger.for_site(SITE_A)} >= {"solar_w", "battery_soc"}


async def test_an_address_that_is_not_liveone_pauses_with_an_issue(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    wrong = push_options(stack.server.enphase_url)  # answers, but not like LiveOne
    entry = await stack.setup(hass, wrong)
    await stack.time.advance(timedelta(minutes=10))

    assert push_of(entry).status.state is OutboxState.PAUSED_INVALID_URL
    issue = liveone_issues(hass)[f"liveone_invalid_url_{entry.entry_id}"]
    assert_issue_translated(issue)
    assert issue.translation_placeholders == {"name": entry.title, "url": stack.server.enphase_url}
    assert stack.receiver.requests == []


async def test_rejected_readings_are_dropped_with_an_issue_until_the_options_are_saved(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    stack.receiver.force_status(422, count=1)
    entry = await stack.setup(hass)
    await stack.time.advance(timedelta(minutes=10))

    first = stores(stack.receiver)[0]
    assert first.status == 422
    status = push_of(entry).status
    assert status.pending_batches == 0
    assert status.dropped_total == first.received
    issue_id = f"liveone_dropped_rejected_{entry.entry_id}"
    issue = liveone_issues(hass)[issue_id]
    assert_issue_translated(issue)
    assert issue.translation_placeholders == {
        "name": entry.title,
        "readings": str(first.received),
    }

    # Saving the options (nothing changed, the key left empty) acknowledges the loss, for good.
    flow = await open_options(hass, entry.entry_id, "liveone")
    schema = flow["data_schema"]
    assert schema is not None
    defaults = {
        key.schema: key.description["suggested_value"]
        for key in schema.schema
        if key.description and "suggested_value" in key.description
    }
    result = await hass.config_entries.options.async_configure(flow["flow_id"], defaults)
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert not liveone_issues(hass)
    assert entry.options[CONF_API_KEY] == KEY
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert not liveone_issues(hass)


async def test_the_outbox_bounds_drop_the_oldest_readings_with_an_issue_each(
    hass: HomeAssistant,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = OutboxLimits(max_age=timedelta(hours=3), max_readings=600)
    monkeypatch.setattr(push_module, "OUTBOX_LIMITS", limits)
    stack.receiver.set_down()
    entry = await stack.setup(
        hass,
        push_options(stack.server.liveone_url, sites={BATTERY_SITE: SITE_A}),
        system_ids=[BATTERY_SITE],
    )
    await stack.time.advance(FIRST_POLL)
    issues = liveone_issues(hass)
    issue = issues[f"liveone_dropped_max_readings_{entry.entry_id}"]
    assert_issue_translated(issue)
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["limit"] == "600"
    assert int(issue.translation_placeholders["readings"]) >= 500
    assert push_of(entry).status.pending_readings <= 600

    await stack.time.advance(timedelta(hours=4))

    issue = liveone_issues(hass)[f"liveone_dropped_max_age_{entry.entry_id}"]
    assert_issue_translated(issue)
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["days"] == "0"


async def test_nothing_is_sent_before_home_assistant_has_started(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    hass.set_state(CoreState.starting)
    entry = await stack.setup(hass)
    await stack.time.advance(FIRST_POLL)
    assert entry.state is ConfigEntryState.LOADED
    assert push_of(entry).status.pending_batches > 0
    assert stack.receiver.requests == []

    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert push_of(entry).status.pending_batches == 0
    assert len(stack.receiver.ledger) > 0


async def test_unloading_stops_pushing_and_setting_up_again_resumes(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    stack.receiver.set_down()
    entry = await stack.setup(hass)
    await stack.time.advance(timedelta(minutes=30))
    pending = push_of(entry).status.pending_readings

    assert await hass.config_entries.async_unload(entry.entry_id)
    stack.receiver.clear_faults()
    tried = len(stack.receiver.requests)
    await stack.time.advance(timedelta(hours=2))
    assert len(stack.receiver.requests) == tried

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert push_of(entry).status.pending_batches == 0
    assert len(stack.receiver.ledger) >= pending


async def test_the_diagnostic_sensors_show_the_backlog_and_the_last_push(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    entry = await stack.setup(hass)
    await stack.time.advance(FIRST_POLL)
    registry = er.async_get(hass)
    pending_id = registry.async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_liveone_pending")
    last_id = registry.async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_liveone_last_push")
    assert pending_id is not None
    assert last_id is not None
    pending_entry = registry.async_get(pending_id)
    assert pending_entry is not None
    assert pending_entry.entity_category is EntityCategory.DIAGNOSTIC
    assert pending_entry.translation_key == "liveone_pending"
    assert pending_entry.device_id is not None
    acked_at = push_of(entry).status.last_ack_at
    assert acked_at is not None
    assert hass.states.get(pending_id).state == "0"  # type: ignore[union-attr]
    last = hass.states.get(last_id)
    assert last is not None
    assert datetime.fromisoformat(last.state) == acked_at
    assert last.attributes["device_class"] == "timestamp"

    stack.receiver.set_down()
    await stack.time.advance(timedelta(hours=1))

    waiting = push_of(entry).status.pending_readings
    assert waiting > 0
    assert hass.states.get(pending_id).state == str(waiting)  # type: ignore[union-attr]
    assert datetime.fromisoformat(hass.states.get(last_id).state) == acked_at  # type: ignore[union-attr]


async def test_pushing_off_makes_no_request_and_turning_it_on_reloads(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    stack: Stack,
) -> None:
    entry = await stack.setup(hass)
    pending_unique_id = f"{entry.entry_id}_liveone_pending"
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, pending_unique_id) is not None

    off = push_options(stack.server.liveone_url, enabled=False)
    hass.config_entries.async_update_entry(entry, options=off)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.push is None
    assert registry.async_get_entity_id("sensor", DOMAIN, pending_unique_id) is None
    asked = len(stack.receiver.requests)
    await stack.time.advance(timedelta(hours=3))
    assert len(stack.receiver.requests) == asked

    hass.config_entries.async_update_entry(entry, options=push_options(stack.server.liveone_url))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert push_of(entry).status.pending_batches == 0
    assert len(stack.receiver.requests) > asked
    assert registry.async_get_entity_id("sensor", DOMAIN, pending_unique_id) is not None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert storage_key(entry.entry_id) not in hass_storage


async def test_a_system_no_longer_pushed_has_its_backlog_dropped_and_said(
    hass: HomeAssistant,
    stack: Stack,
) -> None:
    stack.receiver.set_down()
    entry = await stack.setup(hass)
    await stack.time.advance(FIRST_POLL)
    queued_b = sum(
        len(batch.readings)
        for batch in push_of(entry).outbox.batches
        if batch.site_id == str(SOLAR_SITE)
    )
    stack.receiver.clear_faults()

    only_a = push_options(stack.server.liveone_url, sites={BATTERY_SITE: SITE_A})
    hass.config_entries.async_update_entry(entry, options=only_a)
    await hass.async_block_till_done(wait_background_tasks=True)

    status = push_of(entry).status
    assert status.pending_batches == 0
    assert status.dropped_total == queued_b > 0
    assert stack.receiver.ledger.for_site(SITE_B) == []
    issue = liveone_issues(hass)[f"liveone_dropped_rejected_{entry.entry_id}"]
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["readings"] == str(queued_b)


# --- the pieces, without Home Assistant ---------------------------------------------------------


def test_options_read_only_what_makes_sense_and_hide_the_key() -> None:
    options = PushOptions.from_options(
        {
            CONF_PUSH: True,
            CONF_API_KEY: "secret-key",
            CONF_SITES: {"1": " site ", "x": "other", "2": "", "3": 4},
        }
    )
    assert options == PushOptions(True, DEFAULT_URL, "secret-key", {1: "site"})
    assert "secret-key" not in repr(options)
    assert PushOptions.from_options(options.as_options()) == options
    assert not PushOptions.from_options({CONF_PUSH: "yes", CONF_SITES: {"1": "a"}}).active
    assert not PushOptions.from_options({CONF_PUSH: True, CONF_SITES: []}).active


def test_the_cursor_survives_its_own_format_and_refuses_garbage() -> None:
    at = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    cursor = PushCursor()
    sample = PowerSample(at, solar_w=1000.0, battery_soc_pct=50.0)
    cursor.system(7).advance(power_readings(sample))
    restored = PushCursor.from_dict(cursor.to_dict())
    assert restored.systems == cursor.systems
    assert not restored.system(7).is_new("solar_w", at)
    assert restored.system(7).is_new("solar_w", at + timedelta(seconds=1))
    for garbage in (
        {"7": {"times": {"solar_w": "noon"}, "totals": {}}},
        {"8": None},
        {"x": {"times": {}, "totals": {}}},
        ["not", "a", "mapping"],
    ):
        with pytest.raises(StoredDataError):
            PushCursor.from_dict(garbage)
    cursor.keep_only([8])
    assert cursor.systems == {}


async def test_the_store_reads_back_only_what_it_wrote(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    hass_storage[storage_key("e1")] = {
        "version": 1,
        "key": storage_key("e1"),
        "data": {"outbox": "garbage", "pushed": None, "acknowledged": ["x"]},
    }
    store = PushStore(hass, "e1")
    assert await store.load() is None
    assert store.acknowledged == {}
    assert store.cursor.systems == {}
    assert await PushStore(hass, "e2").load() is None


async def test_the_router_rejects_a_batch_of_a_system_without_a_site(hass: HomeAssistant) -> None:
    at = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    batch = Batch.create("7", power_readings(PowerSample(at, solar_w=1.0)), created_at=at)
    options = PushOptions(True, DEFAULT_URL, KEY, {8: "site"})
    router = SiteRouter(async_get_clientsession(hass), options)
    with pytest.raises(LiveOneBatchRejectedError, match="no longer pushed"):
        await router.store(batch)
    stray = Batch.create("not-a-system", batch.readings, created_at=at)
    with pytest.raises(LiveOneBatchRejectedError, match="no longer pushed"):
        await router.store(stray)
    assert router.failed_site is None
