"""Interval telemetry: micro, meters, battery, grid import and export.

Every interval is stamped with `end_at`, the END of the interval (micro intervals are 5 minutes,
meter and battery intervals 15). A window past the last report comes back as an empty tuple.
`devices_reporting` can drop within a day (16 → 8 → 1): that marks a partial interval, not a
real dip in output.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Self, TypedDict

from ..readers import JsonObject
from .systems import SystemMeta


@dataclass(frozen=True, slots=True)
class MicroInterval:
    """A 5-minute interval of all microinverters together."""

    end_at: datetime
    devices_reporting: int | None
    power_w: float | None
    energy_wh: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "interval") -> Self:
        """Parse one production_micro interval (`powr` average W, `enwh` Wh)."""
        obj = JsonObject(data, path)
        return cls(
            end_at=obj.req_time("end_at"),
            devices_reporting=obj.opt_int("devices_reporting"),
            power_w=obj.opt_float("powr"),
            energy_wh=obj.opt_float("enwh"),
        )


@dataclass(frozen=True, slots=True)
class MeterInterval:
    """A 15-minute interval of the production or consumption meter."""

    end_at: datetime
    devices_reporting: int | None
    energy_wh: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "interval") -> Self:
        """Parse one meter interval: production sends `wh_del`, consumption sends `enwh`."""
        obj = JsonObject(data, path)
        key = "wh_del" if obj.has("wh_del") else "enwh"
        return cls(
            end_at=obj.req_time("end_at"),
            devices_reporting=obj.opt_int("devices_reporting"),
            energy_wh=obj.opt_float(key),
        )


@dataclass(frozen=True, slots=True)
class BatteryInterval:
    """A 15-minute battery interval: energy in, energy out, and state of charge at its end."""

    end_at: datetime
    charge_wh: float | None
    discharge_wh: float | None
    soc_pct: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "interval") -> Self:
        """Parse one battery interval (`charge.enwh`, `discharge.enwh`, `soc.percent`)."""
        obj = JsonObject(data, path)
        charge = obj.nested("charge", JsonObject)
        discharge = obj.nested("discharge", JsonObject)
        soc = obj.nested("soc", JsonObject)
        return cls(
            end_at=obj.req_time("end_at"),
            charge_wh=charge.opt_float("enwh") if charge else None,
            discharge_wh=discharge.opt_float("enwh") if discharge else None,
            soc_pct=soc.opt_float("percent") if soc else None,
        )


@dataclass(frozen=True, slots=True)
class ImportInterval:
    """A 15-minute interval of energy imported from the grid."""

    end_at: datetime
    energy_wh: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "interval") -> Self:
        """Parse one energy_import_telemetry interval (`wh_imported`)."""
        obj = JsonObject(data, path)
        return cls(end_at=obj.req_time("end_at"), energy_wh=obj.opt_float("wh_imported"))


@dataclass(frozen=True, slots=True)
class ExportInterval:
    """A 15-minute interval of energy exported to the grid."""

    end_at: datetime
    energy_wh: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "interval") -> Self:
        """Parse one energy_export_telemetry interval (`wh_exported`)."""
        obj = JsonObject(data, path)
        return cls(end_at=obj.req_time("end_at"), energy_wh=obj.opt_float("wh_exported"))


class _WindowFields(TypedDict):
    system_id: int
    granularity: str | None
    total_devices: int | None
    start_at: datetime | None
    end_at: datetime | None
    meta: SystemMeta | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryWindow:
    """What every interval telemetry response says about itself.

    `start_at`/`end_at` bound the window the server answered for (its `end_at` is the request
    time when the window reaches into the future). `meta` tells how fresh the system's data is;
    not every endpoint sends it.
    """

    system_id: int
    granularity: str | None
    total_devices: int | None
    start_at: datetime | None
    end_at: datetime | None
    meta: SystemMeta | None


def _window(obj: JsonObject) -> _WindowFields:
    return {
        "system_id": obj.req_int("system_id"),
        "granularity": obj.opt_str("granularity"),
        "total_devices": obj.opt_int("total_devices"),
        "start_at": obj.opt_time("start_at"),
        "end_at": obj.opt_time("end_at"),
        "meta": obj.nested("meta", SystemMeta.from_dict),
    }


def _intervals[T](obj: JsonObject, parse: Callable[[object, str], T]) -> tuple[T, ...]:
    """Parse `intervals`, flattening the extra list level import/export responses wrap it in."""
    parsed: list[T] = []
    for index, item in enumerate(obj.array("intervals")):
        path = f"{obj.path}.intervals[{index}]"
        if isinstance(item, list):
            parsed.extend(parse(inner, f"{path}[{pos}]") for pos, inner in enumerate(item))
        else:
            parsed.append(parse(item, path))
    return tuple(parsed)


@dataclass(frozen=True, slots=True, kw_only=True)
class MicroTelemetry(TelemetryWindow):
    """GET .../telemetry/production_micro."""

    intervals: tuple[MicroInterval, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "production_micro") -> Self:
        """Parse a production_micro response."""
        obj = JsonObject(data, path)
        return cls(**_window(obj), intervals=_intervals(obj, MicroInterval.from_dict))


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterTelemetry(TelemetryWindow):
    """GET .../telemetry/production_meter or .../telemetry/consumption_meter."""

    intervals: tuple[MeterInterval, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "meter_telemetry") -> Self:
        """Parse a production_meter or consumption_meter response."""
        obj = JsonObject(data, path)
        return cls(**_window(obj), intervals=_intervals(obj, MeterInterval.from_dict))


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryTelemetry(TelemetryWindow):
    """GET .../telemetry/battery.

    `last_reported_aggregate_soc_pct` is the site's last state of charge, sent by Enphase as a
    string like "97%".
    """

    intervals: tuple[BatteryInterval, ...]
    last_reported_aggregate_soc_pct: float | None

    @classmethod
    def from_dict(cls, data: object, path: str = "battery_telemetry") -> Self:
        """Parse a battery telemetry response."""
        obj = JsonObject(data, path)
        return cls(
            **_window(obj),
            intervals=_intervals(obj, BatteryInterval.from_dict),
            last_reported_aggregate_soc_pct=obj.opt_percent("last_reported_aggregate_soc"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportTelemetry(TelemetryWindow):
    """GET .../energy_import_telemetry."""

    intervals: tuple[ImportInterval, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "energy_import_telemetry") -> Self:
        """Parse an energy_import_telemetry response."""
        obj = JsonObject(data, path)
        return cls(**_window(obj), intervals=_intervals(obj, ImportInterval.from_dict))


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportTelemetry(TelemetryWindow):
    """GET .../energy_export_telemetry."""

    intervals: tuple[ExportInterval, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "energy_export_telemetry") -> Self:
        """Parse an energy_export_telemetry response."""
        obj = JsonObject(data, path)
        return cls(**_window(obj), intervals=_intervals(obj, ExportInterval.from_dict))
