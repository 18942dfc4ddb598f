"""No secret leaves: not in a log line, diagnostics, a repair, an error, a form or an entity.

The simulated Enphase application gets a distinctive client secret and API key and issues
distinctive access and refresh tokens; LiveOne's site key is distinctive too. Then the
integration does everything it does (the config flow through HA's real OAuth callback, polls,
token refreshes, reauth, reconfigure, the LiveOne options, pushing, diagnostics) and goes
through every error path the simulators can produce, with every logger at DEBUG. Everything a
user, a log reader or a support request could see is collected as text, and none of it may
hold a secret, any 8 characters of one, or the HTTP Basic form of the client credentials.

Not searched: the config entry's own data and options (where HA keeps the secrets on purpose)
and the test harness's own logger, which dumps every storage write, that store included.
"""

import base64
import dataclasses
import json
import logging
import re
import time
import traceback
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from homeassistant.components.application_credentials import ClientCredential
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations

try:  # how the frontend gets a form: HA 2026.10 serializes it with probatio, older with voluptuous
    from probatio import to_field_list as serialize_form
except ImportError:  # pragma: no cover - the minimum Home Assistant track
    from voluptuous_serialize import convert as serialize_form

from custom_components.liveone_enphase.application_credentials import (
    TOKEN_REQUEST_TIMEOUT,
    async_get_auth_implementation,
)
from custom_components.liveone_enphase.cloud import CloudEndpoints
from custom_components.liveone_enphase.const import CONF_SYSTEM_IDS, DOMAIN
from custom_components.liveone_enphase.diagnostics import async_get_config_entry_diagnostics
from custom_components.liveone_enphase.enphase import EnphaseClient, EnphaseError
from custom_components.liveone_enphase.liveone import LiveOneClient, LiveOneError
from custom_components.liveone_enphase.push import CONF_API_KEY as CONF_LIVEONE_API_KEY
from custom_components.liveone_enphase.push import CONF_PUSH, CONF_URL, PushOptions
from custom_components.liveone_enphase.store import application_key
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, SiteConfig
from sim.liveone import LiveOneReceiver
from sim.server import SimServer

from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    Login,
    TimeMachine,
    expire_token,
    make_entry,
    open_options,
    start_user_flow,
)

pytestmark = pytest.mark.usefixtures("credentials")

CLIENT_ID = "client-id-of-the-app-8812"  # not a secret, but part of the Basic credentials
CLIENT_SECRET = "SECRET-CLIENT-5e1c9a7b3d20"
API_KEY = "SECRET-APIKEY-2b8f4d6e0a13"
LIVEONE_KEY = "SECRET-LIVEONE-9d3e7a1c5f47"
TOKEN_PREFIXES = ("SECRET-ACCESS-7f3a-", "SECRET-REFRESH-4c2b-")
SITES = {BATTERY_SITE: "battery-home", SOLAR_SITE: "solar-home"}
BATTERY_FIELD = f"Demo Battery Home ({BATTERY_SITE})"
SOLAR_FIELD = f"Demo Solar Home ({SOLAR_SITE})"
FRAGMENT = 8
LATEST = "systems/{system_id}/latest_telemetry"
MORNING = datetime(2026, 1, 14, 20, 0, tzinfo=UTC)  # 07:00 in Melbourne
# Where a leak could hide: runs of the characters secrets (and base64) are made of.
_WORDS = re.compile(rf"[A-Za-z0-9+/=_-]{{{FRAGMENT},}}")
# The test harness logs every storage write, HA's own store of the entry's secrets included.
_HARNESS = "pytest_homeassistant_custom_component"
_LOGGERS = ("", "custom_components.liveone_enphase", "aiohttp", "homeassistant", "sim")


@pytest.fixture
def sim_clock() -> ManualClock:
    """A summer morning in Melbourne: a whole day of polls ahead."""
    return ManualClock(MORNING)


@pytest.fixture
def enphase_cloud(sim_clock: ManualClock) -> EnphaseCloud:
    """The simulated cloud, its application and tokens marked as secrets."""
    return EnphaseCloud(
        clock=sim_clock,
        sites=[SiteConfig.demo_battery(), SiteConfig.demo_solar_only()],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_key=API_KEY,
        token_prefixes=TOKEN_PREFIXES,
    )


@pytest.fixture
def liveone_sites() -> dict[str, str]:
    return dict.fromkeys(SITES.values(), LIVEONE_KEY)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger that could be told a secret, at its most talkative."""
    for name in _LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)


def secrets(cloud: EnphaseCloud) -> list[str]:
    """Every secret of the run: the fixed ones, each token issued, the Basic credentials."""
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    return [CLIENT_SECRET, API_KEY, LIVEONE_KEY, basic, *cloud.oauth.issued]


def _dump(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=repr, sort_keys=True)


def _chain(err: BaseException) -> Iterator[BaseException]:
    """An error and the causes a traceback shows with it (`raise ... from None` hides one)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.append(item.__cause__)
        if not item.__suppress_context__:
            todo.append(item.__context__)


class Evidence:
    """Everything a user, a log reader or a support request could see, as text."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: object) -> None:
        self.texts.append((where, _dump(value)))

    def add_error(self, where: str, err: BaseException) -> None:
        """An error as it shows in a message, a repr and a traceback, with its causes."""
        for item in _chain(err):
            self.add(f"{where}: str", str(item))
            self.add(f"{where}: repr", repr(item))
            self.add(f"{where}: attributes", {k: repr(v) for k, v in vars(item).items()})
        self.add(f"{where}: traceback", "".join(traceback.format_exception(err)))

    def add_flow(self, where: str, result: ConfigFlowResult) -> None:
        """A flow step as the frontend gets it: the form with its defaults, errors, texts.

        A created entry's data and options (HA's store of the secrets) are not sent.
        """
        hidden = {"data_schema"}
        if result["type"] is FlowResultType.CREATE_ENTRY:
            hidden |= {"data", "context", "result"}
        shown = {key: value for key, value in result.items() if key not in hidden}
        self.add(where, shown)
        if (schema := result.get("data_schema")) is not None:
            self.add(
                f"{where}: form",
                serialize_form(schema, custom_serializer=cv.custom_serializer),
            )

    def add_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        for record in caplog.records:
            if record.name.startswith(_HARNESS):
                continue
            self.add(f"log {record.name}", record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                self.add_error(f"log {record.name}", record.exc_info[1])

    async def add_home_assistant(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """Diagnostics, repairs (as rendered), entities, devices, flows and the entry's state."""
        if entry.state is ConfigEntryState.LOADED:
            self.add("diagnostics", await async_get_config_entry_diagnostics(hass, entry))
        texts = await async_get_translations(hass, "en", "issues", [DOMAIN])
        for (domain, issue_id), issue in ir.async_get(hass).issues.items():
            placeholders = issue.translation_placeholders or {}
            self.add(f"issue {domain} {issue_id}", dataclasses.asdict(issue))
            for part in ("title", "description"):
                text = texts.get(f"component.{domain}.issues.{issue.translation_key}.{part}")
                if text is not None:
                    self.add(f"issue {issue_id} {part}", text.format(**placeholders))
        for item in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
            state = hass.states.get(item.entity_id)
            self.add(f"entity {item.entity_id}", item.as_partial_dict)
            if state is not None:
                self.add(f"state {item.entity_id}", state.as_dict())
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
            self.add(f"device {device.name}", device.dict_repr)
        for flow in hass.config_entries.flow.async_progress():
            self.add(f"flow {flow['flow_id']}", flow)
        self.add(
            "entry",
            {
                "title": entry.title,
                "state": str(entry.state),
                "reason": entry.reason,
                "placeholders": entry.error_reason_translation_placeholders,
            },
        )

    def add_stores(self, hass_storage: dict[str, Any]) -> None:
        """Our own stores (HA's store of config entries holds the secrets by design)."""
        for key, value in hass_storage.items():
            if key.startswith(f"{DOMAIN}."):
                self.add(f"store {key}", value)

    def leaks(self, secrets: Iterable[str]) -> list[str]:
        """Where a secret, or any 8 characters of one, shows up."""
        fragments = {
            secret[start : start + FRAGMENT]: secret
            for secret in secrets
            for start in range(len(secret) - FRAGMENT + 1)
        }
        found = []
        for where, text in self.texts:
            for word in _WORDS.findall(text):
                for start in range(len(word) - FRAGMENT + 1):
                    if (piece := word[start : start + FRAGMENT]) in fragments:
                        found.append(f"{where}: {piece!r} of {fragments[piece][:14]}…")
                        break
        return found


def assert_nothing_leaked(evidence: Evidence, cloud: EnphaseCloud, *more: str) -> None:
    # The evidence is not empty, and the secrets were in use: the hunt means something.
    assert len(evidence.texts) > 100
    assert len(cloud.oauth.issued) >= 2
    assert evidence.leaks([*secrets(cloud), *more]) == []


def long_lived(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Let HA hold the access token for most of the simulated day it lives."""
    token = {**entry.data["token"], "expires_at": time.time() + 20 * 3600}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


def reauth_flows(hass: HomeAssistant) -> list[dict[str, Any]]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == "reauth"
    ]


# --- the happy paths --------------------------------------------------------------------------


async def test_flows_polls_refreshes_reauth_pushing_and_diagnostics_leak_nothing(  # noqa: PLR0915, PLR0917
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    login: Login,
    dev_cloud: str,
    enphase_cloud: EnphaseCloud,
    receiver: LiveOneReceiver,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    evidence = Evidence()
    # Adding the account: login through HA's callback, the API key, the systems.
    result = await start_user_flow(hass)
    evidence.add_flow("user", result)
    result = await login(result)
    evidence.add_flow("api_key form", result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "not-the-key"}
    )
    evidence.add_flow("api_key refused", result)
    assert result["errors"] == {"base": "invalid_api_key"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    evidence.add_flow("select_systems", result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(BATTERY_SITE), str(SOLAR_SITE)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    evidence.add_flow("created", result)
    entry: ConfigEntry[Any] = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # LiveOne: a wrong key first, then the right one; the form never shows it back.
    result = await open_options(hass, entry.entry_id, "liveone")
    evidence.add_flow("options form", result)
    answer = {
        CONF_PUSH: True,
        CONF_URL: sim_server.liveone_url,
        CONF_LIVEONE_API_KEY: "SECRET-LIVEONE-wrong-0000",
        BATTERY_FIELD: SITES[BATTERY_SITE],
        SOLAR_FIELD: SITES[SOLAR_SITE],
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], answer)
    evidence.add_flow("options refused", result)
    assert result["errors"] == {CONF_LIVEONE_API_KEY: "invalid_api_key"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], answer | {CONF_LIVEONE_API_KEY: LIVEONE_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    evidence.add_flow("options form again", await open_options(hass, entry.entry_id, "liveone"))
    evidence.add_flow("plan options form", await open_options(hass, entry.entry_id, "plan"))

    # Polls and pushes for a few hours, with an access token that expires on the way.
    await time_machine.advance(timedelta(hours=2))
    expire_token(hass, entry)
    await time_machine.advance(timedelta(hours=2))
    assert len(receiver.ledger) > 0
    assert len(enphase_cloud.oauth.issued) >= 4  # the login, then at least one refresh

    # Reconfigure: the form does not show the key; an empty key keeps it.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    evidence.add_flow("reconfigure form", result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    evidence.add_flow("reconfigure select", result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(BATTERY_SITE), str(SOLAR_SITE)]}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    # The account holder revokes the app: the refresh is refused, reauth is asked for, and done.
    expire_token(hass, entry)
    enphase_cloud.faults.revoke_all_tokens()
    await time_machine.advance(timedelta(hours=1))
    (flow,) = reauth_flows(hass)
    await evidence.add_home_assistant(hass, entry)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    evidence.add_flow("reauth", result)
    result = await login(result)
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await time_machine.advance(timedelta(hours=1))
    assert entry.state is ConfigEntryState.LOADED

    await evidence.add_home_assistant(hass, entry)
    evidence.add_stores(hass_storage)
    evidence.add_logs(caplog)
    assert_nothing_leaked(evidence, enphase_cloud)


# --- every error path -------------------------------------------------------------------------


def _minute_429() -> dict[str, Any]:
    return {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "minute",
        "period_start": 1768442400,
        "period_end": 1768442460,
        "limit": 10,
    }


async def run_until_answered(
    time_machine: TimeMachine, cloud: EnphaseCloud, endpoint: str | None, status: int
) -> None:
    """Let the polls go on until the simulator has answered `endpoint` (None: any) so."""
    seen = len(cloud.requests)
    until = time_machine.now() + timedelta(hours=6)
    while not any(
        endpoint in (None, r.endpoint) and r.status == status for r in cloud.requests[seen:]
    ):
        assert time_machine.now() < until, f"no poll met the fault on {endpoint}"
        await time_machine.advance(timedelta(minutes=15))


async def test_every_enphase_error_path_leaks_nothing(  # noqa: PLR0917
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    evidence = Evidence()
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    long_lived(hass, entry)  # the token endpoint's faults have a test of their own
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    faults = enphase_cloud.faults
    # The API key is revoked (a new key was made on the portal), or belongs to another app;
    # then the right one is back.
    wrong_keys = ["SECRET-APIKEY-revoked-0001", enphase_cloud.add_application("Other").api_key]
    for key in [*wrong_keys, API_KEY]:
        token_data = {**enphase_cloud.issue_tokens(), "expires_at": time.time() + 20 * 3600}
        data = {**entry.data, "token": token_data, CONF_API_KEY: key}
        hass.config_entries.async_update_entry(entry, data=data)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        if key != API_KEY and entry.state is ConfigEntryState.LOADED:
            await run_until_answered(time_machine, enphase_cloud, None, 401)
        await evidence.add_home_assistant(hass, entry)
    assert any(r.status == 401 for r in enphase_cloud.requests)
    assert entry.state is ConfigEntryState.LOADED

    month_end = datetime(2026, 2, 1, tzinfo=UTC)
    month_429 = _minute_429() | {"period": "month", "period_end": int(month_end.timestamp())}
    api_faults = [
        (lambda: faults.server_error(endpoint=LATEST), LATEST, 500),
        (lambda: faults.server_error(status=503, error_code_7=True, endpoint=LATEST), LATEST, 503),
        (lambda: faults.html_error(status=502, endpoint=LATEST), LATEST, 502),
        (lambda: faults.malformed_json(endpoint=LATEST), LATEST, 200),
        (lambda: faults.nulls(endpoint=LATEST), LATEST, 200),
        (lambda: faults.respond({"message": "Bad"}, status=422, endpoint=LATEST), LATEST, 422),
        (lambda: faults.respond(_minute_429(), status=429, endpoint=LATEST), LATEST, 429),
        (lambda: faults.remove_system(SOLAR_SITE), LATEST, 404),
        (lambda: faults.forbid(LATEST), LATEST, 403),  # for good: the planner drops it
        (lambda: faults.respond(month_429, status=429), None, 429),  # then no call till February
    ]
    for arrange, endpoint, status in api_faults:
        arrange()
        await run_until_answered(time_machine, enphase_cloud, endpoint, status)
        await evidence.add_home_assistant(hass, entry)
        faults.clear()
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"endpoint_forbidden_{BATTERY_SITE}")
    assert issues.async_get_issue(DOMAIN, f"endpoint_forbidden_{SOLAR_SITE}")
    assert issues.async_get_issue(DOMAIN, f"budget_exhausted_{application_key(CLIENT_ID)}")

    evidence.add_stores(hass_storage)
    evidence.add_logs(caplog)
    assert_nothing_leaked(evidence, enphase_cloud, *wrong_keys)


async def test_every_token_endpoint_failure_leaks_nothing(  # noqa: PLR0917
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token endpoint fails (5xx, an HTML page, 429, no answer in time, a dead grant).

    The entry's token provider is what every call goes through. HA's clock runs here (no time
    machine): a frozen clock would hold the request timeout back for ever.
    """
    evidence = Evidence()
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    monkeypatch.setattr(
        "custom_components.liveone_enphase.application_credentials.TOKEN_REQUEST_TIMEOUT",
        TOKEN_REQUEST_TIMEOUT.__class__(total=0.05),
    )
    faults = enphase_cloud.faults
    token = "oauth/token"
    for arrange in (
        lambda: faults.server_error(endpoint=token),
        lambda: faults.html_error(status=503, endpoint=token),
        lambda: faults.respond({"error": "slow_down"}, status=429, endpoint=token),
        lambda: faults.malformed_json(endpoint=token),
        lambda: faults.hang(endpoint=token),
        faults.revoke_all_tokens,  # then the grant is refused: invalid_grant
    ):
        expire_token(hass, entry)
        arrange()
        with pytest.raises((aiohttp.ClientError, TimeoutError)) as refused:
            await entry.runtime_data.token_provider()
        evidence.add_error("token provider", refused.value)
        faults.clear()
    await hass.async_block_till_done()
    assert reauth_flows(hass)
    await evidence.add_home_assistant(hass, entry)

    evidence.add_stores(hass_storage)
    evidence.add_logs(caplog)
    assert_nothing_leaked(evidence, enphase_cloud)


async def test_every_liveone_error_answer_leaks_nothing(  # noqa: PLR0917
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    enphase_cloud: EnphaseCloud,
    receiver: LiveOneReceiver,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    evidence = Evidence()
    entry = make_entry(hass, enphase_cloud, sim_server.enphase_url)
    options = PushOptions(True, sim_server.liveone_url, LIVEONE_KEY, SITES)
    hass.config_entries.async_update_entry(entry, options=options.as_options())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for status in (401, 403, 404, 400, 422, 429, 500, 503):
        receiver.force_status(status, retry_after=5 if status == 429 else None)
        await time_machine.advance(timedelta(hours=1))
        await evidence.add_home_assistant(hass, entry)
        receiver.clear_faults()
        # Saving the options resumes a paused push.
        flow = await open_options(hass, entry.entry_id, "liveone")
        result = await hass.config_entries.options.async_configure(
            flow["flow_id"],
            {
                CONF_PUSH: True,
                CONF_URL: sim_server.liveone_url,
                BATTERY_FIELD: SITES[BATTERY_SITE],
                SOLAR_FIELD: SITES[SOLAR_SITE],
            },
        )
        evidence.add_flow(f"options after {status}", result)
    receiver.set_down()
    await time_machine.advance(timedelta(hours=1))
    flow = await open_options(hass, entry.entry_id, "liveone")
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_PUSH: True, CONF_URL: sim_server.liveone_url, BATTERY_FIELD: "x"}
    )
    evidence.add_flow("options while LiveOne is down", result)
    receiver.set_down(False)
    await time_machine.advance(timedelta(hours=1))
    await evidence.add_home_assistant(hass, entry)

    evidence.add_stores(hass_storage)
    evidence.add_logs(caplog)
    assert_nothing_leaked(evidence, enphase_cloud)
    assert receiver.posts(action="store")


# --- the clients themselves -------------------------------------------------------------------


async def test_the_clients_errors_and_reprs_carry_no_secret(  # noqa: PLR0917
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    receiver: LiveOneReceiver,
    sim_server: SimServer,
    sim_clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    evidence = Evidence()
    token = str(enphase_cloud.issue_tokens()["access_token"])

    async def provider() -> str:
        return token

    faults = enphase_cloud.faults
    echo = {"message": f"Bearer {token} is not valid", "details": f"key {API_KEY} unknown"}
    arrangements = [
        faults.server_error,
        faults.hang,
        faults.malformed_json,
        lambda: faults.html_error(status=502),
        faults.nulls,
        lambda: faults.forbid("systems"),
        lambda: faults.respond(_minute_429(), status=429),
        lambda: faults.respond(echo, status=401),
        lambda: faults.respond(echo, status=400),
        lambda: faults.respond(echo, status=503),
        faults.revoke_all_tokens,
    ]
    async with aiohttp.ClientSession() as session:
        client = EnphaseClient(
            session, provider, API_KEY, base_url=sim_server.enphase_url, timeout=0.05
        )
        evidence.add("client", repr(client))
        for arrange in arrangements:
            arrange()
            with pytest.raises(EnphaseError) as caught:
                await client.systems()
            evidence.add_error("enphase client", caught.value)
            faults.clear()

        # A token provider that fails with the request's headers in its error.
        async def failing() -> str:
            info = aiohttp.RequestInfo(
                sim_server.enphase_url,  # type: ignore[arg-type]
                "POST",
                {"Authorization": f"Bearer {token}"},  # type: ignore[arg-type]
            )
            raise aiohttp.ClientResponseError(info, (), status=401, message=f"token {token}")

        refused = EnphaseClient(session, failing, API_KEY, base_url=sim_server.enphase_url)
        with pytest.raises(EnphaseError) as caught:
            await refused.systems()
        evidence.add_error("token provider", caught.value)

        liveone = LiveOneClient(session, sim_server.liveone_url, SITES[BATTERY_SITE], LIVEONE_KEY)
        evidence.add("liveone client", repr(liveone))
        evidence.add("push options", repr(PushOptions(True, "u", LIVEONE_KEY, SITES)))
        for status in (400, 401, 403, 404, 413, 422, 429, 500, 503):
            receiver.force_status(status)
            with pytest.raises(LiveOneError) as failed:
                await liveone.test()
            evidence.add_error("liveone client", failed.value)
            receiver.clear_faults()
        receiver.set_down()
        with pytest.raises(LiveOneError) as failed:
            await liveone.test()
        evidence.add_error("liveone client", failed.value)
        receiver.set_down(False)
        wrong = LiveOneClient(session, sim_server.liveone_url, "no-such-site", LIVEONE_KEY)
        with pytest.raises(LiveOneError) as failed:
            await wrong.test()
        evidence.add_error("liveone client", failed.value)

    # The OAuth implementation refusing a dead refresh token (a minute on: Enphase counts the
    # token requests against the plan's minute too).
    sim_clock.advance(timedelta(minutes=2))
    credential = ClientCredential(CLIENT_ID, CLIENT_SECRET)
    implementation = (await async_get_auth_implementation(hass, DOMAIN, credential)).for_cloud(
        CloudEndpoints(sim_server.enphase_url)
    )
    tokens = dict(enphase_cloud.issue_tokens())
    await implementation.async_refresh_token(tokens)
    with pytest.raises(aiohttp.ClientResponseError) as dead:
        await implementation.async_refresh_token(tokens)
    evidence.add_error("oauth implementation", dead.value)

    evidence.add_logs(caplog)
    assert_nothing_leaked(evidence, enphase_cloud)
