"""The coordinator spends the Enphase budget as planned: restarts, limits, errors, repairs."""

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_API_KEY, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.liveone_enphase.budget.ledger import CallLedger
from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.const import CONF_SYSTEM_IDS, DOMAIN
from custom_components.liveone_enphase.coordinator import LiveOneEnphaseCoordinator
from custom_components.liveone_enphase.enphase import RequestOutcome, RequestRecord
from custom_components.liveone_enphase.store import (
    application_key,
    async_get_budgets,
    token_outcome,
)
from sim.enphase import EnphaseCloud, Plan
from sim.server import SimServer

from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    CloudSpec,
    TimeMachine,
    assert_issue_translated,
    expire_token,
    make_entry,
    setup_entry,
)

pytestmark = pytest.mark.usefixtures("credentials")

LATEST = "systems/{system_id}/latest_telemetry"


def coordinator_of(entry: MockConfigEntry) -> LiveOneEnphaseCoordinator:
    coordinator: LiveOneEnphaseCoordinator = entry.runtime_data.coordinator
    return coordinator


def api_endpoints(cloud: EnphaseCloud) -> list[str]:
    """The API endpoints the simulator was asked, in order (token requests left out)."""
    return [r.endpoint for r in cloud.requests if not r.endpoint.startswith("oauth/")]


def issue_ids(hass: HomeAssistant) -> set[str]:
    return {issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN}


def month_429(period_end: datetime) -> dict[str, Any]:
    """Enphase's answer once the application's monthly allowance is used up."""
    return {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "month",
        "period_start": int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
        "period_end": int(period_end.timestamp()),
        "limit": 1000,
    }


async def test_a_restart_makes_no_call_the_planner_would_not_have_made(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    await time_machine.advance(timedelta(hours=2))
    planned = coordinator_of(entry).next_poll_at
    assert planned is not None
    seen = len(enphase_cloud.requests)
    used = coordinator_of(entry).budget.ledger.used

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert len(enphase_cloud.requests) == seen
    assert coordinator_of(entry).next_poll_at == planned
    assert coordinator_of(entry).budget.ledger.used == used
    assert f"{DOMAIN}.readings.{entry.entry_id}" in hass_storage
    await time_machine.run_until(planned - timedelta(seconds=5), step=timedelta(minutes=1))
    assert len(enphase_cloud.requests) == seen
    await time_machine.advance(timedelta(minutes=1))
    assert len(enphase_cloud.requests) > seen
    # The restored sensors show the values from before the restart, not "unknown".
    assert hass.states.get("sensor.demo_battery_home_solar_energy").state != "unknown"


async def test_the_ledger_counts_what_enphase_counts(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    # A token request seen before the entry loads (e.g. a config flow's code exchange) counts too.
    async_get_budgets(hass).observe_token_request(enphase_cloud.client_id, 200)
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    assert await hass.config_entries.async_setup(entry.entry_id)

    await time_machine.advance(timedelta(days=1, hours=2), step=timedelta(minutes=15))

    ledger = coordinator_of(entry).budget.ledger
    _, month = enphase_cloud.usage()
    assert ledger.used == month + 1
    assert ledger.by_endpoint["oauth/token"] == len(enphase_cloud.token_requests) + 1 >= 3


async def test_two_systems_never_exceed_the_minute_limit(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url)

    await time_machine.advance(timedelta(days=1), step=timedelta(minutes=1))

    per_minute = Counter(int(r.time.timestamp()) // 60 for r in enphase_cloud.requests)
    assert max(per_minute.values()) <= 10
    assert [r for r in enphase_cloud.requests if r.status == 429] == []
    assert len(enphase_cloud.requests) > 40


async def test_two_entries_of_one_application_share_its_ledger(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    first = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    second = await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[SOLAR_SITE])

    await time_machine.advance(timedelta(hours=6), step=timedelta(minutes=1))

    assert coordinator_of(first).budget is coordinator_of(second).budget
    assert coordinator_of(first).budget.entry_ids == {first.entry_id, second.entry_id}
    per_minute = Counter(int(r.time.timestamp()) // 60 for r in enphase_cloud.requests)
    assert max(per_minute.values()) <= 10
    assert coordinator_of(first).budget.ledger.used == enphase_cloud.usage()[1]

    assert await hass.config_entries.async_unload(first.entry_id)
    assert coordinator_of(second).budget.entry_ids == {second.entry_id}


async def test_a_month_limit_stops_every_call_until_period_end(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    # Two entries on one application: Enphase's limit is the application's, so both stop.
    entry = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    other = await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[SOLAR_SITE])
    await time_machine.advance(timedelta(minutes=30))
    resets = time_machine.now() + timedelta(days=2)
    enphase_cloud.faults.respond(month_429(resets), status=429, count=1)
    key = application_key(enphase_cloud.client_id)

    await time_machine.advance(timedelta(hours=1))
    refused_at = len(enphase_cloud.requests)
    assert enphase_cloud.requests[-1].status == 429
    assert f"budget_exhausted_{key}" in issue_ids(hass)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"budget_exhausted_{key}")
    assert_issue_translated(issue)
    assert issue is not None
    assert issue.translation_placeholders["resumes"] == "2026-01-17"

    await time_machine.run_until(resets - timedelta(minutes=1), step=timedelta(hours=1))
    assert len(enphase_cloud.requests) == refused_at
    # The values last read stay until they are too old, then turn unavailable.
    assert hass.states.get("sensor.demo_battery_home_solar_power").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.demo_battery_home_solar_energy").state != STATE_UNAVAILABLE

    await time_machine.advance(timedelta(minutes=10))
    assert len(enphase_cloud.requests) > refused_at
    assert {r.system_id for r in enphase_cloud.requests[refused_at:]} >= {
        BATTERY_SITE,
        SOLAR_SITE,
    }
    assert f"budget_exhausted_{key}" not in issue_ids(hass)
    assert entry.state is other.state is ConfigEntryState.LOADED


async def test_server_errors_keep_the_values_and_back_off(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    await time_machine.advance(timedelta(minutes=30))
    before = len(enphase_cloud.requests)
    solar = hass.states.get("sensor.demo_battery_home_solar_power").state
    enphase_cloud.faults.server_error(status=503, until=time_machine.now() + timedelta(hours=2))

    await time_machine.advance(timedelta(hours=1), step=timedelta(minutes=1))

    failed = enphase_cloud.requests[before:]
    assert failed
    assert all(r.status == 503 for r in failed)
    assert len(failed) <= 6  # the planned polls, not a retry storm
    assert hass.states.get("sensor.demo_battery_home_solar_power").state == solar
    assert caplog.text.count("Enphase did not answer") == 1

    await time_machine.advance(timedelta(hours=2), step=timedelta(minutes=5))

    assert enphase_cloud.requests[-1].status == 200
    assert caplog.text.count("Enphase answers again") == 1
    assert caplog.text.count("Enphase did not answer") == 1


@pytest.mark.parametrize("how", ["refresh_refused", "token_revoked"])
async def test_an_auth_failure_while_polling_starts_reauth(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    how: str,
) -> None:
    entry = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    await time_machine.advance(timedelta(minutes=10))
    if how == "refresh_refused":
        expire_token(hass, entry)
        enphase_cloud.faults.revoke_all_tokens()
    else:
        enphase_cloud.faults.revoke_token(entry.data["token"]["access_token"])

    await time_machine.advance(timedelta(hours=1))

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    refused = len(enphase_cloud.requests)
    await time_machine.advance(timedelta(hours=2))
    assert len(enphase_cloud.requests) == refused  # no more calls until the user logs in


async def test_budget_issues_appear_and_clear(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    # Someone spent 900 calls in the first fortnight: the month will not last at that pace.
    key = application_key(enphase_cloud.client_id)
    hass_storage[f"{DOMAIN}.ledger.{key}"] = spent_ledger(900, time_machine.now)
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)

    assert f"budget_running_out_{key}" in issue_ids(hass)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"budget_running_out_{key}")
    assert_issue_translated(issue)
    assert issue is not None
    assert issue.translation_placeholders["used"] == str(coordinator_of(entry).budget.ledger.used)

    await time_machine.run_until(datetime(2026, 2, 1, 1, tzinfo=UTC), step=timedelta(hours=6))

    assert f"budget_running_out_{key}" not in issue_ids(hass)
    assert coordinator_of(entry).budget.ledger.history["2026-01"] >= 900


def spent_ledger(calls: int, clock: Callable[[], datetime]) -> dict[str, Any]:
    """A stored ledger that counted `calls` requests spread over the month so far."""
    ledger = CallLedger(PlanLimits.watt(), clock)
    for n in range(calls):
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=20 * n)
        ledger.after_request(RequestRecord(LATEST, at, 200, RequestOutcome.OK))
    return {"version": 1, "minor_version": 1, "key": "ledger", "data": ledger.to_dict()}


async def test_a_budget_used_up_by_the_count_stops_polling(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_unload(entry.entry_id)
    key = application_key(enphase_cloud.client_id)
    hass_storage[f"{DOMAIN}.ledger.{key}"] = spent_ledger(
        PlanLimits.watt().pollable, time_machine.now
    )
    seen = len(enphase_cloud.requests)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await time_machine.advance(timedelta(hours=6))

    assert len(enphase_cloud.requests) == seen
    assert f"budget_exhausted_{key}" in issue_ids(hass)
    next_poll = coordinator_of(entry).next_poll_at
    assert next_poll is not None
    assert next_poll >= time_machine.now() + timedelta(hours=12)
    await time_machine.advance(timedelta(days=2), step=timedelta(hours=3))
    assert len(enphase_cloud.requests) == seen
    assert f"budget_exhausted_{key}" in issue_ids(hass)


async def test_a_new_entry_on_a_spent_budget_says_so(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    key = application_key(enphase_cloud.client_id)
    hass_storage[f"{DOMAIN}.ledger.{key}"] = spent_ledger(
        PlanLimits.watt().pollable, time_machine.now
    )
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert f"budget_exhausted_{key}" in issue_ids(hass)
    assert enphase_cloud.requests == []


@pytest.mark.parametrize(
    "enphase_cloud",
    [CloudSpec(plan=Plan.WATT.without("systems/{system_id}/devices"))],
    indirect=True,
)
async def test_without_the_device_list_the_hardware_comes_from_latest_telemetry(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)

    info = coordinator_of(entry).inventory
    assert info[BATTERY_SITE].has_battery
    assert info[BATTERY_SITE].has_consumption
    assert not info[SOLAR_SITE].has_battery
    assert info[BATTERY_SITE].gateway_model is None
    assert hass.states.get("sensor.demo_battery_home_battery_power") is not None


async def test_the_hardware_is_read_again_after_thirty_days(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[f"{DOMAIN}.readings.{entry.entry_id}"]["data"]
    for item in stored["inventory"]:
        item["fetched_at"] -= timedelta(days=31).total_seconds()
    system = enphase_cloud.systems[BATTERY_SITE]
    system.site = replace(system.site, emu_sw_version="D8.3.5000")  # the gateway was updated
    devices_before = [r for r in enphase_cloud.requests if r.endpoint.endswith("devices")]

    assert await hass.config_entries.async_setup(entry.entry_id)

    devices_after = [r for r in enphase_cloud.requests if r.endpoint.endswith("devices")]
    assert len(devices_after) == len(devices_before) + 2
    # The entry's own devices: the lookup API changed between HA releases, this works on all.
    (device,) = [
        device
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if (DOMAIN, str(BATTERY_SITE)) in device.identifiers
    ]
    assert device.sw_version == "D8.3.5000"


async def test_a_failed_hardware_read_at_first_setup_retries_setup(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    enphase_cloud.faults.server_error(endpoint="systems", count=1)
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "inventory_failed"
    # HA retries setup within seconds; the hardware is read again only after a back-off.
    await time_machine.advance(timedelta(minutes=4), step=timedelta(seconds=10))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert api_endpoints(enphase_cloud) == ["systems"]
    await time_machine.advance(timedelta(minutes=2), step=timedelta(seconds=10))
    assert entry.state is ConfigEntryState.LOADED


async def test_a_revoked_login_found_while_reading_the_hardware_starts_reauth(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    enphase_cloud.faults.revoke_token(entry.data["token"]["access_token"])

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_a_system_gone_from_the_account_keeps_the_others_and_costs_no_more_calls(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enphase_cloud.faults.remove_system(SOLAR_SITE)
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)

    assert set(coordinator_of(entry).inventory) == {BATTERY_SITE}
    assert hass.states.get("sensor.demo_battery_home_solar_power") is not None
    assert hass.states.get("sensor.demo_solar_home_solar_power") is None
    assert "Enphase no longer lists system 4201002 on the account" in caplog.text

    await time_machine.advance(timedelta(hours=12), step=timedelta(minutes=5))

    assert api_endpoints(enphase_cloud).count("systems") == 1


async def test_a_failed_hardware_refresh_keeps_the_old_hardware(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[f"{DOMAIN}.readings.{entry.entry_id}"]["data"]
    for item in stored["inventory"]:
        item["fetched_at"] -= timedelta(days=31).total_seconds()
    enphase_cloud.faults.server_error(endpoint="systems", count=1)

    assert await hass.config_entries.async_setup(entry.entry_id)

    assert set(coordinator_of(entry).inventory) == {BATTERY_SITE, SOLAR_SITE}
    assert api_endpoints(enphase_cloud).count("systems") == 2
    await time_machine.advance(timedelta(minutes=10))
    assert api_endpoints(enphase_cloud).count("systems") == 3


async def test_a_rejected_api_key_asks_for_a_reconfiguration_not_a_login(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url, api_key="a-retired-key")

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "api_key_rejected"
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    issue_id = f"api_key_rejected_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["name"] == entry.title
    # With the application's key, the entry loads and the repair goes.
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_API_KEY: enphase_cloud.api_key}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_a_system_dropped_from_the_entry_loses_its_device_and_issue(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"endpoint_forbidden_{SOLAR_SITE}",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="endpoint_forbidden",
        translation_placeholders={"name": "x", "endpoints": "y"},
    )

    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_SYSTEM_IDS: [BATTERY_SITE]}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert [device.name for device in devices] == ["Demo Battery Home"]
    assert hass.states.get("sensor.demo_solar_home_solar_power") is None
    assert f"endpoint_forbidden_{SOLAR_SITE}" not in issue_ids(hass)


async def test_removing_the_entry_forgets_its_readings_and_issues(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    enphase_cloud.faults.respond(month_429(time_machine.now() + timedelta(days=1)), status=429)
    await time_machine.advance(timedelta(hours=1))
    assert issue_ids(hass)

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert f"{DOMAIN}.readings.{entry.entry_id}" not in hass_storage
    assert issue_ids(hass) == set()


async def test_a_system_gone_from_the_account_while_polling_is_logged(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    enphase_cloud.faults.remove_system(BATTERY_SITE)

    await time_machine.advance(timedelta(hours=1))

    assert "Enphase does not know system 4201001 any more" in caplog.text


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (None, RequestOutcome.TRANSIENT),
        (200, RequestOutcome.OK),
        (400, RequestOutcome.AUTH),
        (404, RequestOutcome.INVALID),
        (429, RequestOutcome.RATE_LIMITED),
        (502, RequestOutcome.TRANSIENT),
    ],
)
def test_token_request_outcomes(status: int | None, outcome: RequestOutcome) -> None:
    assert token_outcome(status) is outcome
