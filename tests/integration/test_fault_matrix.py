"""The fault matrix: the whole integration through every named fault, against both simulators.

Each scenario (see `faults.Scenario`) is one parametrized run of `test_scenario`; docs/FAULTS.md
lists the same scenarios with what the user sees, and `test_the_docs_table_lists_the_scenarios`
keeps the two in step.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from custom_components.liveone_enphase.const import CONF_SYSTEM_IDS, DOMAIN
from custom_components.liveone_enphase.liveone import OutboxState
from custom_components.liveone_enphase.plan import (
    CONF_PER_MINUTE,
    CONF_PER_MONTH,
    CONF_PLAN,
    CONF_RESERVE,
)
from custom_components.liveone_enphase.push import storage_key
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.enphase.routes import SYSTEM_ENDPOINTS
from sim.liveone import LiveOneReceiver
from sim.server import SimServer

from .conftest import BATTERY_SITE, SOLAR_SITE, TimeMachine, expire_token, open_options
from .faults import ALL_SYSTEMS, Check, Expect, Power, Run, Scenario, Step, issues
from .test_push import KEY, SITES
from .test_sensor import PREFIX

HOUR = timedelta(hours=1)
LATEST = "systems/{system_id}/latest_telemetry"
TOKEN = "oauth/token"


# --- what is injected, and how it clears ------------------------------------------------------


async def nothing(run: Run) -> None:
    """No switch: the scenario is time itself passing (a DST change)."""


async def expire_access_token(run: Run) -> None:
    """Home Assistant's clock says the access token has expired: the next poll refreshes it."""
    expire_token(run.hass, run.config_entry)


async def reject_access_token(run: Run) -> None:
    """Enphase stops accepting the access token before the expiry Home Assistant knows."""
    run.cloud.faults.revoke_token(run.config_entry.data["token"]["access_token"])


async def refuse_refresh(run: Run) -> None:
    """The login is dead: the refresh that the next poll needs is answered invalid_grant."""
    expire_token(run.hass, run.config_entry)
    run.cloud.faults.revoke_all_tokens()


async def refresh_server_error(run: Run) -> None:
    """The token endpoint answers 502 to the refresh the next poll needs."""
    expire_token(run.hass, run.config_entry)
    run.cloud.faults.server_error(status=502, endpoint=TOKEN)


async def refresh_hangs(run: Run) -> None:
    """The token endpoint never answers the refresh the next poll needs."""
    expire_token(run.hass, run.config_entry)
    run.cloud.faults.hang(endpoint=TOKEN)


async def log_in_again(run: Run) -> None:
    """The user follows the Reauthenticate card and logs in at Enphase."""
    run.cloud.faults.clear()
    (flow_id,) = run.reauth_flows()
    result = await run.hass.config_entries.flow.async_configure(flow_id, {})
    result = await run.login(result)
    assert result["reason"] == "reauth_successful"
    await run.hass.async_block_till_done()


async def regenerate_api_key(run: Run) -> None:
    """The owner regenerates the application's API key on the developer portal."""
    run.cloud.regenerate_api_key()


async def use_another_applications_key(run: Run) -> None:
    """The entry's key is another application's (changed while Home Assistant was down)."""
    other = run.cloud.add_application("Someone else's app")
    entry = run.config_entry
    run.hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_API_KEY: other.api_key}
    )
    await run.restart()


async def reconfigure_with_the_key(run: Run) -> None:
    """The user reconfigures the entry with the application's current API key."""
    result = await run.config_entry.start_reconfigure_flow(run.hass)
    result = await run.hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: run.cloud.api_key}
    )
    result = await run.hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SYSTEM_IDS: [str(sid) for sid in run.scenario.systems]}
    )
    assert result["reason"] == "reconfigure_successful"
    await run.hass.async_block_till_done()


async def forbid_battery(run: Run) -> None:
    """The plan stops covering the battery endpoints (403)."""
    run.cloud.application.limiter.plan = Plan.WATT.without_battery()


async def upgrade_the_plan(run: Run) -> None:
    """The user moves to the Kilowatt plan and says so in the options, as the repair asks."""
    run.cloud.application.limiter.plan = Plan.KILOWATT
    form = await open_options(run.hass, run.config_entry.entry_id, "plan")
    result = await run.hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_PLAN: "kilowatt", CONF_RESERVE: 5}
    )
    result = await run.hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PER_MONTH: 10_000, CONF_PER_MINUTE: 10}
    )
    assert result["type"] == "create_entry"
    # The new plan polls at once and pushes in the background: let that finish before time moves.
    await run.hass.async_block_till_done(wait_background_tasks=True)


def rate_limited(period: str, run: Run, until: datetime) -> dict[str, Any]:
    """Enphase's 429 body for a used-up minute or month."""
    start = run.time.now().replace(second=0, microsecond=0)
    return {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": period,
        "period_start": int(start.timestamp()),
        "period_end": int(until.timestamp()),
        "limit": 10 if period == "minute" else 1000,
    }


MONTH_RESETS = timedelta(hours=4)


async def minute_429(run: Run) -> None:
    """The next request is answered: this minute's allowance is used up."""
    until = run.time.now() + timedelta(minutes=1)
    run.cloud.faults.respond(rate_limited("minute", run, until), status=429, count=1)


async def month_429(run: Run) -> None:
    """The next request is answered: this month's allowance is used up, until `period_end`."""
    until = run.time.now() + MONTH_RESETS
    run.cloud.faults.respond(rate_limited("month", run, until), status=429, count=1)


async def server_500(run: Run) -> None:
    run.cloud.faults.server_error(status=500, error_code_7=True)


async def server_503(run: Run) -> None:
    run.cloud.faults.server_error(status=503)


async def hang(run: Run) -> None:
    run.cloud.faults.hang()


# The data endpoints only: a token answer that is lost after Enphase rotated the refresh token
# leaves a dead login, which only a new login heals (as `refresh_invalid_grant` shows).
DATA_ENDPOINTS = sorted(SYSTEM_ENDPOINTS)


async def malformed_json(run: Run) -> None:
    for endpoint in DATA_ENDPOINTS:
        run.cloud.faults.malformed_json(endpoint=endpoint)


async def html_error(run: Run) -> None:
    run.cloud.faults.html_error(status=502)


async def nulls(run: Run) -> None:
    for endpoint in DATA_ENDPOINTS:
        run.cloud.faults.nulls(endpoint=endpoint)


SILENCE = timedelta(days=8)


async def silence_battery_site(run: Run) -> None:
    """The battery site's gateway stops reporting for 8 days (then uploads its backlog)."""
    run.cloud.faults.take_offline(BATTERY_SITE, until=run.time.now() + SILENCE)


async def remove_solar_site(run: Run) -> None:
    run.cloud.faults.remove_system(SOLAR_SITE)


async def jump_forward(run: Run) -> None:
    """The host was suspended: five hours pass at once."""
    await run.time.advance(timedelta(hours=5), step=timedelta(hours=5))


async def clock_ahead(run: Run) -> None:
    """Home Assistant's clock runs an hour fast (the cloud keeps the right time)."""
    run.time.skew = HOUR


async def clock_corrected(run: Run) -> None:
    """The clock is corrected: Home Assistant's time jumps an hour back."""
    run.time.skew = timedelta(0)


async def stop_during_refresh(run: Run) -> None:
    """Home Assistant stops while a token refresh waits for Enphase's answer."""
    expire_token(run.hass, run.config_entry)
    run.cloud.faults.hang(endpoint=TOKEN)
    refresh = asyncio.ensure_future(run.config_entry.runtime_data.token_provider())
    for _ in range(10_000):
        if run.cloud.faults.hanging:
            break
        await asyncio.sleep(0)
    assert run.cloud.faults.hanging == 1
    refresh.cancel()  # Home Assistant's shutdown cancels what is still running
    with pytest.raises(asyncio.CancelledError):
        await refresh


async def start_again(run: Run) -> None:
    """Home Assistant starts again, the cloud answering as usual."""
    run.cloud.faults.clear()
    await run.restart()


async def liveone_down(run: Run) -> None:
    run.receiver.set_down()


async def restart_then_liveone_back(run: Run) -> None:
    """Home Assistant restarts with the backlog; then LiveOne answers again."""
    pending = run.push.status.pending_readings
    saved = run.hass_storage[storage_key(run.config_entry.entry_id)]["data"]
    assert sum(len(batch["readings"]) for batch in saved["outbox"]["batches"]) == pending
    await run.restart()
    assert run.push.status.pending_readings == pending
    run.receiver.clear_faults()


def liveone_status(status: int, retry_after: int | None = None) -> Step:
    async def inject(run: Run) -> None:
        run.receiver.force_status(status, retry_after=retry_after)

    return inject


async def liveone_422_once(run: Run) -> None:
    run.receiver.force_status(422, count=1)


async def acknowledge_in_options(run: Run) -> None:
    """The user saves the options (unchanged), acknowledging the dropped readings."""
    flow = await open_options(run.hass, run.config_entry.entry_id, "liveone")
    schema = flow["data_schema"]
    assert schema is not None
    defaults = {
        key.schema: key.description["suggested_value"]
        for key in schema.schema
        if key.description and "suggested_value" in key.description
    }
    result = await run.hass.config_entries.options.async_configure(flow["flow_id"], defaults)
    assert result["type"] == "create_entry"
    # The new plan polls at once and pushes in the background: let that finish before time moves.
    await run.hass.async_block_till_done(wait_background_tasks=True)


def damage_store(key: str, damage: Callable[[dict[str, Any]], dict[str, Any]]) -> Step:
    """Stop Home Assistant, damage one of our stored files, start again."""

    async def inject(run: Run) -> None:
        entry = run.config_entry
        assert await run.hass.config_entries.async_unload(entry.entry_id)
        stored = run.hass_storage[key.format(entry_id=entry.entry_id, app=run.app_key)]
        stored["data"] = damage(stored["data"])
        if key.startswith(LEDGER_STORE):
            run.ledger_from = len(run.sent())
        assert await run.hass.config_entries.async_setup(entry.entry_id)
        await run.hass.async_block_till_done()

    return inject


READINGS_STORE = f"{DOMAIN}.readings.{{entry_id}}"
LEDGER_STORE = f"{DOMAIN}.ledger."
OUTBOX_STORE = f"{DOMAIN}.outbox.{{entry_id}}"


def garbage(_data: dict[str, Any]) -> dict[str, Any]:
    """Valid JSON that is not what we wrote."""
    return {"readings": [1, 2, 3], "inventory": "x", "used": "many", "outbox": 7}


def cut_short(data: dict[str, Any]) -> dict[str, Any]:
    """Every mapping keeps only its first half: a write that stopped midway."""

    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())[: max(1, len(value) // 2)]
            return {key: cut(inner) for key, inner in items}
        if isinstance(value, list):
            return [cut(inner) for inner in value[: max(1, len(value) // 2)]]
        return value

    result: dict[str, Any] = cut(data)
    return result


async def solar_site_503(run: Run) -> None:
    run.cloud.faults.server_error(status=503, system_id=SOLAR_SITE)


# --- scenario-specific checks --------------------------------------------------------------------


def refreshed_once_more(run: Run) -> None:
    """A refresh fixed it: one more token request, no login."""
    grants = [r.grant_type for r in run.cloud.token_requests]
    assert grants.count("refresh_token") >= 1


def silent_while_refused(run: Run) -> None:
    """Nothing was asked of Enphase from the refusal until the user acted."""
    assert run.injected_at is not None
    assert run.cleared_at is not None
    failed = [r for r in run.sent() if r.time >= run.injected_at and r.status != 200]
    assert failed
    after = [r for r in run.sent() if failed[0].time < r.time < run.cleared_at]
    assert after == []


def silent_until(reset: timedelta) -> Check:
    """No request between the 429 and the end of the period it named."""

    def check(run: Run) -> None:
        assert run.injected_at is not None
        (refused,) = [r for r in run.sent() if r.status == 429]
        resumes = run.injected_at + reset
        assert [r for r in run.sent() if refused.time < r.time < resumes] == []
        assert [r for r in run.sent() if r.time >= resumes]

    return check


def no_storm(run: Run) -> None:
    """The failed polls were the planned ones, not a retry storm."""
    assert run.injected_at is not None
    assert run.cleared_at is not None
    failed = [r for r in run.sent() if run.injected_at <= r.time <= run.cleared_at]
    assert 0 < len(failed) <= 8


def today_restarts_at_local_midnight(run: Run) -> None:
    """Today's production restarted at the system's midnight, whatever the offset that day."""
    state = run.hass.states.get(f"{PREFIX[BATTERY_SITE]}solar_energy_today")
    assert state is not None
    reset = datetime.fromisoformat(state.attributes["last_reset"])
    local = reset.astimezone(ZoneInfo("Australia/Melbourne"))
    assert (local.hour, local.minute) == (0, 0)
    assert local.date() == run.time.now().astimezone(local.tzinfo).date()


def flushed_before_restart(run: Run) -> None:
    assert run.push.status.last_ack_at is not None


DST_FALL_BACK = datetime(2026, 4, 4, 3, 0, tzinfo=UTC)  # 14:00 AEDT; at 03:00 on the 5th, 02:00
# 13:00 AEST; on the 4th, 02:00 -> 03:00
DST_SPRING_FORWARD = datetime(2026, 10, 3, 3, 0, tzinfo=UTC)
REAUTH = "Authentication failed while fetching"
KEY_REJECTED = "Enphase rejected the API key"  # HA logs the coordinator's ConfigEntryError

SCENARIOS: list[Scenario] = [
    # --- the login ----------------------------------------------------------------------------
    Scenario(
        id="access_token_expired",
        inject=expire_access_token,
        during=HOUR,
        expect_during=Expect(),
        check=refreshed_once_more,
    ),
    Scenario(
        id="access_token_rejected_mid_poll",
        inject=reject_access_token,
        during=2 * HOUR,
        expect_during=Expect(power=Power.KEPT, reauth=True),
        clear=log_in_again,
        errors=(REAUTH,),
        check=silent_while_refused,
    ),
    Scenario(
        id="refresh_invalid_grant",
        inject=refuse_refresh,
        during=2 * HOUR,
        expect_during=Expect(power=Power.KEPT, reauth=True),
        clear=log_in_again,
        errors=(REAUTH,),
        check=silent_while_refused,
    ),
    Scenario(
        id="refresh_server_error",
        inject=refresh_server_error,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
    ),
    Scenario(
        id="refresh_timeout",
        hangs=True,
        inject=refresh_hangs,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
    ),
    # --- the application's API key ----------------------------------------------------------
    Scenario(
        id="api_key_revoked",
        inject=regenerate_api_key,
        during=2 * HOUR,
        expect_during=Expect(power=Power.KEPT, issues=issues("api_key_rejected")),
        clear=reconfigure_with_the_key,
        errors=(KEY_REJECTED,),
        check=silent_while_refused,
    ),
    Scenario(
        id="api_key_of_another_application",
        inject=use_another_applications_key,
        during=2 * HOUR,
        expect_during=Expect(power=Power.KEPT, issues=issues("api_key_rejected")),
        clear=reconfigure_with_the_key,
        errors=(KEY_REJECTED,),
        check=silent_while_refused,
    ),
    # --- the plan -------------------------------------------------------------------------------
    Scenario(
        id="battery_endpoints_forbidden",
        inject=forbid_battery,
        during=6 * HOUR,
        step=timedelta(minutes=15),
        expect_during=Expect(issues=issues("endpoint_forbidden")),
        clear=upgrade_the_plan,
    ),
    Scenario(
        id="rate_limit_minute",
        inject=minute_429,
        during=HOUR,
        expect_during=Expect(power=Power.ANY),
        check=silent_until(timedelta(minutes=1)),
    ),
    Scenario(
        id="rate_limit_month",
        inject=month_429,
        during=MONTH_RESETS - timedelta(minutes=10),
        step=timedelta(minutes=10),
        expect_during=Expect(power=Power.UNAVAILABLE, issues=issues("budget_exhausted")),
        check=silent_until(MONTH_RESETS),
    ),
    # --- Enphase misbehaving ----------------------------------------------------------------
    Scenario(
        id="server_500_burst",
        inject=server_500,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
        check=no_storm,
    ),
    Scenario(
        id="server_503_burst",
        inject=server_503,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
        check=no_storm,
    ),
    Scenario(
        id="api_timeouts",
        hangs=True,
        inject=hang,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
        check=no_storm,
    ),
    Scenario(
        id="malformed_json",
        inject=malformed_json,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
    ),
    Scenario(
        id="html_error_page",
        inject=html_error,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
    ),
    Scenario(
        id="nulls_everywhere",
        inject=nulls,
        during=HOUR,
        expect_during=Expect(power=Power.KEPT),
    ),
    # --- the systems ------------------------------------------------------------------------
    Scenario(
        id="system_silent_8_days",
        inject=silence_battery_site,
        during=SILENCE,
        step=timedelta(hours=3),
        expect_during=Expect(power=Power.UNAVAILABLE),
        clear=nothing,
        after=timedelta(days=2),  # a catch-up of every stream falls due within a day
        backfill=timedelta(days=7),  # the planner's max_backfill: the first day is given up
    ),
    Scenario(
        id="system_removed_from_account",
        systems=ALL_SYSTEMS,
        inject=remove_solar_site,
        during=HOUR,
        expect_during=Expect(power={BATTERY_SITE: Power.FRESH, SOLAR_SITE: Power.KEPT}),
    ),
    Scenario(
        id="one_of_two_systems_failing",
        systems=ALL_SYSTEMS,
        inject=solar_site_503,
        during=2 * HOUR,
        expect_during=Expect(power={BATTERY_SITE: Power.FRESH, SOLAR_SITE: Power.KEPT}),
    ),
    # --- time ---------------------------------------------------------------------------------
    Scenario(
        id="clock_jump_forward",
        inject=jump_forward,
        during=timedelta(minutes=5),
        expect_during=Expect(),
        after=HOUR,
    ),
    Scenario(
        id="clock_jump_back",
        inject=clock_ahead,
        during=2 * HOUR,
        expect_during=Expect(),
        clear=clock_corrected,
    ),
    Scenario(
        id="dst_fall_back",
        starts_at=DST_FALL_BACK,
        inject=nothing,
        during=timedelta(hours=23),
        step=timedelta(minutes=15),
        expect_during=Expect(),
        clear=nothing,
        after=HOUR,
        check=today_restarts_at_local_midnight,
    ),
    Scenario(
        id="dst_spring_forward",
        starts_at=DST_SPRING_FORWARD,
        inject=nothing,
        during=timedelta(hours=23),
        step=timedelta(minutes=15),
        expect_during=Expect(),
        clear=nothing,
        after=HOUR,
        check=today_restarts_at_local_midnight,
    ),
    # --- restarts -----------------------------------------------------------------------------
    Scenario(
        id="restart_during_token_refresh",
        inject=stop_during_refresh,
        during=timedelta(0),
        expect_during=Expect(power=Power.KEPT),
        clear=start_again,
    ),
    Scenario(
        id="restart_with_liveone_backlog",
        inject=liveone_down,
        during=2 * HOUR,
        expect_during=Expect(outbox=OutboxState.BACKOFF, backlog=True),
        clear=restart_then_liveone_back,
        check=flushed_before_restart,
    ),
    # --- LiveOne --------------------------------------------------------------------------------
    Scenario(
        id="liveone_401",
        inject=liveone_status(401),
        during=2 * HOUR,
        expect_during=Expect(
            issues=issues("liveone_auth_failed"), outbox=OutboxState.PAUSED_AUTH, backlog=True
        ),
    ),
    Scenario(
        id="liveone_404",
        inject=liveone_status(404),
        during=2 * HOUR,
        expect_during=Expect(
            issues=issues("liveone_unknown_site"),
            outbox=OutboxState.PAUSED_UNKNOWN_SITE,
            backlog=True,
        ),
    ),
    Scenario(
        id="liveone_422",
        inject=liveone_422_once,
        during=HOUR,
        expect_during=Expect(issues=issues("liveone_dropped_rejected")),
        clear=acknowledge_in_options,
    ),
    Scenario(
        id="liveone_429",
        inject=liveone_status(429, retry_after=600),
        during=HOUR,
        expect_during=Expect(outbox=OutboxState.BACKOFF, backlog=True),
    ),
    Scenario(
        id="liveone_503",
        inject=liveone_status(503),
        during=HOUR,
        expect_during=Expect(outbox=OutboxState.BACKOFF, backlog=True),
    ),
    # --- our own storage ----------------------------------------------------------------------
    Scenario(
        id="corrupt_readings_store",
        inject=damage_store(READINGS_STORE, garbage),
        during=HOUR,
        expect_during=Expect(),
    ),
    Scenario(
        id="truncated_readings_store",
        inject=damage_store(READINGS_STORE, cut_short),
        during=HOUR,
        expect_during=Expect(),
    ),
    Scenario(
        id="corrupt_ledger_store",
        inject=damage_store(LEDGER_STORE + "{app}", garbage),
        during=HOUR,
        expect_during=Expect(),
    ),
    Scenario(
        id="corrupt_outbox_store",
        inject=damage_store(OUTBOX_STORE, garbage),
        during=HOUR,
        expect_during=Expect(),
        resends=True,
    ),
]


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """The scenario of this run."""
    chosen: Scenario = request.param
    return chosen


@pytest.fixture
def sim_clock(scenario: Scenario) -> ManualClock:
    """The simulated clock, at the scenario's start."""
    return ManualClock(scenario.starts_at)


@pytest.fixture
def enphase_cloud(sim_clock: ManualClock) -> EnphaseCloud:
    """Both demo systems on the free plan."""
    sites = [SiteConfig.demo_battery(), SiteConfig.demo_solar_only()]
    return EnphaseCloud(clock=sim_clock, sites=sites)


@pytest.fixture
def liveone_sites() -> dict[str, str]:
    return dict.fromkeys(SITES.values(), KEY)


@pytest.fixture
def run(  # noqa: PLR0917 (fixtures arrive by name)
    hass: HomeAssistant,
    scenario: Scenario,
    enphase_cloud: EnphaseCloud,
    receiver: LiveOneReceiver,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
    login: Callable[..., Any],
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    """One run of the scenario."""
    return Run(
        hass,
        scenario,
        enphase_cloud,
        receiver,
        sim_server,
        time_machine,
        caplog,
        login,
        hass_storage,
        monkeypatch,
    )


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS], indirect=True)
async def test_scenario(run: Run) -> None:
    await run.play()


def test_scenario_ids_are_unique() -> None:
    ids = [scenario.id for scenario in SCENARIOS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 25


def test_the_docs_table_lists_the_scenarios() -> None:
    """docs/FAULTS.md has one row per scenario, no more, no fewer."""
    text = (Path(__file__).parents[2] / "docs" / "FAULTS.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    ids = [row.split("|")[1].strip() for row in rows[1:]]  # the first row is the header
    assert rows[0].startswith("| id |")
    assert ids == [scenario.id for scenario in SCENARIOS]
