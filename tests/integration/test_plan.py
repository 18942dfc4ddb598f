"""The Enphase API plan option: the form, and a changed plan applied to the live budget at once."""

from datetime import timedelta
from typing import Any

import pytest
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.liveone_enphase.budget.limits import PlanLimits
from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.coordinator import LiveOneEnphaseCoordinator
from custom_components.liveone_enphase.diagnostics import async_get_config_entry_diagnostics
from custom_components.liveone_enphase.enphase import RequestOutcome, RequestRecord
from custom_components.liveone_enphase.plan import (
    CONF_PER_MINUTE,
    CONF_PER_MONTH,
    CONF_PLAN,
    CONF_RESERVE,
    PlanKind,
    PlanOptions,
)
from custom_components.liveone_enphase.push import CONF_PUSH, CONF_SITES, CONF_URL, DEFAULT_URL
from sim.enphase import EnphaseCloud
from sim.server import SimServer

from . import test_sensor as sensor_tests
from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    TimeMachine,
    make_entry,
    open_options,
    setup_entry,
    strings,
)

pytestmark = pytest.mark.usefixtures("credentials")

# Budget sensors are disabled by default; enabled here to read them.
all_entities_enabled = sensor_tests.all_entities_enabled

LIVEONE_OFF = {CONF_PUSH: False, CONF_URL: DEFAULT_URL, "liveone_api_key": "", CONF_SITES: {}}
LATEST = "systems/{system_id}/latest_telemetry"
CALLS_LEFT = "sensor.demo_battery_home_api_calls_left_this_month"


def coordinator_of(entry: MockConfigEntry) -> LiveOneEnphaseCoordinator:
    coordinator: LiveOneEnphaseCoordinator = entry.runtime_data.coordinator
    return coordinator


def suggested(result: ConfigFlowResult) -> dict[str, Any]:
    """Each field of the form and the value it starts with."""
    schema = result["data_schema"]
    assert schema is not None
    return {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}


async def choose(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, reserve: float = 5, **limits: float
) -> ConfigFlowResult:
    """Pick a plan (and, for Kilowatt or custom, enter `limits` if any are given)."""
    form = await open_options(hass, entry.entry_id, "plan")
    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_PLAN: kind, CONF_RESERVE: reserve}
    )
    if limits:
        assert result["step_id"] == "plan_limits"
        result = await hass.config_entries.options.async_configure(result["flow_id"], limits)
    await hass.async_block_till_done()
    return result


def spend(coordinator: LiveOneEnphaseCoordinator, calls: int) -> None:
    """Book calls another program made with the same application."""
    ledger = coordinator.budget.ledger
    for _ in range(calls):
        ledger.after_request(RequestRecord(LATEST, ledger.status().now, 200, RequestOutcome.OK))


async def test_watt_saves_at_once_and_keeps_the_liveone_options(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    hass.config_entries.async_update_entry(entry, options=LIVEONE_OFF)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    form = await open_options(hass, entry.entry_id, "plan")
    assert form["step_id"] == "plan"
    assert suggested(form) == {CONF_PLAN: "watt", CONF_RESERVE: 5}
    assert set(strings()["selector"][CONF_PLAN]["options"]) == set(PlanKind)
    assert set(strings()["options"]["step"]["plan"]["data"]) == {CONF_PLAN, CONF_RESERVE}

    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_PLAN: "watt", CONF_RESERVE: 10}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == LIVEONE_OFF | {
        CONF_PLAN: "watt",
        CONF_PER_MONTH: 1000,
        CONF_PER_MINUTE: 10,
        CONF_RESERVE: 10,
    }
    await hass.async_block_till_done()
    limits = coordinator_of(entry).budget.ledger.limits
    assert (limits.name, limits.pollable) == ("Watt", 900)
    # Saving the LiveOne form later keeps the plan.
    liveone = await open_options(hass, entry.entry_id, "liveone")
    typed = {CONF_PUSH: False, CONF_URL: DEFAULT_URL}
    await hass.config_entries.options.async_configure(liveone["flow_id"], typed)
    assert entry.options[CONF_RESERVE] == 10
    assert coordinator_of(entry).budget.ledger.limits.pollable == 900


@pytest.mark.usefixtures("all_entities_enabled")
async def test_a_bigger_plan_applies_at_once_and_keeps_the_count(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    coordinator = coordinator_of(entry)
    await time_machine.advance(timedelta(minutes=10))
    spend(coordinator, 950 - coordinator.budget.ledger.used)
    await time_machine.advance(timedelta(hours=1))
    exhausted = f"budget_exhausted_{coordinator.budget.key}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, exhausted) is not None
    assert hass.states.get(CALLS_LEFT).state == "50"
    asked = len(enphase_cloud.requests)

    form = await open_options(hass, entry.entry_id, "plan")
    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_PLAN: "kilowatt", CONF_RESERVE: 5}
    )
    # Kilowatt's figures vary: its limits start from the lowest seen.
    assert result["step_id"] == "plan_limits"
    assert suggested(result) == {CONF_PER_MONTH: 10_000, CONF_PER_MINUTE: 10}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PER_MONTH: 10_000, CONF_PER_MINUTE: 10}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    ledger = coordinator.budget.ledger
    assert ledger.limits == PlanLimits.kilowatt()
    # The overdue poll is made at once, counted on top of the month's count so far.
    assert len(enphase_cloud.requests) > asked
    assert ledger.used == 950 + len(enphase_cloud.requests) - asked
    assert ir.async_get(hass).async_get_issue(DOMAIN, exhausted) is None
    assert hass.states.get(CALLS_LEFT).state == str(10_000 - ledger.used)
    # Back to Watt: the same count is now over the pollable part of the month.
    await choose(hass, entry, "watt")
    assert ir.async_get(hass).async_get_issue(DOMAIN, exhausted) is not None
    assert hass.states.get(CALLS_LEFT).state == str(1_000 - ledger.used)


@pytest.mark.parametrize(
    ("limits", "errors"),
    [
        ({CONF_PER_MONTH: 0, CONF_PER_MINUTE: 10}, {CONF_PER_MONTH: "limit_invalid"}),
        ({CONF_PER_MONTH: 500, CONF_PER_MINUTE: 2.5}, {CONF_PER_MINUTE: "limit_invalid"}),
        (
            {CONF_PER_MONTH: -3, CONF_PER_MINUTE: 0},
            dict.fromkeys((CONF_PER_MONTH, CONF_PER_MINUTE), "limit_invalid"),
        ),
        ({CONF_PER_MONTH: 5, CONF_PER_MINUTE: 10}, {CONF_PER_MINUTE: "per_minute_above_per_month"}),
    ],
)
@pytest.mark.usefixtures("time_machine")
async def test_custom_limits_are_checked(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    limits: dict[str, float],
    errors: dict[str, str],
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    form = await choose(hass, entry, "custom", reserve=20)
    # A custom plan starts from the limits in force.
    assert suggested(form) == {CONF_PER_MONTH: 1000, CONF_PER_MINUTE: 10}

    result = await hass.config_entries.options.async_configure(form["flow_id"], limits)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    messages = strings()["options"]["error"]
    assert all(error in messages for error in errors.values())
    assert suggested(result) == limits  # what was typed stays, to be corrected
    assert entry.options == {}
    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_PER_MONTH: 3_000, CONF_PER_MINUTE: 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert coordinator_of(entry).budget.ledger.limits == PlanLimits("Custom", 3_000, 5, 0.2)
    # The next visit starts from the entry's own figures.
    again = await choose(hass, entry, "custom")
    assert suggested(again) == {CONF_PER_MONTH: 3_000, CONF_PER_MINUTE: 5}


async def test_entries_of_one_application_follow_the_strictest_plan(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    first = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    second = await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[SOLAR_SITE])
    await choose(hass, first, "custom", reserve=10, **{CONF_PER_MONTH: 20_000, CONF_PER_MINUTE: 30})
    await choose(hass, second, "kilowatt", **{CONF_PER_MONTH: 10_000, CONF_PER_MINUTE: 50})
    ledger = coordinator_of(first).budget.ledger
    used = ledger.used

    assert ledger.limits == PlanLimits("Kilowatt", 10_000, 30, 0.1)
    diagnostics = await async_get_config_entry_diagnostics(hass, first)
    assert diagnostics["budget"]["plan"] == {
        "name": "Kilowatt",
        "per_month": 10_000,
        "per_minute": 30,
        "reserve_percent": 10.0,
    }
    assert diagnostics["budget"]["entry_plan"]["name"] == "Custom"

    assert await hass.config_entries.async_unload(second.entry_id)
    assert ledger.limits == PlanLimits("Custom", 20_000, 30, 0.1)
    assert ledger.used == used
    # Loading again brings its plan back into the mix, from its option.
    assert await hass.config_entries.async_setup(second.entry_id)
    assert ledger.limits == PlanLimits("Kilowatt", 10_000, 30, 0.1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, PlanOptions()),
        ({CONF_PLAN: "megawatt"}, PlanOptions()),
        ({CONF_PLAN: "custom", CONF_RESERVE: 5}, PlanOptions()),
        ({CONF_PLAN: "custom", CONF_PER_MONTH: 10, CONF_PER_MINUTE: 0}, PlanOptions()),
        ({CONF_PLAN: "watt", CONF_RESERVE: 51}, PlanOptions()),
        ({CONF_PLAN: "watt", CONF_RESERVE: None}, PlanOptions()),
        (
            {CONF_PLAN: "watt", CONF_PER_MONTH: 99, CONF_PER_MINUTE: 99, CONF_RESERVE: 0},
            PlanOptions(reserve_pct=0),
        ),
        (
            {CONF_PLAN: "kilowatt", CONF_PER_MONTH: 50_000, CONF_PER_MINUTE: 20},
            PlanOptions(PlanKind.KILOWATT, 50_000, 20, 5),
        ),
    ],
)
def test_stored_options_are_read_safely(options: dict[str, Any], expected: PlanOptions) -> None:
    plan = PlanOptions.from_options(options)
    assert plan == expected
    assert PlanOptions.from_options(plan.as_options()) == plan
