"""Entry setup and unload, token refresh and storage, against the simulated Enphase cloud."""

import asyncio

import pytest
from aiohttp import ClientTimeout
from homeassistant import loader
from homeassistant.components.application_credentials import ClientCredential
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntries, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_test_home_assistant

from custom_components.liveone_enphase import LiveOneEnphaseData
from custom_components.liveone_enphase.auth import async_entry_token_provider
from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.enphase import EnphaseAuthError, EnphaseClient
from sim.enphase import EnphaseCloud
from sim.server import SimServer

from .conftest import TimeMachine, expire_token, make_entry, strings

pytestmark = pytest.mark.usefixtures("credentials")


def api_calls(cloud: EnphaseCloud) -> list[str]:
    """The Monitoring API endpoints the simulator saw (token requests left out)."""
    return [r.endpoint for r in cloud.requests if not r.endpoint.startswith("oauth/")]


def reauth_flows(hass: HomeAssistant) -> list[str]:
    """The entry ids of the reauth flows in progress."""
    return [
        flow["context"]["entry_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def assert_refreshed_with_basic_auth(cloud: EnphaseCloud) -> None:
    """The last token request was a refresh that carried the client only as HTTP Basic."""
    refresh = cloud.token_requests[-1]
    assert refresh.grant_type == "refresh_token"
    assert refresh.basic_client_id == cloud.client_id
    assert refresh.query_fields == ()
    assert set(refresh.body_fields) == {"grant_type", "refresh_token"}


async def test_setup_calls_only_what_the_inventory_and_the_planner_need(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.LOADED
    data = entry.runtime_data
    assert isinstance(data, LiveOneEnphaseData)
    assert isinstance(data.client, EnphaseClient)
    assert data.system_ids == tuple(enphase_cloud.system_ids)
    assert enphase_cloud.token_requests == []  # the token was valid: not even a refresh
    # The hardware is read once (one list, one device list per system), then the planner's
    # first poll: nothing else, and never more than the minute allows.
    calls = api_calls(enphase_cloud)
    assert calls[:3] == ["systems", *["systems/{system_id}/devices"] * 2]
    assert len(calls) <= 10
    report = data.coordinator.last_report
    assert len(calls) == 3 + (0 if report is None else report.sent)

    # The client is wired to the entry's cloud, key and token, and counts against the budget.
    used = data.coordinator.budget.ledger.used
    systems = await data.client.systems()
    assert [s.system_id for s in systems] == enphase_cloud.system_ids
    assert data.coordinator.budget.ledger.used == used + 1

    # A restart makes no call: everything was saved.
    before = len(enphase_cloud.requests)
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert len(enphase_cloud.requests) == before

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_refreshes_an_expired_token_with_basic_auth(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    old = entry.data["token"]

    assert await hass.config_entries.async_setup(entry.entry_id)

    (refresh,) = enphase_cloud.token_requests
    assert refresh.grant_type == "refresh_token"
    assert refresh.basic_client_id == enphase_cloud.client_id
    assert refresh.query_fields == ()
    assert set(refresh.body_fields) == {"grant_type", "refresh_token"}
    new = entry.data["token"]
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert enphase_cloud.requests[0].endpoint == "oauth/token"  # before any API call
    assert entry.runtime_data.coordinator.budget.ledger.by_endpoint["oauth/token"] == 1


async def test_a_refused_refresh_starts_reauth(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, sim_server: SimServer
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    enphase_cloud.faults.revoke_all_tokens()

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "login_expired"
    assert entry.reason == strings()["exceptions"]["login_expired"]["message"]
    assert reauth_flows(hass) == [entry.entry_id]


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_a_failing_token_endpoint_retries_setup_without_reauth(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, sim_server: SimServer, status: int
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    enphase_cloud.faults.server_error(status=status, endpoint="oauth/token")

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "token_refresh_failed"
    assert entry.reason == strings()["exceptions"]["token_refresh_failed"]["message"]
    assert reauth_flows(hass) == []


async def test_a_token_endpoint_that_does_not_answer_retries_setup(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "custom_components.liveone_enphase.application_credentials.TOKEN_REQUEST_TIMEOUT",
        ClientTimeout(total=0.05),
    )
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    enphase_cloud.faults.hang(endpoint="oauth/token")

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert reauth_flows(hass) == []


async def test_an_unreachable_cloud_retries_setup(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, sim_server: SimServer
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    expire_token(hass, entry)
    await sim_server.stop()

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.error_reason_translation_key == "token_refresh_failed"


async def test_removed_credentials_ask_for_reauth(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, sim_server: SimServer
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url, auth_implementation="gone")

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "credentials_missing"
    assert entry.reason == strings()["exceptions"]["credentials_missing"]["message"]
    assert reauth_flows(hass) == [entry.entry_id]


async def test_a_refresh_refused_while_polling_surfaces_as_an_auth_error_and_reauth(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    expire_token(hass, entry)
    enphase_cloud.faults.revoke_all_tokens()
    before = api_calls(enphase_cloud)

    with pytest.raises(EnphaseAuthError) as caught:
        await entry.runtime_data.client.systems()

    assert caught.value.refresh_failed
    await hass.async_block_till_done()
    assert reauth_flows(hass) == [entry.entry_id]
    assert api_calls(enphase_cloud) == before


async def test_concurrent_refreshes_of_one_entry_use_the_refresh_token_once(
    hass: HomeAssistant, enphase_cloud: EnphaseCloud, sim_server: SimServer
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    expire_token(hass, entry)
    # The loaded entry's provider, and a second one built as a reconfigure flow builds it (its
    # own OAuth2 session, so HA's per-session lock alone would not keep them apart).
    providers = [
        entry.runtime_data.token_provider,
        entry.runtime_data.token_provider,
        await async_entry_token_provider(hass, entry),
        await async_entry_token_provider(hass, entry),
    ]

    tokens = await asyncio.gather(*(provide() for provide in providers))

    assert len(set(tokens)) == 1
    assert tokens[0] == entry.data["token"]["access_token"]
    (refresh,) = [r for r in enphase_cloud.token_requests if r.grant_type == "refresh_token"]
    assert refresh.basic_client_id == enphase_cloud.client_id
    # The stored refresh token is the live one: another refresh with it works.
    expire_token(hass, entry)
    await entry.runtime_data.token_provider()
    assert_refreshed_with_basic_auth(enphase_cloud)
    assert enphase_cloud.requests[-1].status == 200


async def test_a_rotated_refresh_token_survives_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, object],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    credentials: ClientCredential,
) -> None:
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    expire_token(hass, entry)
    retired = entry.data["token"]["refresh_token"]
    await entry.runtime_data.token_provider()
    rotated = entry.data["token"]["refresh_token"]
    assert rotated != retired

    # Stop right after the refresh: HA's final write must flush the delayed entry save.
    await hass.async_stop()

    async with async_test_home_assistant() as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        restarted.config_entries = ConfigEntries(restarted, {})
        await restarted.config_entries.async_initialize()
        assert await async_setup_component(restarted, "application_credentials", {})
        reloaded = restarted.config_entries.async_get_entry(entry.entry_id)
        assert reloaded is not None
        assert reloaded.data["token"]["refresh_token"] == rotated

        # Enphase retired the old refresh token; the entry refreshes with the rotated one.
        expire_token(restarted, reloaded)
        assert await restarted.config_entries.async_setup(reloaded.entry_id)
        assert reloaded.state is ConfigEntryState.LOADED
        assert enphase_cloud.requests[-1].status == 200
        assert_refreshed_with_basic_auth(enphase_cloud)
        await restarted.config_entries.async_unload(reloaded.entry_id)
        await restarted.async_stop(force=True)
