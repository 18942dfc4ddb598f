"""The options flow that sets up pushing to LiveOne, against the simulated receiver."""

from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.liveone_enphase.push import (
    CONF_API_KEY,
    CONF_PUSH,
    CONF_SITES,
    CONF_URL,
    DEFAULT_URL,
)

from . import test_push as push_tests
from .conftest import BATTERY_SITE, SOLAR_SITE, make_entry, open_options, strings
from .test_push import KEY, SITE_A, SITE_B, SITES, Stack, push_of, push_options

pytestmark = pytest.mark.usefixtures("credentials")

# The receiver's sites, as the push tests serve them.
liveone_sites = push_tests.liveone_sites
stack = push_tests.stack

BATTERY_FIELD = f"Demo Battery Home ({BATTERY_SITE})"
SOLAR_FIELD = f"Demo Solar Home ({SOLAR_SITE})"


def fields(result: ConfigFlowResult) -> dict[str, Any]:
    """Each field of the form, with what it suggests (None: nothing)."""
    schema = result["data_schema"]
    assert schema is not None
    return {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}


def answer(stack: Stack, **changes: Any) -> dict[str, Any]:
    """What a user types to push both systems with the right key."""
    return {
        CONF_PUSH: True,
        CONF_URL: stack.server.liveone_url,
        CONF_API_KEY: KEY,
        BATTERY_FIELD: SITE_A,
        SOLAR_FIELD: SITE_B,
    } | changes


def assert_translated(result: ConfigFlowResult) -> None:
    """Every error shown has a message."""
    messages = strings()["options"]["error"]
    for error in (result.get("errors") or {}).values():
        assert error in messages, error


async def test_the_form_names_each_system_and_never_shows_the_key(
    hass: HomeAssistant, stack: Stack
) -> None:
    entry = await stack.setup(hass)

    result = await open_options(hass, entry.entry_id, "liveone")

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "liveone"
    assert fields(result) == {
        CONF_PUSH: True,
        CONF_URL: stack.server.liveone_url,
        CONF_API_KEY: None,
        BATTERY_FIELD: SITE_A,
        SOLAR_FIELD: SITE_B,
    }
    assert KEY not in repr(result)
    assert set(strings()["options"]["step"]["liveone"]["data"]) == {
        CONF_PUSH,
        CONF_URL,
        CONF_API_KEY,
    }


async def test_saving_tests_each_site_and_keeps_the_key_left_empty(
    hass: HomeAssistant, stack: Stack
) -> None:
    entry = await stack.setup(hass)
    flow = await open_options(hass, entry.entry_id, "liveone")
    tested = len(stack.receiver.posts(action="test"))

    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], answer(stack, **{CONF_API_KEY: "", SOLAR_FIELD: " "})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == push_options(stack.server.liveone_url, sites={BATTERY_SITE: SITE_A})
    assert [r.site_id for r in stack.receiver.posts(action="test")[tested:]] == [SITE_A]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert push_of(entry).options.sites == {BATTERY_SITE: SITE_A}


@pytest.mark.parametrize(
    ("fault", "changes", "errors"),
    [
        (None, {BATTERY_FIELD: "", SOLAR_FIELD: ""}, {"base": "no_sites"}),
        (None, {CONF_URL: "ftp://liveone.example"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_API_KEY: "lo_wrong_key"}, {CONF_API_KEY: "invalid_api_key"}),
        (None, {SOLAR_FIELD: "brisbane-solar-hom"}, {SOLAR_FIELD: "unknown_site"}),
        ("down", {}, {"base": "cannot_connect"}),
        ("400", {}, {"base": "unknown"}),
        ("enphase", {}, {CONF_URL: "invalid_url"}),
    ],
)
async def test_each_error_is_shown_on_the_field_to_change(
    hass: HomeAssistant,
    stack: Stack,
    fault: str | None,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    entry = await stack.setup(hass, {})
    typed = answer(stack, **changes)
    match fault:
        case "down":
            stack.receiver.set_down()
        case "400":
            stack.receiver.force_status(400)
        case "enphase":  # an address that answers, but not like LiveOne
            typed[CONF_URL] = stack.server.enphase_url
    flow = await open_options(hass, entry.entry_id, "liveone")

    result = await hass.config_entries.options.async_configure(flow["flow_id"], typed)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert_translated(result)
    shown = fields(result)
    assert shown[CONF_API_KEY] is None
    assert shown[CONF_URL] == typed[CONF_URL]
    assert entry.options == {}


async def test_a_key_is_needed_when_none_is_stored(hass: HomeAssistant, stack: Stack) -> None:
    entry = await stack.setup(hass, {})
    flow = await open_options(hass, entry.entry_id, "liveone")
    # A first setup suggests pushing, to LiveOne's public address.
    assert fields(flow)[CONF_PUSH] is True
    assert fields(flow)[CONF_URL] == DEFAULT_URL

    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], answer(stack, **{CONF_API_KEY: ""})
    )
    assert result["errors"] == {CONF_API_KEY: "api_key_required"}
    assert_translated(result)

    result = await hass.config_entries.options.async_configure(flow["flow_id"], answer(stack))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options[CONF_API_KEY] == KEY
    assert push_of(entry).options.sites == SITES


async def test_turning_pushing_off_asks_liveone_nothing(hass: HomeAssistant, stack: Stack) -> None:
    entry = await stack.setup(hass)
    flow = await open_options(hass, entry.entry_id, "liveone")
    asked = len(stack.receiver.requests)

    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], answer(stack, **{CONF_PUSH: False, CONF_API_KEY: ""})
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options[CONF_PUSH] is False
    assert entry.options[CONF_API_KEY] == KEY  # kept for when it is turned on again
    assert entry.options[CONF_SITES] == {str(BATTERY_SITE): SITE_A, str(SOLAR_SITE): SITE_B}
    assert len(stack.receiver.requests) == asked
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.push is None


async def test_an_entry_not_loaded_names_its_systems_by_id(
    hass: HomeAssistant, stack: Stack
) -> None:
    entry: MockConfigEntry = make_entry(hass, stack.cloud, stack.server.enphase_url)
    flow = await open_options(hass, entry.entry_id, "liveone")
    assert set(fields(flow)) == {CONF_PUSH, CONF_URL, CONF_API_KEY, *map(str, SITES)}

    typed = {CONF_PUSH: True, CONF_URL: stack.server.liveone_url, CONF_API_KEY: KEY}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], typed | {str(SOLAR_SITE): SITE_B}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SITES] == {str(SOLAR_SITE): SITE_B}
