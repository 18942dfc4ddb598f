"""The config flow, end to end through HA's OAuth callback and the simulated Enphase cloud."""

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from homeassistant.components.application_credentials import ClientCredential
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.liveone_enphase import config_flow
from custom_components.liveone_enphase.application_credentials import TOKEN_REQUEST_TIMEOUT
from custom_components.liveone_enphase.cloud import DEV_CLOUD_ENV
from custom_components.liveone_enphase.const import CONF_DEV_CLOUD_URL, CONF_SYSTEM_IDS, DOMAIN
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud

from .conftest import Login, assert_translated, make_entry, remove_credentials, start_user_flow

BATTERY_ID = 4_201_001
SOLAR_ID = 4_201_002


@pytest.fixture(autouse=True)
def _sim(dev_cloud: str, credentials: ClientCredential, current_request_with_host: None) -> None:
    """Every test here talks to the simulator, with the simulated application's credentials."""


def api_calls(cloud: EnphaseCloud) -> list[str]:
    """The Monitoring API endpoints the simulator saw (token and authorize requests left out)."""
    return [r.endpoint for r in cloud.requests if not r.endpoint.startswith("oauth/")]


async def test_one_system_creates_the_entry_without_asking(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    enphase_cloud.faults.remove_system(SOLAR_ID)
    result = await start_user_flow(hass)
    assert result["url"].startswith(f"{dev_cloud}/oauth/authorize?")

    result = await login(result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: f"  {enphase_cloud.api_key} "}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Demo Battery Home"
    entry = result["result"]
    assert entry.unique_id == enphase_cloud.user_id
    assert entry.data[CONF_API_KEY] == enphase_cloud.api_key
    assert entry.data[CONF_SYSTEM_IDS] == [BATTERY_ID]
    assert entry.data[CONF_DEV_CLOUD_URL] == dev_cloud
    assert entry.data["auth_implementation"] == DOMAIN
    assert entry.data["token"]["enl_uid"] == enphase_cloud.user_id
    assert entry.data["token"]["refresh_token"]
    assert entry.state is ConfigEntryState.LOADED
    # The flow's own API call checked the key; setup then read the hardware once.
    calls = api_calls(enphase_cloud)
    assert calls[0] == "systems"
    assert calls[1:3] == ["systems", "systems/{system_id}/devices"]
    # The flow's calls (the code exchange, the key check) are in the application's ledger too.
    _, month = enphase_cloud.usage()
    assert entry.runtime_data.coordinator.budget.ledger.used == month


async def test_several_systems_are_all_offered_and_all_chosen_by_default(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    result = await login(await start_user_flow(hass))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "select_systems"
    schema = result["data_schema"].schema
    (field,) = schema
    assert field.default() == [str(BATTERY_ID), str(SOLAR_ID)]
    options = schema[field].config["options"]
    assert [o["label"] for o in options] == [
        f"Demo Battery Home ({BATTERY_ID})",
        f"Demo Solar Home ({SOLAR_ID})",
    ]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(BATTERY_ID), str(SOLAR_ID)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Demo Battery Home, Demo Solar Home"
    assert result["result"].data[CONF_SYSTEM_IDS] == [BATTERY_ID, SOLAR_ID]


async def test_a_subset_of_systems_can_be_chosen_but_not_none(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    result = await login(await start_user_flow(hass))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: []}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_systems_selected"}
    await assert_translated(hass, result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(SOLAR_ID)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Demo Solar Home"
    assert result["result"].data[CONF_SYSTEM_IDS] == [SOLAR_ID]


async def test_the_client_secret_travels_only_as_http_basic(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    result = await login(await start_user_flow(hass))
    assert result["step_id"] == "api_key"

    (exchange,) = enphase_cloud.token_requests
    assert exchange.grant_type == "authorization_code"
    assert exchange.basic_client_id == enphase_cloud.client_id
    assert exchange.query_fields == ()
    assert set(exchange.body_fields) == {"grant_type", "code", "redirect_uri"}


async def test_denied_login_aborts_with_a_message(hass: HomeAssistant, login: Login) -> None:
    result = await login(await start_user_flow(hass), approve=False)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "user_rejected_authorize"
    assert result["description_placeholders"] == {"error": "access_denied"}
    await assert_translated(hass, result)


def _forged_code(query: dict[str, str]) -> dict[str, str]:
    return {**query, "code": "not-a-code-enphase-issued"}


@pytest.mark.parametrize(
    ("tamper", "minutes_later"),
    [(_forged_code, 0), (None, 6)],
    ids=["invalid-code", "expired-code"],
)
async def test_a_refused_code_aborts_with_invalid_code(
    hass: HomeAssistant,
    login: Login,
    sim_clock: ManualClock,
    tamper: Callable[[dict[str, str]], dict[str, str]] | None,
    minutes_later: int,
) -> None:
    result = await login(
        await start_user_flow(hass),
        tamper=tamper,
        before_exchange=lambda: sim_clock.advance(timedelta(minutes=minutes_later)),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_code"
    await assert_translated(hass, result)
    # The user can simply start again.
    assert (await start_user_flow(hass))["type"] is FlowResultType.EXTERNAL_STEP


async def test_a_wrong_client_secret_aborts_with_invalid_client(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    enphase_cloud.application.client_secret = "not-the-secret"
    result = await login(await start_user_flow(hass))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_client"
    await assert_translated(hass, result)


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda cloud: cloud.faults.server_error(endpoint="oauth/token"), "oauth_failed"),
        (
            lambda cloud: cloud.faults.html_error(status=502, endpoint="oauth/token"),
            "oauth_failed",
        ),
        (
            lambda cloud: cloud.faults.respond(
                {"access_token": "x", "refresh_token": "y", "enl_uid": "1"},
                endpoint="oauth/token",
            ),
            "oauth_error",
        ),
        (
            lambda cloud: cloud.faults.respond(["not", "an", "object"], endpoint="oauth/token"),
            "oauth_failed",
        ),
        (
            lambda cloud: cloud.faults.respond(
                {"access_token": "x", "refresh_token": "y", "expires_in": 86399},
                endpoint="oauth/token",
            ),
            "unexpected_response",
        ),
    ],
    ids=["server-error", "html-error", "no-expiry", "not-an-object", "no-account-id"],
)
async def test_token_endpoint_failures_abort_with_a_message(
    hass: HomeAssistant,
    login: Login,
    enphase_cloud: EnphaseCloud,
    arrange: Callable[[EnphaseCloud], object],
    reason: str,
) -> None:
    arrange(enphase_cloud)
    result = await login(await start_user_flow(hass))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    await assert_translated(hass, result)


async def test_a_token_endpoint_that_does_not_answer_times_out(
    hass: HomeAssistant,
    login: Login,
    enphase_cloud: EnphaseCloud,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "custom_components.liveone_enphase.application_credentials.TOKEN_REQUEST_TIMEOUT",
        TOKEN_REQUEST_TIMEOUT.__class__(total=0.05),
    )
    enphase_cloud.faults.hang(endpoint="oauth/token")
    result = await login(await start_user_flow(hass))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "oauth_timeout"
    await assert_translated(hass, result)


async def test_missing_credentials_abort(hass: HomeAssistant) -> None:
    await remove_credentials(hass)
    result = await start_user_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"
    await assert_translated(hass, result)


@pytest.mark.parametrize(
    ("arrange", "error"),
    [
        (lambda cloud: None, "invalid_api_key"),
        (lambda cloud: cloud.faults.forbid("systems"), "forbidden"),
        (lambda cloud: cloud.faults.server_error(endpoint="systems"), "cannot_connect"),
        (lambda cloud: cloud.faults.malformed_json(endpoint="systems"), "unexpected_response"),
        (
            lambda cloud: cloud.faults.respond(
                {
                    "message": "Too Many Requests",
                    "details": "Usage limit exceeded for plan Watt",
                    "code": 429,
                    "period": "minute",
                    "period_start": 1623825660,
                    "period_end": 1623825720,
                    "limit": 10,
                },
                status=429,
                endpoint="systems",
            ),
            "rate_limited",
        ),
        (lambda cloud: cloud.faults.server_error(status=404, endpoint="systems"), "unknown"),
        (lambda cloud: cloud.faults.revoke_all_tokens(), "login_rejected"),
    ],
    ids=[
        "invalid-key",
        "forbidden",
        "server-error",
        "malformed",
        "rate-limited",
        "not-found",
        "token-revoked",
    ],
)
async def test_api_key_errors_keep_the_form_open_for_a_retry(
    hass: HomeAssistant,
    login: Login,
    enphase_cloud: EnphaseCloud,
    arrange: Callable[[EnphaseCloud], object],
    error: str,
) -> None:
    result = await login(await start_user_flow(hass))
    arrange(enphase_cloud)
    key = "not-a-key" if error == "invalid_api_key" else enphase_cloud.api_key
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_API_KEY: key})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["errors"] == {"base": error}
    await assert_translated(hass, result)

    if error == "login_rejected":
        return  # only a new login helps
    enphase_cloud.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["step_id"] == "select_systems"


async def test_an_api_key_of_another_application_is_a_mismatch(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    other = enphase_cloud.add_application("Someone else's app")
    result = await login(await start_user_flow(hass))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: other.api_key}
    )
    assert result["errors"] == {"base": "api_key_mismatch"}
    await assert_translated(hass, result)


async def test_no_systems_on_the_account(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud
) -> None:
    for system_id in enphase_cloud.system_ids:
        enphase_cloud.faults.remove_system(system_id)
    result = await login(await start_user_flow(hass))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["errors"] == {"base": "no_systems"}
    await assert_translated(hass, result)


async def test_listing_the_systems_times_out(
    hass: HomeAssistant,
    login: Login,
    enphase_cloud: EnphaseCloud,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config_flow, "VALIDATION_TIMEOUT_S", 0.05)
    result = await login(await start_user_flow(hass))
    enphase_cloud.faults.hang(endpoint="systems")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["errors"] == {"base": "timeout"}
    await assert_translated(hass, result)


async def test_the_same_account_cannot_be_added_twice(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    make_entry(hass, enphase_cloud, dev_cloud)
    result = await login(await start_user_flow(hass))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await assert_translated(hass, result)
    assert api_calls(enphase_cloud) == []


async def test_a_bad_dev_cloud_value_is_ignored_and_enphase_is_used(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(DEV_CLOUD_ENV, "http://203.0.113.7:8080")
    with caplog.at_level(logging.WARNING):
        result = await start_user_flow(hass)
    assert result["url"].startswith("https://api.enphaseenergy.com/oauth/authorize?")
    assert f"Ignoring {DEV_CLOUD_ENV}" in caplog.text


# --- reauth -------------------------------------------------------------------------------


async def test_reauth_with_the_same_account_updates_the_tokens_and_reloads(
    hass: HomeAssistant,
    login: Login,
    enphase_cloud: EnphaseCloud,
    dev_cloud: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud)
    assert await hass.config_entries.async_setup(entry.entry_id)
    before = api_calls(enphase_cloud)
    old_token = entry.data["token"]
    # The entry keeps the cloud it was created with, whatever the environment says now.
    monkeypatch.delenv(DEV_CLOUD_ENV)

    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {"name": entry.title}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["url"].startswith(f"{dev_cloud}/oauth/authorize?")
    result = await login(result)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await assert_translated(hass, result)
    await hass.async_block_till_done()
    assert entry.data["token"]["refresh_token"] != old_token["refresh_token"]
    assert entry.data[CONF_API_KEY] == enphase_cloud.api_key
    assert entry.state is ConfigEntryState.LOADED
    # The reload restored what it knew: no API call.
    assert api_calls(enphase_cloud) == before


async def test_reauth_with_another_account_is_refused(
    hass: HomeAssistant, login: Login, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud)
    hass.config_entries.async_update_entry(entry, unique_id="someone-else")
    old_token = entry.data["token"]

    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await login(result)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_mismatch"
    await assert_translated(hass, result)
    assert entry.data["token"] == old_token


# --- reconfigure --------------------------------------------------------------------------


async def test_reconfigure_validates_and_updates_the_entry(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(
        hass, enphase_cloud, dev_cloud, api_key="a-retired-key", system_ids=[BATTERY_ID]
    )
    # Enphase refuses the retired key, so the entry fails to set up and asks for a reconfigure.
    assert not await hass.config_entries.async_setup(entry.entry_id)

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_api_key"}
    await assert_translated(hass, result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["step_id"] == "select_systems"
    (field,) = result["data_schema"].schema
    assert field.default() == [str(BATTERY_ID)]  # the current choice
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(BATTERY_ID), str(SOLAR_ID)]}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await assert_translated(hass, result)
    await hass.async_block_till_done()
    assert entry.data[CONF_API_KEY] == enphase_cloud.api_key
    assert entry.data[CONF_SYSTEM_IDS] == [BATTERY_ID, SOLAR_ID]
    assert entry.title == "Demo Battery Home, Demo Solar Home"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.system_ids == (BATTERY_ID, SOLAR_ID)


async def test_reconfigure_with_an_empty_key_keeps_the_current_one(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    enphase_cloud.faults.remove_system(SOLAR_ID)
    entry = make_entry(hass, enphase_cloud, dev_cloud, system_ids=[BATTERY_ID, SOLAR_ID])

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    # One system left: nothing to choose.
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_KEY] == enphase_cloud.api_key
    assert entry.data[CONF_SYSTEM_IDS] == [BATTERY_ID]
    assert entry.title == "Demo Battery Home"


async def test_reconfigure_defaults_to_all_when_the_chosen_systems_are_gone(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud, system_ids=[999])
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    (field,) = result["data_schema"].schema
    assert field.default() == [str(BATTERY_ID), str(SOLAR_ID)]


async def test_reconfigure_refreshes_the_login_and_says_when_it_is_dead(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud)
    enphase_cloud.faults.revoke_all_tokens()
    token = {**entry.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "login_rejected"}
    await assert_translated(hass, result)


async def test_reconfigure_counts_its_call_and_is_refused_while_enphase_would_refuse(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud, system_ids=[BATTERY_ID])
    assert await hass.config_entries.async_setup(entry.entry_id)
    ledger = entry.runtime_data.coordinator.budget.ledger
    used, sent = ledger.used, len(enphase_cloud.requests)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_api_key"}
    assert ledger.used == used + 1  # a refused call counts as Enphase counts it
    assert len(enphase_cloud.requests) == sent + 1

    ledger.note_rate_limit("month", None)  # Enphase said the month is used up
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: enphase_cloud.api_key}
    )
    assert result["errors"] == {"base": "rate_limited"}
    await assert_translated(hass, result)
    assert len(enphase_cloud.requests) == sent + 1  # nothing sent


async def test_reconfigure_without_credentials_aborts(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, dev_cloud: str
) -> None:
    entry = make_entry(hass, enphase_cloud, dev_cloud, auth_implementation="gone")
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"
    await assert_translated(hass, result)
