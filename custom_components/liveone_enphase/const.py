"""Constants shared by the Home Assistant layer of LiveOne Enphase.

Config entry data (written by the config flow, read by setup):
- `auth_implementation`, `token`: HA's OAuth2 helper owns these; the token carries Enphase's
  `enl_uid`, the account id that is the entry's unique id.
- `api_key`: the Enphase application's API key, sent with every Monitoring API call.
- `system_ids`: the Enphase system ids (ints) the user chose to add.
- `dev_cloud_url`: present only when the entry was created while the development-only switch
  `LIVEONE_ENPHASE_DEV_CLOUD` pointed the flow at a local simulator (see `cloud.py`).
"""

from collections.abc import Callable
from typing import Final

from homeassistant.util.hass_dict import HassKey

DOMAIN: Final = "liveone_enphase"

CONF_SYSTEM_IDS: Final = "system_ids"
CONF_DEV_CLOUD_URL: Final = "dev_cloud_url"

# Where a user creates the Enphase application whose client id, secret and API key we need.
DEVELOPER_PORTAL_URL: Final = "https://developer-v4.enphase.com"

# Told of every token request (code exchange or refresh) once it ended: the application's client
# id and the HTTP status (None when no answer came). Enphase charges token requests to the plan,
# so the budget ledger registers itself here. A plain callback: no I/O, never raises.
type TokenRequestObserver = Callable[[str, int | None], None]
TOKEN_REQUEST_OBSERVER: Final[HassKey[TokenRequestObserver]] = HassKey(
    f"{DOMAIN}_token_request_observer"
)
