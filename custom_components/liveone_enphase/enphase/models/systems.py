"""Systems, their summary, and the `meta` block that telemetry and lifetime responses carry.

The deprecated `energy_lifetime`, `energy_today` and `system_size` of /systems are always -1
since July 2023, so they are deliberately not modelled: read them from `Summary`.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Self

from ..readers import JsonObject, zone_or_utc


@dataclass(frozen=True, slots=True)
class Address:
    """A system's coarse location, as much of it as Enphase shares."""

    city: str | None
    state: str | None
    country: str | None
    postal_code: str | None

    @classmethod
    def from_dict(cls, data: object, path: str = "address") -> Self:
        """Parse an `address` object."""
        obj = JsonObject(data, path)
        return cls(
            city=obj.opt_str("city"),
            state=obj.opt_str("state"),
            country=obj.opt_str("country"),
            postal_code=obj.opt_str("postal_code"),
        )


@dataclass(frozen=True, slots=True)
class System:
    """One system (site) from /systems or /systems/{system_id}.

    `timezone` is kept as Enphase sends it, legacy names such as "US/Eastern" included.
    `interconnect_date` arrives as a date string, as epoch seconds (read in the system's own
    timezone, so the calendar day is the installer's) or as null.
    """

    system_id: int
    name: str
    public_name: str | None
    timezone: str | None
    address: Address | None
    connection_type: str | None
    status: str | None
    last_report_at: datetime | None
    last_energy_at: datetime | None
    operational_at: datetime | None
    attachment_type: str | None
    interconnect_date: date | None
    reference: str | None
    other_references: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "system") -> Self:
        """Parse a system object."""
        obj = JsonObject(data, path)
        timezone = obj.opt_str("timezone")
        return cls(
            system_id=obj.req_int("system_id"),
            name=obj.req_str("name"),
            public_name=obj.opt_str("public_name"),
            timezone=timezone,
            address=obj.nested("address", Address.from_dict),
            connection_type=obj.opt_str("connection_type"),
            status=obj.opt_str("status"),
            last_report_at=obj.opt_time("last_report_at"),
            last_energy_at=obj.opt_time("last_energy_at"),
            operational_at=obj.opt_time("operational_at"),
            attachment_type=obj.opt_str("attachment_type"),
            interconnect_date=obj.opt_date("interconnect_date", zone_or_utc(timezone)),
            reference=obj.opt_str("reference"),
            other_references=obj.strings("other_references"),
        )


@dataclass(frozen=True, slots=True)
class SystemsPage:
    """One page of GET /systems (the client's `systems()` follows all pages)."""

    total: int | None
    current_page: int | None
    size: int | None
    count: int | None
    systems: tuple[System, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "systems") -> Self:
        """Parse a /systems page."""
        obj = JsonObject(data, path)
        return cls(
            total=obj.opt_int("total"),
            current_page=obj.opt_int("current_page"),
            size=obj.opt_int("size"),
            count=obj.opt_int("count"),
            systems=obj.each("systems", System.from_dict),
        )


@dataclass(frozen=True, slots=True)
class EvsePowerLimit:
    """An EV charger's charge-power range from the summary's `evse_power`."""

    serial_number: str
    max_charge_w: float | None
    min_charge_w: float | None


def _evse_limits(data: object, path: str) -> tuple[EvsePowerLimit, ...]:
    """Parse one `evse_power` element: a map from serial number to that charger's limits."""
    obj = JsonObject(data, path)
    limits = []
    for serial in obj.names():
        entry = obj.nested(serial, JsonObject)
        limits.append(
            EvsePowerLimit(
                serial_number=serial,
                max_charge_w=entry.opt_float("evse_max_charge_w") if entry else None,
                min_charge_w=entry.opt_float("evse_min_charge_w") if entry else None,
            )
        )
    return tuple(limits)


@dataclass(frozen=True, slots=True)
class Summary:
    """GET /systems/{system_id}/summary.

    `energy_lifetime_wh` runs up to the end of yesterday; `energy_today_wh` is today so far.
    `battery_charge_w`/`battery_discharge_w` are the batteries' maximum rates, not live power.
    """

    system_id: int
    current_power_w: float | None
    energy_today_wh: float | None
    energy_lifetime_wh: float | None
    last_report_at: datetime | None
    last_interval_end_at: datetime | None
    operational_at: datetime | None
    size_w: float | None
    modules: int | None
    status: str | None
    source: str | None
    summary_date: date | None
    nmi: str | None
    battery_charge_w: float | None
    battery_discharge_w: float | None
    battery_capacity_wh: float | None
    evse_power: tuple[EvsePowerLimit, ...]

    @classmethod
    def from_dict(cls, data: object, path: str = "summary") -> Self:
        """Parse a summary object."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            current_power_w=obj.opt_float("current_power"),
            energy_today_wh=obj.opt_float("energy_today"),
            energy_lifetime_wh=obj.opt_float("energy_lifetime"),
            last_report_at=obj.opt_time("last_report_at"),
            last_interval_end_at=obj.opt_time("last_interval_end_at"),
            operational_at=obj.opt_time("operational_at"),
            size_w=obj.opt_float("size_w"),
            modules=obj.opt_int("modules"),
            status=obj.opt_str("status"),
            source=obj.opt_str("source"),
            summary_date=obj.opt_date("summary_date"),
            nmi=obj.opt_id("nmi"),
            battery_charge_w=obj.opt_float("battery_charge_w"),
            battery_discharge_w=obj.opt_float("battery_discharge_w"),
            battery_capacity_wh=obj.opt_float("battery_capacity_wh"),
            evse_power=tuple(
                limit for limits in obj.each("evse_power", _evse_limits) for limit in limits
            ),
        )


@dataclass(frozen=True, slots=True)
class SystemMeta:
    """The `meta` block of telemetry and lifetime responses: how fresh the system's data is."""

    status: str | None
    last_report_at: datetime | None
    last_energy_at: datetime | None
    operational_at: datetime | None

    @classmethod
    def from_dict(cls, data: object, path: str = "meta") -> Self:
        """Parse a `meta` object."""
        obj = JsonObject(data, path)
        return cls(
            status=obj.opt_str("status"),
            last_report_at=obj.opt_time("last_report_at"),
            last_energy_at=obj.opt_time("last_energy_at"),
            operational_at=obj.opt_time("operational_at"),
        )
