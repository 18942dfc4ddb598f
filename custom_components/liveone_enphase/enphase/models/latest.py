"""GET /systems/{system_id}/latest_telemetry: the last reported power of each device.

The response is nested per device (not the flat object some write-ups show), and a meter reports
one entry per channel (phase). A device silent for more than 7 days has `power`,
`last_report_at` and `operational_mode` null; such readings are kept but never summed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Self

from ..readers import JsonObject


@dataclass(frozen=True, slots=True)
class MeterChannelReading:
    """One channel of a production or consumption meter.

    `name` is "production" or "consumption". Consumption is what Enphase reports: for sites in
    Net configuration it is production + grid and does not include the battery.
    """

    device_id: str | None
    name: str | None
    channel: int | None
    last_report_at: datetime | None
    power_w: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "meter") -> Self:
        """Parse one meter channel."""
        obj = JsonObject(data, path)
        return cls(
            device_id=obj.opt_id("id"),
            name=obj.opt_str("name"),
            channel=obj.opt_int("channel"),
            last_report_at=obj.opt_time("last_report_at"),
            power_w=obj.opt_float("power"),
        )


@dataclass(frozen=True, slots=True)
class BatteryReading:
    """One IQ Battery (encharge).

    `power_w` keeps Enphase's sign: NEGATIVE while the battery charges, POSITIVE while it
    discharges (supplies the site). `operational_mode` is Idle, Charging or Discharging.
    """

    device_id: str | None
    name: str | None
    channel: int | None
    last_report_at: datetime | None
    power_w: float | None
    operational_mode: str | None

    @classmethod
    def from_dict(cls, data: object, path: str = "encharge") -> Self:
        """Parse one encharge entry."""
        obj = JsonObject(data, path)
        return cls(
            device_id=obj.opt_id("id"),
            name=obj.opt_str("name"),
            channel=obj.opt_int("channel"),
            last_report_at=obj.opt_time("last_report_at"),
            power_w=obj.opt_float("power"),
            operational_mode=obj.opt_str("operational_mode"),
        )


@dataclass(frozen=True, slots=True)
class ApplianceReading:
    """An EV charger or heat pump: only its mode is reported (e.g. CHARGING, MODE_2)."""

    serial_number: str | None
    name: str | None
    last_report_at: datetime | None
    operational_mode: str | None

    @classmethod
    def from_dict(cls, data: object, path: str = "appliance") -> Self:
        """Parse one evse or heat-pump entry."""
        obj = JsonObject(data, path)
        return cls(
            serial_number=obj.opt_str("serial_number"),
            name=obj.opt_str("name"),
            last_report_at=obj.opt_time("last_report_at"),
            operational_mode=obj.opt_str("operational_mode"),
        )


def _sum_reported(powers: Iterable[float | None]) -> float | None:
    """Sum the readings that are not null; None when none is (unknown is not zero)."""
    reported = [power for power in powers if power is not None]
    return sum(reported) if reported else None


@dataclass(frozen=True, slots=True)
class LatestTelemetry:
    """Per-device readings plus site-level sums over the channels that reported."""

    system_id: int
    meters: tuple[MeterChannelReading, ...]
    encharges: tuple[BatteryReading, ...]
    evse: tuple[ApplianceReading, ...]
    heat_pumps: tuple[ApplianceReading, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "latest_telemetry") -> Self:
        """Parse a latest_telemetry response; unknown device groups are ignored."""
        obj = JsonObject(data, path)
        devices = obj.nested("devices", JsonObject) or JsonObject({}, f"{path}.devices")
        heat_pump_key = "heat-pump" if devices.has("heat-pump") else "heat_pump"
        return cls(
            system_id=obj.req_int("system_id"),
            meters=devices.each("meters", MeterChannelReading.from_dict),
            encharges=devices.each("encharges", BatteryReading.from_dict),
            evse=devices.each("evse", ApplianceReading.from_dict),
            heat_pumps=devices.each(heat_pump_key, ApplianceReading.from_dict),
        )

    def _meter_sum(self, name: str) -> float | None:
        return _sum_reported(meter.power_w for meter in self.meters if meter.name == name)

    @property
    def production_w(self) -> float | None:
        """Solar production: the sum of the production meter's reporting channels."""
        return self._meter_sum("production")

    @property
    def consumption_w(self) -> float | None:
        """Site consumption as Enphase reports it: the sum of the consumption meter's channels."""
        return self._meter_sum("consumption")

    @property
    def battery_w(self) -> float | None:
        """Total battery power, Enphase's sign: negative = charging, positive = discharging."""
        return _sum_reported(battery.power_w for battery in self.encharges)

    @property
    def battery_mode(self) -> str | None:
        """The operational mode of the battery that reported most recently."""
        reporting = [
            (battery.last_report_at, battery.operational_mode)
            for battery in self.encharges
            if battery.last_report_at is not None
        ]
        return max(reporting, key=itemgetter(0))[1] if reporting else None

    @property
    def last_report_at(self) -> datetime | None:
        """The most recent report of any device."""
        readings: tuple[MeterChannelReading | BatteryReading | ApplianceReading, ...] = (
            *self.meters,
            *self.encharges,
            *self.evse,
            *self.heat_pumps,
        )
        times = [reading.last_report_at for reading in readings if reading.last_report_at]
        return max(times, default=None)
