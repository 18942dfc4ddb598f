"""Fixtures for tests that run the integration inside Home Assistant's test harness.

The OAuth tests drive the real thing: HA's flow and its /auth/external/callback view on one side,
the simulated Enphase authorize page and token endpoint on the other, with an aiohttp "browser"
in between. Nothing on the Enphase side is mocked.
"""

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.application_credentials import (
    DATA_COMPONENT as CREDENTIALS,
)
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigFlowResult
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from yarl import URL

from custom_components.liveone_enphase.cloud import DEV_CLOUD_ENV
from custom_components.liveone_enphase.const import CONF_DEV_CLOUD_URL, CONF_SYSTEM_IDS, DOMAIN
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.liveone import LiveOneReceiver
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


def expire_token(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Make HA think the access token has expired, so the next use refreshes it."""
    token = {**entry.data["token"], "expires_at": time.time() - 60}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


async def open_options(hass: HomeAssistant, entry_id: str, form: str) -> ConfigFlowResult:
    """Open the entry's options and pick one form from their menu ("plan" or "liveone")."""
    menu = await hass.config_entries.options.async_init(entry_id)
    assert menu["type"] is FlowResultType.MENU
    assert list(menu["menu_options"]) == ["plan", "liveone"]
    return await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": form}
    )


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


# --- running the integration against the simulator, on one simulated clock -----------------------

BATTERY_SITE = 4_201_001  # Melbourne: PV, a 10 kWh battery, a Net consumption meter
SOLAR_SITE = 4_201_002  # Brisbane: PV, no battery, a Total consumption meter
MELBOURNE = {"latitude": -37.81, "longitude": 144.96, "time_zone": "Australia/Melbourne"}


@dataclass(frozen=True)
class CloudSpec:
    """What the simulated account holds (the default: both demo sites on the free plan)."""

    sites: tuple[SiteConfig, ...] = (SiteConfig.demo_battery(), SiteConfig.demo_solar_only())
    plan: Plan = Plan.WATT


@pytest.fixture
def liveone_sites() -> dict[str, str]:
    """LiveOne's sites (site id → API key): none, unless a module that pushes names its own."""
    return {}


@pytest.fixture
def receiver(sim_clock: ManualClock, liveone_sites: dict[str, str]) -> LiveOneReceiver:
    """The simulated LiveOne receiver, with the module's sites."""
    return LiveOneReceiver(clock=sim_clock, sites=liveone_sites)


@pytest.fixture
async def sim_server(
    enphase_cloud: EnphaseCloud, receiver: LiveOneReceiver, socket_enabled: None
) -> AsyncIterator[SimServer]:
    """Both simulators, each on its own loopback port."""
    async with SimServer(enphase=enphase_cloud, liveone=receiver, host="127.0.0.1") as server:
        yield server


@pytest.fixture
def enphase_cloud(sim_clock: ManualClock, request: pytest.FixtureRequest) -> EnphaseCloud:
    """The simulated cloud; parametrize indirectly with a `CloudSpec` for other sites or plans."""
    spec: CloudSpec = getattr(request, "param", CloudSpec())
    return EnphaseCloud(clock=sim_clock, sites=list(spec.sites), plan=spec.plan)


class TimeMachine:
    """Moves Home Assistant's frozen clock and the simulator's clock together, never sleeping.

    Each step fires the timers that fell due (the coordinator's planned refresh, the freshness
    edges) and waits for what they started, background tasks included. `skew` puts Home
    Assistant's clock ahead of (or behind) the simulators' from the next step on.
    """

    def __init__(
        self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, clock: ManualClock
    ) -> None:
        self.hass = hass
        self.freezer = freezer
        self.clock = clock
        self.skew = timedelta(0)
        freezer.move_to(clock())

    def now(self) -> datetime:
        """The simulated time."""
        return self.clock()

    async def advance(self, delta: timedelta, *, step: timedelta = timedelta(minutes=5)) -> None:
        """Let `delta` pass, in steps of at most `step`."""
        await self.run_until(self.clock() + delta, step=step)

    async def run_until(self, when: datetime, *, step: timedelta = timedelta(minutes=5)) -> None:
        """Let time pass until `when`, in steps of at most `step`."""
        while self.clock() < when:
            moment = min(when, self.clock() + step)
            self.clock.set(moment)
            self.freezer.move_to(moment + self.skew)
            async_fire_time_changed(self.hass, moment + self.skew)
            await self.hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def time_machine(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim_clock: ManualClock
) -> TimeMachine:
    """Home Assistant at home in Melbourne, its clock frozen to the simulator's."""
    # aiohttp's access log cannot read the local UTC offset under freezegun; it adds nothing.
    logging.getLogger("aiohttp.access").disabled = True
    await hass.config.async_update(**MELBOURNE)
    return TimeMachine(hass, freezer, sim_clock)


async def setup_entry(
    hass: HomeAssistant, cloud: EnphaseCloud, dev_url: str, **changes: Any
) -> MockConfigEntry:
    """Add the simulated account's entry and set it up (the flow itself is tested elsewhere)."""
    entry = make_entry(hass, cloud, dev_url, **changes)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def assert_issue_translated(issue: ir.IssueEntry | None) -> None:
    """A repair issue has strings, and every placeholder they use is filled in."""
    assert issue is not None
    assert issue.translation_key is not None
    text = strings()["issues"][issue.translation_key]
    used = set(re.findall(r"{(\w+)}", text["title"] + text["description"]))
    assert used == set(issue.translation_placeholders or {})


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in HA's format (registry entries, states), kept in tests/integration/snapshots."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
