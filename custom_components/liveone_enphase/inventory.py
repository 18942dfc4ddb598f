"""What a system is: its name, time zone and hardware, read rarely from /systems and /devices.

The hardware decides which endpoints the planner uses and which entities exist (no battery, no
battery sensors), and names the device in Home Assistant. It changes about never, so it is
fetched once, cached in the entry's store and read again only every `INVENTORY_MAX_AGE`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Self

from homeassistant.helpers.device_registry import DeviceInfo

from .const import DOMAIN
from .enphase import Device, Devices, LatestTelemetry, System
from .stored import Record, epoch_time, flag, integer, text

INVENTORY_MAX_AGE: Final = timedelta(days=30)
ENLIGHTEN_SYSTEM_URL: Final = "https://enlighten.enphaseenergy.com/systems/{system_id}"

# Meter `config_type`s that measure the site's consumption (and with it, the grid).
_CONSUMPTION_CONFIGS: Final = frozenset({"net", "total"})


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """One system as the device registry and the planner need it."""

    system_id: int
    name: str
    timezone: str | None
    status: str | None
    has_battery: bool
    has_consumption: bool
    has_production_meter: bool
    gateway_model: str | None
    gateway_firmware: str | None
    fetched_at: datetime

    @classmethod
    def from_api(cls, system: System, devices: Devices, fetched_at: datetime) -> Self:
        """Read a system's details and its device list."""
        meters = [meter for meter in devices.meters if _in_service(meter)]
        configs = {(meter.config_type or "").lower() for meter in meters}
        gateway = next(iter(devices.gateways), None)
        return cls(
            system_id=system.system_id,
            name=system.name or str(system.system_id),
            timezone=system.timezone,
            status=system.status,
            has_battery=any(_in_service(battery) for battery in devices.encharges),
            has_consumption=bool(configs & _CONSUMPTION_CONFIGS),
            has_production_meter="production" in configs,
            gateway_model=None if gateway is None else gateway.model or gateway.product_name,
            gateway_firmware=None if gateway is None else gateway.firmware,
            fetched_at=fetched_at,
        )

    @classmethod
    def from_latest(cls, system: System, latest: LatestTelemetry, fetched_at: datetime) -> Self:
        """Tell the hardware from the live readings when the device list is outside the plan."""
        names = {meter.name for meter in latest.meters}
        return cls(
            system_id=system.system_id,
            name=system.name or str(system.system_id),
            timezone=system.timezone,
            status=system.status,
            has_battery=bool(latest.encharges),
            has_consumption="consumption" in names,
            has_production_meter="production" in names,
            gateway_model=None,
            gateway_firmware=None,
            fetched_at=fetched_at,
        )

    @property
    def device_info(self) -> DeviceInfo:
        """The system as a Home Assistant device: one per system, named after it."""
        return DeviceInfo(
            identifiers={(DOMAIN, str(self.system_id))},
            manufacturer="Enphase Energy",
            model=self.gateway_model,
            sw_version=self.gateway_firmware,
            name=self.name,
            configuration_url=ENLIGHTEN_SYSTEM_URL.format(system_id=self.system_id),
        )

    def is_due(self, now: datetime) -> bool:
        """Whether the hardware should be read again."""
        return now - self.fetched_at >= INVENTORY_MAX_AGE

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the entry's store."""
        return {
            "system_id": self.system_id,
            "name": self.name,
            "timezone": self.timezone,
            "status": self.status,
            "has_battery": self.has_battery,
            "has_consumption": self.has_consumption,
            "has_production_meter": self.has_production_meter,
            "gateway_model": self.gateway_model,
            "gateway_firmware": self.gateway_firmware,
            "fetched_at": self.fetched_at.timestamp(),
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "system") -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        obj = Record(data, path)
        return cls(
            system_id=obj.get("system_id", integer),
            name=obj.get("name", text),
            timezone=obj.opt("timezone", text),
            status=obj.opt("status", text),
            has_battery=obj.get("has_battery", flag),
            has_consumption=obj.get("has_consumption", flag),
            has_production_meter=obj.get("has_production_meter", flag),
            gateway_model=obj.opt("gateway_model", text),
            gateway_firmware=obj.opt("gateway_firmware", text),
            fetched_at=obj.get("fetched_at", epoch_time),
        )


def _in_service(device: Device) -> bool:
    """Devices Enphase lists as inactive or disabled do not count."""
    return device.active is not False and (device.state or "enabled").lower() != "disabled"
