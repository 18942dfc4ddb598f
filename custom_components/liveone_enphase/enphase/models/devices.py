"""GET /systems/{system_id}/devices: the hardware of a site, for the device registry."""

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Self

from ..readers import JsonObject


@dataclass(frozen=True, slots=True)
class Device:
    """One device of any kind; fields a kind does not have are None.

    `kind` is the group Enphase listed it under ("micros", "meters", "gateways", "encharges",
    "enpowers", "ev_chargers", ... kept verbatim, so new kinds pass through). `firmware` is a
    gateway's `emu_sw_version` or another device's `firmware`. `config_type` (meters only) is
    Production, Net or Total and decides what "consumption" means. `active` may arrive as the
    string "true" and is read as a boolean.
    """

    kind: str
    device_id: str | None
    name: str | None
    serial_number: str | None
    part_number: str | None
    sku: str | None
    model: str | None
    product_name: str | None
    status: str | None
    active: bool | None
    last_report_at: datetime | None
    firmware: str | None
    config_type: str | None
    config_phase: str | None
    state: str | None

    @classmethod
    def from_dict(cls, data: object, path: str = "device", kind: str = "") -> Self:
        """Parse one device object of the given kind."""
        obj = JsonObject(data, path)
        return cls(
            kind=kind,
            device_id=obj.opt_id("id"),
            name=obj.opt_str("name"),
            serial_number=obj.opt_str("serial_number"),
            part_number=obj.opt_str("part_number"),
            sku=obj.opt_str("sku") or obj.opt_str("SKU"),
            model=obj.opt_str("model"),
            product_name=obj.opt_str("product_name"),
            status=obj.opt_str("status"),
            active=obj.opt_bool("active"),
            last_report_at=obj.opt_time("last_report_at"),
            firmware=obj.opt_str("emu_sw_version") or obj.opt_str("firmware"),
            config_type=obj.opt_str("config_type"),
            config_phase=obj.opt_str("config_phase"),
            state=obj.opt_str("state"),
        )


@dataclass(frozen=True, slots=True)
class Devices:
    """Every device of a system, in the order Enphase listed them."""

    system_id: int
    total_devices: int | None
    devices: tuple[Device, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "devices") -> Self:
        """Parse a /devices response; every group under `devices` must be a list."""
        obj = JsonObject(data, path)
        groups = obj.nested("devices", JsonObject)
        devices: list[Device] = []
        if groups is not None:
            for kind in groups.names():
                devices.extend(groups.each(kind, partial(Device.from_dict, kind=kind)))
        return cls(
            system_id=obj.req_int("system_id"),
            total_devices=obj.opt_int("total_devices"),
            devices=tuple(devices),
        )

    def of_kind(self, kind: str) -> tuple[Device, ...]:
        """Select the devices Enphase listed under `kind`."""
        return tuple(device for device in self.devices if device.kind == kind)

    @property
    def gateways(self) -> tuple[Device, ...]:
        """IQ Gateways (Envoys)."""
        return self.of_kind("gateways")

    @property
    def meters(self) -> tuple[Device, ...]:
        """Production and consumption meters (see `config_type`)."""
        return self.of_kind("meters")

    @property
    def micros(self) -> tuple[Device, ...]:
        """Microinverters."""
        return self.of_kind("micros")

    @property
    def encharges(self) -> tuple[Device, ...]:
        """IQ Batteries."""
        return self.of_kind("encharges")

    @property
    def enpowers(self) -> tuple[Device, ...]:
        """IQ System Controllers."""
        return self.of_kind("enpowers")

    @property
    def ev_chargers(self) -> tuple[Device, ...]:
        """EV chargers."""
        return self.of_kind("ev_chargers")
