"""Which Enphase cloud an entry talks to: Enphase's own, or (development only) a local simulator.

Development-only switch: set the environment variable

    LIVEONE_ENPHASE_DEV_CLOUD=http://127.0.0.1:PORT

before Home Assistant starts (tests and `scripts/develop` do, pointing it at `python -m sim
serve`). A config flow started while it is set logs a warning, sends the user's login, the token
requests and the API calls to that URL instead of https://api.enphaseenergy.com, and stores the
URL in the entry (`dev_cloud_url`). The entry then keeps talking to the cloud it was created with,
whatever the environment says later; entries created without the switch always talk to Enphase.

So that it can never be turned on by accident, or send a user's tokens to another host, the value
is accepted only when it is an http(s) URL whose host is a loopback IP literal (127.0.0.0/8 or
::1), with an optional port and nothing else (no user info, path, query or fragment). Any other
value is ignored with a warning. There is no UI for it.
"""

import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from .const import CONF_DEV_CLOUD_URL
from .enphase.const import DEFAULT_BASE_URL

_LOGGER = logging.getLogger(__name__)

DEV_CLOUD_ENV: Final = "LIVEONE_ENPHASE_DEV_CLOUD"


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    """The root URL of one Enphase cloud; OAuth and the Monitoring API hang off it."""

    base_url: str

    @property
    def authorize_url(self) -> str:
        """Where the user logs in and approves the application."""
        return f"{self.base_url}/oauth/authorize"

    @property
    def token_url(self) -> str:
        """Where codes and refresh tokens are exchanged for tokens."""
        return f"{self.base_url}/oauth/token"


ENPHASE_CLOUD: Final = CloudEndpoints(DEFAULT_BASE_URL)


def dev_cloud_url_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """Return the development cloud URL if the switch is set to an acceptable value."""
    raw = environ.get(DEV_CLOUD_ENV)
    if not raw:
        return None
    url = _loopback_base_url(raw)
    if url is None:
        _LOGGER.warning(
            "Ignoring %s=%r: only an http(s) URL of a loopback address (e.g. "
            "http://127.0.0.1:8080) is accepted; using the real Enphase cloud",
            DEV_CLOUD_ENV,
            raw,
        )
        return None
    _LOGGER.warning("%s is set: this flow talks to %s, not to Enphase", DEV_CLOUD_ENV, url)
    return url


def cloud_for(dev_cloud_url: str | None) -> CloudEndpoints:
    """Return the development cloud if one was chosen, else Enphase's."""
    return CloudEndpoints(dev_cloud_url) if dev_cloud_url else ENPHASE_CLOUD


def cloud_for_entry(data: Mapping[str, Any]) -> CloudEndpoints:
    """Return the cloud an entry was created with."""
    return cloud_for(data.get(CONF_DEV_CLOUD_URL))


def _loopback_base_url(raw: str) -> str | None:
    """Normalise `raw` to scheme://host[:port] if it names a loopback address, else None."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port  # raises ValueError for a malformed port
        host = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not host.is_loopback
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        return None
    netloc = f"[{host}]" if host.version == 6 else str(host)
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")
