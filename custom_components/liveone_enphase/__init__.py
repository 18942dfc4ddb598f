"""LiveOne Enphase: Enphase cloud data in Home Assistant, pushed on to LiveOne.

Setup builds the Enphase client for the entry and checks that its login still holds (a token
refresh if the access token expired), but calls no Enphase API: every call counts against a
small monthly budget, and the coordinator decides when to spend it.
"""

from dataclasses import dataclass
from typing import Final

from aiohttp import ClientError, ClientResponseError
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .auth import TokenProvider, async_entry_token_provider
from .cloud import cloud_for_entry
from .const import CONF_SYSTEM_IDS, DOMAIN
from .enphase import EnphaseClient

PLATFORMS: list[Platform] = []

# Token endpoint answers that mean the grant is dead and only a new login helps; any other
# failure (5xx, 429, no answer) may heal by itself.
AUTH_FAILURE_STATUSES: Final = frozenset({400, 401, 403})


@dataclass(slots=True)
class LiveOneEnphaseData:
    """What a loaded entry holds: its client, the client's token source, the chosen systems."""

    client: EnphaseClient
    token_provider: TokenProvider
    system_ids: tuple[int, ...]


type LiveOneEnphaseConfigEntry = ConfigEntry[LiveOneEnphaseData]


async def async_setup_entry(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> bool:
    """Build the client for the entry once its login is known to hold."""
    try:
        token_provider = await async_entry_token_provider(hass, entry)
    except ValueError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="credentials_missing"
        ) from err
    await _async_check_login(token_provider)
    entry.runtime_data = LiveOneEnphaseData(
        client=EnphaseClient(
            async_get_clientsession(hass),
            token_provider,
            entry.data[CONF_API_KEY],
            base_url=cloud_for_entry(entry.data).base_url,
        ),
        token_provider=token_provider,
        system_ids=tuple(entry.data[CONF_SYSTEM_IDS]),
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> bool:
    """Unload the platforms; the client shares HA's HTTP session, so nothing else to close."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


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
