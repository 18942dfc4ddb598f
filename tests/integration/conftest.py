"""Fixtures for tests that run the integration inside Home Assistant's test harness.

The OAuth tests drive the real thing: HA's flow and its /auth/external/callback view on one side,
the simulated Enphase authorize page and token endpoint on the other, with an aiohttp "browser"
in between. Nothing on the Enphase side is mocked.
"""

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.components.application_credentials import (
    DATA_COMPONENT as CREDENTIALS,
)
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.liveone_enphase.cloud import DEV_CLOUD_ENV
from custom_components.liveone_enphase.const import CONF_DEV_CLOUD_URL, CONF_SYSTEM_IDS, DOMAIN
from sim.enphase import EnphaseCloud
from sim.server import SimServer

STRINGS = Path(__file__).parents[2] / "custom_components" / DOMAIN / "strings.json"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture
def dev_cloud(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point new flows at the simulator through the development-only switch."""
    monkeypatch.setenv(DEV_CLOUD_ENV, sim_server.enphase_url)
    return sim_server.enphase_url


@pytest.fixture
async def credentials(hass: HomeAssistant, enphase_cloud: EnphaseCloud) -> ClientCredential:
    """The simulated application's client id and secret, stored as HA application credentials."""
    credential = ClientCredential(enphase_cloud.client_id, enphase_cloud.client_secret, "Sim app")
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(hass, DOMAIN, credential, DOMAIN)
    return credential


async def remove_credentials(hass: HomeAssistant) -> None:
    """Delete every stored application credential, as the user can in the UI."""
    storage = hass.data[CREDENTIALS]
    for item in list(storage.async_items()):
        await storage.async_delete_item(item["id"])


@pytest.fixture
async def browser(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """The user's web browser (it never follows the redirect back to HA by itself)."""
    async with aiohttp.ClientSession() as session:
        yield session


class _ConsentForm(HTMLParser):
    """Reads the action and hidden fields of the authorize page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes["action"] or ""
        elif tag == "input" and attributes.get("type") == "hidden":
            self.fields[attributes["name"] or ""] = attributes["value"] or ""


type Login = Callable[..., Awaitable[ConfigFlowResult]]


@pytest.fixture
def login(
    hass: HomeAssistant,
    browser: aiohttp.ClientSession,
    hass_client_no_auth: ClientSessionGenerator,
    current_request_with_host: None,
) -> Login:
    """Take a flow at its external step through the Enphase login and back into HA.

    Opens the flow's URL (the simulator's consent page), presses Approve or Deny, hands the
    redirect's query to HA's real callback view (optionally altered by `tamper`), and returns
    what the flow shows next.
    """

    async def run(
        result: ConfigFlowResult,
        *,
        approve: bool = True,
        tamper: Callable[[dict[str, str]], dict[str, str]] | None = None,
        before_exchange: Callable[[], None] | None = None,
    ) -> ConfigFlowResult:
        assert result["type"] is FlowResultType.EXTERNAL_STEP
        async with browser.get(result["url"]) as page:
            assert page.status == 200
            form = _ConsentForm()
            form.feed(await page.text())
        decision = {**form.fields, "user_oauth_approval": "true" if approve else "false"}
        async with browser.post(
            URL(result["url"]).join(URL(form.action)), data=decision, allow_redirects=False
        ) as answer:
            assert answer.status == 302
            back = URL(answer.headers["Location"])
        assert back.path == "/auth/external/callback"
        query = dict(back.query)
        if tamper is not None:
            query = tamper(query)
        client = await hass_client_no_auth()
        callback = await client.get("/auth/external/callback", params=query)
        assert callback.status == 200
        assert "window.close()" in await callback.text()
        if before_exchange is not None:
            before_exchange()
        return await hass.config_entries.flow.async_configure(result["flow_id"])

    return run


async def start_user_flow(hass: HomeAssistant) -> ConfigFlowResult:
    """Start adding an account from the UI."""
    return await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})


def entry_data(cloud: EnphaseCloud, dev_url: str, **changes: Any) -> dict[str, Any]:
    """The data of an entry the flow would have created, with a live token from the simulator."""
    token = dict(cloud.issue_tokens())
    token["expires_at"] = time.time() + 3600
    data: dict[str, Any] = {
        "auth_implementation": DOMAIN,
        "token": token,
        CONF_API_KEY: cloud.api_key,
        CONF_SYSTEM_IDS: cloud.system_ids,
        CONF_DEV_CLOUD_URL: dev_url,
    }
    return data | changes


def make_entry(
    hass: HomeAssistant, cloud: EnphaseCloud, dev_url: str, **changes: Any
) -> MockConfigEntry:
    """An entry for the simulated account, added to HA but not set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Demo Battery Home, Demo Solar Home",
        unique_id=cloud.user_id,
        data=entry_data(cloud, dev_url, **changes),
    )
    entry.add_to_hass(hass)
    return entry


def expire_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Make HA think the access token has expired, so the next use refreshes it."""
    token = {**entry.data["token"], "expires_at": time.time() - 60}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


def strings() -> dict[str, Any]:
    """The integration's strings.json."""
    result: dict[str, Any] = json.loads(STRINGS.read_text(encoding="utf-8"))
    return result


async def assert_translated(hass: HomeAssistant, result: ConfigFlowResult) -> None:
    """Every abort reason and form error a flow shows must have a message HA can load.

    HA 2026.10 translates its shared OAuth aborts itself (translation domain "homeassistant");
    our strings.json carries them too, for releases that do not.
    """
    ours = await async_get_translations(hass, "en", "config", [DOMAIN])
    prefix = f"component.{DOMAIN}.config"
    if result["type"] is FlowResultType.ABORT:
        assert f"{prefix}.abort.{result['reason']}" in ours, result["reason"]
        if (domain := result.get("translation_domain")) not in (None, DOMAIN):
            theirs = await async_get_translations(hass, "en", "config", [domain])
            assert f"component.{domain}.config.abort.{result['reason']}" in theirs
    for error in (result.get("errors") or {}).values():
        assert f"{prefix}.error.{error}" in ours, error
