"""Fixed facts about the Enphase Monitoring API v4 that the client relies on."""

from enum import StrEnum
from typing import Final

DEFAULT_BASE_URL: Final = "https://api.enphaseenergy.com"
API_PATH: Final = "/api/v4/"

# The documented maximum page size of GET /systems: fewest calls to list every system.
SYSTEMS_PAGE_SIZE: Final = 100


class Granularity(StrEnum):
    """Interval telemetry granularity; the API's default is `day`."""

    FIVE_MINUTES = "5mins"
    FIFTEEN_MINUTES = "15mins"
    DAY = "day"
    WEEK = "week"


class Endpoint(StrEnum):
    """Endpoint templates, relative to /api/v4/.

    Guards and logs see these templates, never a filled-in URL, so a budget ledger can count
    calls per endpoint without parsing URLs.
    """

    SYSTEMS = "systems"
    SYSTEM = "systems/{system_id}"
    SUMMARY = "systems/{system_id}/summary"
    DEVICES = "systems/{system_id}/devices"
    LATEST_TELEMETRY = "systems/{system_id}/latest_telemetry"
    PRODUCTION_MICRO = "systems/{system_id}/telemetry/production_micro"
    PRODUCTION_METER = "systems/{system_id}/telemetry/production_meter"
    CONSUMPTION_METER = "systems/{system_id}/telemetry/consumption_meter"
    BATTERY_TELEMETRY = "systems/{system_id}/telemetry/battery"
    ENERGY_IMPORT_TELEMETRY = "systems/{system_id}/energy_import_telemetry"
    ENERGY_EXPORT_TELEMETRY = "systems/{system_id}/energy_export_telemetry"
    ENERGY_LIFETIME = "systems/{system_id}/energy_lifetime"
    CONSUMPTION_LIFETIME = "systems/{system_id}/consumption_lifetime"
    BATTERY_LIFETIME = "systems/{system_id}/battery_lifetime"
    ENERGY_IMPORT_LIFETIME = "systems/{system_id}/energy_import_lifetime"
    ENERGY_EXPORT_LIFETIME = "systems/{system_id}/energy_export_lifetime"
