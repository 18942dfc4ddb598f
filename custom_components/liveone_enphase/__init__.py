"""LiveOne Enphase: Enphase cloud data in Home Assistant, pushed on to LiveOne.

Setup loads the call ledger of the entry's Enphase application (shared with every entry that
uses the same application) before anything can spend a call, checks that the login still holds
(a token refresh if the access token expired: counted by the ledger), builds the client with the
ledger as its guard and hands over to the coordinator, whose first refresh calls Enphase only if
the planner says it is time.
"""

from dataclasses import dataclass
from functools import partial

from aiohttp import ClientError, ClientResponseError
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import async_get_config_entry_implementation
from homeassistant.util import dt as dt_util

from .auth import AUTH_FAILURE_STATUSES, TokenProvider, async_entry_token_provider
from .cloud import cloud_for_entry
from .const import CONF_SYSTEM_IDS, DOMAIN
from .coordinator import LiveOneEnphaseCoordinator
from .enphase import EnphaseClient
from .issues import (
    async_delete_budget_issues,
    async_delete_system_issues,
    async_update_api_key_issue,
)
from .plan import PlanOptions
from .push import LiveOnePush, async_remove_push, async_setup_push
from .statistics import EntryHistory
from .store import EntryStore, async_get_budgets, client_id_of

PLATFORMS: list[Platform] = [Platform.SENSOR]


@dataclass(slots=True)
class LiveOneEnphaseData:
    """What a loaded entry holds: its client, the client's token source, the chosen systems."""

    client: EnphaseClient
    token_provider: TokenProvider
    system_ids: tuple[int, ...]
    coordinator: LiveOneEnphaseCoordinator
    push: LiveOnePush | None
    """Pushing to LiveOne; None while it is off."""


type LiveOneEnphaseConfigEntry = ConfigEntry[LiveOneEnphaseData]


async def async_setup_entry(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> bool:
    """Load the budget, check the login, let the coordinator poll as planned, then push."""
    try:
        implementation = await async_get_config_entry_implementation(hass, entry)
        token_provider = await async_entry_token_provider(hass, entry)
    except ValueError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="credentials_missing"
        ) from err
    client_id = client_id_of(implementation)
    budgets = async_get_budgets(hass)
    plan = PlanOptions.from_options(entry.options)
    budget = await budgets.async_acquire(client_id, entry.entry_id, plan.limits())
    entry.async_on_unload(partial(budgets.async_release, client_id, entry.entry_id))
    await _async_check_login(token_provider)
    system_ids = tuple(entry.data[CONF_SYSTEM_IDS])
    client = EnphaseClient(
        async_get_clientsession(hass),
        token_provider,
        entry.data[CONF_API_KEY],
        base_url=cloud_for_entry(entry.data).base_url,
        guard=budget.ledger,
        clock=dt_util.utcnow,
    )
    coordinator = LiveOneEnphaseCoordinator(hass, entry, client, budget, system_ids)
    await _async_first_refresh(coordinator)
    _async_remove_stale_devices(hass, entry, system_ids)
    push = await async_setup_push(hass, entry, coordinator)
    entry.runtime_data = LiveOneEnphaseData(client, token_provider, system_ids, coordinator, push)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_options_updated(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> None:
    """Apply a changed plan option in place (the LiveOne options have their own listener).

    No reload: the ledger keeps its counts and the coordinator re-plans at once.
    """
    limits = PlanOptions.from_options(entry.options).limits()
    await entry.runtime_data.coordinator.async_set_plan(limits)


async def async_unload_entry(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> bool:
    """Unload the platforms; the coordinator and the budget release themselves on unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> None:
    """Delete the entry's readings, history store and issues.

    The application's ledger stays (Enphase counts), and so do the hourly statistics: they are
    the user's history.
    """
    await EntryStore(hass, entry.entry_id).async_remove()
    await EntryHistory(hass, entry.entry_id).async_remove()
    await async_remove_push(hass, entry.entry_id)
    async_delete_system_issues(hass, entry.data[CONF_SYSTEM_IDS])
    async_update_api_key_issue(hass, entry.entry_id, entry.title, rejected=False)
    async_delete_budget_issues(
        hass, (budget.key for budget in async_get_budgets(hass).loaded.values())
    )


def _async_remove_stale_devices(
    hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry, system_ids: tuple[int, ...]
) -> None:
    """Remove the devices (and so the entities) of systems no longer chosen for the entry."""
    registry = dr.async_get(hass)
    wanted = {(DOMAIN, str(system_id)) for system_id in system_ids}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & wanted:
            registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)


async def _async_first_refresh(coordinator: LiveOneEnphaseCoordinator) -> None:
    """Run the first refresh, keeping the translated reason of a setup retry.

    HA 2026.10 copies the refresh failure's translation onto its `ConfigEntryNotReady`; 2026.3
    raises a bare one, which leaves the entry's retry reason blank. Copying it here shows the
    reason on every release.
    """
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady as err:
        cause = err.__cause__
        if err.translation_key is not None or not isinstance(cause, HomeAssistantError):
            raise
        raise ConfigEntryNotReady(
            translation_domain=cause.translation_domain,
            translation_key=cause.translation_key,
            translation_placeholders=cause.translation_placeholders,
        ) from cause


async def _async_check_login(token_provider: TokenProvider) -> None:
    """Make sure a valid access token exists, refreshing it if needed.

    A refused refresh (400/401/403: invalid_grant, revoked) needs a new login, so HA starts
    reauth; anything else is retried later without bothering the user.
    """
    try:
        await token_provider()
    except ClientResponseError as err:
        if err.status in AUTH_FAILURE_STATUSES:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="login_expired"
            ) from err
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_failed"
        ) from err
    except (ClientError, TimeoutError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_failed"
        ) from err
