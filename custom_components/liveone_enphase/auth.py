"""Access tokens for the Enphase client, kept fresh by HA's OAuth2 session.

HA's `OAuth2Session` refreshes an expired token under a lock and stores the new token (with
the rotated refresh token) in the config entry, whose store HA flushes at shutdown. Its lock
belongs to one session object, though, and an entry can have two sessions at once (the loaded
entry's and a reconfigure flow's): two concurrent refreshes with the same refresh token would
leave one of them holding a token Enphase has already retired. So every session of an entry
also takes a per-entry lock; the second caller then finds the token the first one stored.

A refused refresh starts reauth here: HA 2026.10's session does that itself, 2026.3's does not,
and a caller that maps the refusal onto a retry would otherwise never ask the user to log in.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import ClientResponseError
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.config_entry_oauth2_flow import (
    OAuth2Session,
    async_get_config_entry_implementation,
)
from homeassistant.util.hass_dict import HassKey

from .application_credentials import bind_to_cloud
from .cloud import cloud_for_entry
from .const import DOMAIN

type TokenProvider = Callable[[], Awaitable[str]]

# Token endpoint answers that mean the grant is dead and only a new login helps; any other
# failure (5xx, 429, no answer) may heal by itself.
AUTH_FAILURE_STATUSES: Final = frozenset({400, 401, 403})

_TOKEN_LOCKS: HassKey[dict[str, asyncio.Lock]] = HassKey(f"{DOMAIN}_token_locks")


async def async_entry_token_provider(hass: HomeAssistant, entry: ConfigEntry) -> TokenProvider:
    """Return a provider of valid access tokens for `entry`, from the cloud it was created with.

    Raises ValueError when the entry's application credentials are gone (HA 2026.10 raises its
    `UnknownImplementationError`, which is both a ValueError and a ConfigEntryAuthFailed).
    The provider raises what HA's OAuth2 session raises: `aiohttp.ClientResponseError` (or a
    subclass) when the token endpoint refused, other aiohttp errors or `TimeoutError` when it
    did not answer.
    """
    implementation = await async_get_config_entry_implementation(hass, entry)
    session = OAuth2Session(hass, entry, bind_to_cloud(implementation, cloud_for_entry(entry.data)))
    lock = hass.data.setdefault(_TOKEN_LOCKS, {}).setdefault(entry.entry_id, asyncio.Lock())

    async def access_token() -> str:
        async with lock:
            try:
                await session.async_ensure_token_valid()
            except ClientResponseError as err:
                if err.status in AUTH_FAILURE_STATUSES:
                    entry.async_start_reauth(hass)  # a no-op while a reauth flow is open
                raise
            return str(session.token["access_token"])

    return access_token
