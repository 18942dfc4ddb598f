"""Enphase's OAuth endpoints, and the one place that sends token requests to them.

Enphase authenticates the OAuth client with HTTP Basic (`client_id:client_secret`) on the token
endpoint, for the code exchange and for every refresh. HA's default implementation posts the
secret in the form body, so `EnphaseAuthImplementation._token_request` replaces it; the secret
is never put in a body or a URL.
"""

import base64
import logging
from typing import Any, Final, Self, override

from aiohttp import ClientResponse, ClientResponseError, ClientTimeout, RequestInfo, hdrs
from homeassistant.components.application_credentials import (
    AuthImplementation,
    AuthorizationServer,
    ClientCredential,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    MY_AUTH_CALLBACK_PATH,
    AbstractOAuth2Implementation,
)
from multidict import CIMultiDict, CIMultiDictProxy

from .cloud import ENPHASE_CLOUD, CloudEndpoints
from .const import DEVELOPER_PORTAL_URL, TOKEN_REQUEST_OBSERVER

_LOGGER = logging.getLogger(__name__)

# A refresh that hangs would hold the token lock, and with it every API call, for aiohttp's
# five-minute default; a token request that takes this long has failed.
TOKEN_REQUEST_TIMEOUT: Final = ClientTimeout(total=30)

# HA's base class adds these to the request data; Enphase gets them as HTTP Basic instead.
_CLIENT_FIELDS: Final = frozenset({"client_id", "client_secret"})

# OAuth error codes that blame the client (id or secret) rather than the code or refresh token.
_CLIENT_ERRORS: Final = frozenset({"invalid_client", "unauthorized_client", "unauthorized"})


class TokenRequestRejectedError(ClientResponseError):
    """The token endpoint answered with an error status.

    It is a `ClientResponseError`, so HA's OAuth helper and setup treat it by status (4xx: the
    grant is dead, reauthenticate; 5xx: try again later). `oauth_error` is the OAuth `error`
    code from the body, if there was one.
    """

    def __init__(self, response: ClientResponse, oauth_error: str | None) -> None:
        super().__init__(
            _redacted_request_info(response),
            response.history,
            status=response.status,
            message=oauth_error or response.reason or "",
            headers=response.headers,
        )
        self.oauth_error = oauth_error


class AuthorizationCodeRejectedError(Exception):
    """Enphase refused to exchange the code the user brought back from the login.

    Deliberately not a `ClientError`: HA's flow turns those into a generic abort, and this one
    carries the abort `reason` the config flow shows instead ("invalid_client": wrong client
    id or secret; "invalid_code": the code was invalid, used or expired).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnphaseAuthImplementation(AuthImplementation):
    """Application credentials bound to one Enphase cloud, sending the client as HTTP Basic."""

    def __init__(
        self,
        hass: HomeAssistant,
        auth_domain: str,
        credential: ClientCredential,
        cloud: CloudEndpoints,
    ) -> None:
        super().__init__(
            hass,
            auth_domain,
            credential,
            AuthorizationServer(authorize_url=cloud.authorize_url, token_url=cloud.token_url),
        )
        self._credential = credential
        self.cloud = cloud

    def for_cloud(self, cloud: CloudEndpoints) -> Self:
        """Return the same credentials talking to `cloud` (the one a flow or entry is bound to)."""
        return type(self)(self.hass, self.domain, self._credential, cloud)

    @override
    async def async_resolve_external_data(self, external_data: Any) -> dict[str, Any]:
        """Exchange the code, telling a refused code apart from refused client credentials."""
        try:
            return await super().async_resolve_external_data(external_data)
        except TokenRequestRejectedError as err:
            if err.status >= 500:
                raise
            client_blamed = err.status in (401, 403) or err.oauth_error in _CLIENT_ERRORS
            raise AuthorizationCodeRejectedError(
                "invalid_client" if client_blamed else "invalid_code"
            ) from err

    @override
    async def _token_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """Send one token request (code exchange or refresh) and return the token.

        Every token request of the integration passes through here, and the observer registered
        under `TOKEN_REQUEST_OBSERVER` (the API budget) is told of each one. Raises
        `TokenRequestRejectedError` for an error status, `ClientResponseError` for a body that
        is not a JSON object, and aiohttp's other errors (or `TimeoutError`) when no answer came.
        """
        form = {key: value for key, value in data.items() if key not in _CLIENT_FIELDS}
        session = async_get_clientsession(self.hass)
        status: int | None = None
        try:
            async with session.post(
                self.token_url,
                data=form,
                headers={hdrs.AUTHORIZATION: self._basic_authorization()},
                timeout=TOKEN_REQUEST_TIMEOUT,
            ) as response:
                status = response.status
                return await _token_from(response, form.get("grant_type"))
        finally:
            if (observe := self.hass.data.get(TOKEN_REQUEST_OBSERVER)) is not None:
                observe(self.client_id, status)

    def _basic_authorization(self) -> str:
        """Build the HTTP Basic header (aiohttp 3.14 deprecates its BasicAuth helper)."""
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return f"Basic {base64.b64encode(pair).decode('ascii')}"


async def _token_from(response: ClientResponse, grant_type: object) -> dict[str, Any]:
    """Return the token a token response carries, or raise what the response says went wrong."""
    body = await _json_or_none(response)
    if response.status >= 400:
        oauth_error = _oauth_error(body)
        _LOGGER.debug("Token request (%s) refused: %s %s", grant_type, response.status, oauth_error)
        raise TokenRequestRejectedError(response, oauth_error)
    if not isinstance(body, dict):
        raise ClientResponseError(
            _redacted_request_info(response),
            response.history,
            status=response.status,
            message="token response is not a JSON object",
            headers=response.headers,
        )
    return body


def _redacted_request_info(response: ClientResponse) -> RequestInfo:
    """Return the request info without our Authorization header.

    An aiohttp error's repr shows the request headers, and ours carry the client secret.
    """
    info = response.request_info
    headers = CIMultiDict(info.headers)
    headers[hdrs.AUTHORIZATION] = "Basic <redacted>"
    return RequestInfo(info.url, info.method, CIMultiDictProxy(headers), info.real_url)


async def _json_or_none(response: ClientResponse) -> object:
    """Return the decoded body, or None when it is not JSON."""
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None


def _oauth_error(body: object) -> str | None:
    """Return the OAuth `error` code of an error body, if it has one."""
    if isinstance(body, dict) and isinstance(error := body.get("error"), str):
        return error
    return None


def bind_to_cloud(
    implementation: AbstractOAuth2Implementation, cloud: CloudEndpoints
) -> AbstractOAuth2Implementation:
    """Point our implementation at the cloud a flow or entry uses; others are left as they are."""
    if isinstance(implementation, EnphaseAuthImplementation):
        return implementation.for_cloud(cloud)
    return implementation


async def async_get_auth_implementation(
    hass: HomeAssistant, auth_domain: str, credential: ClientCredential
) -> EnphaseAuthImplementation:
    """HA asks for one implementation per stored credential; flows and setup rebind the cloud."""
    return EnphaseAuthImplementation(hass, auth_domain, credential, ENPHASE_CLOUD)


async def async_get_description_placeholders(hass: HomeAssistant) -> dict[str, str]:
    """Tell the user where to create the Enphase application and which redirect URI it needs."""
    return {
        "developer_portal_url": DEVELOPER_PORTAL_URL,
        "redirect_url": MY_AUTH_CALLBACK_PATH,
    }
