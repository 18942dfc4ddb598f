"""Lifetime endpoints: one energy total per day, from `start_date`, with no gaps.

Trailing zeros mean "not reported yet", not "no energy": `DailySeries` separates them so nobody
books a day as 0 Wh that will be filled in later. The rule cannot tell a real run of zero days
(a battery home that imports nothing) from a pending one; callers that care compare with the
response's `meta.last_energy_at`.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Self

from ..errors import EnphaseMalformedResponseError
from ..readers import JsonObject
from .systems import SystemMeta


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Daily Wh from `start_date` on (None only when the series is empty)."""

    start_date: date | None
    daily_wh: tuple[float, ...]

    @classmethod
    def read(cls, obj: JsonObject, key: str) -> Self:
        """Read the array under `key`, dated by the response's `start_date`."""
        start_date = obj.opt_date("start_date")
        daily_wh = obj.numbers(key)
        if daily_wh:
            if start_date is None:
                raise EnphaseMalformedResponseError(f"{obj.path}.start_date: missing")
            if (date.max - start_date).days < len(daily_wh) - 1:
                raise EnphaseMalformedResponseError(f"{obj.path}.{key}: runs past year 9999")
        return cls(start_date=start_date, daily_wh=daily_wh)

    @property
    def unreported_days(self) -> int:
        """How many trailing days are zero, i.e. not reported yet."""
        reported = len(self.daily_wh)
        while reported and self.daily_wh[reported - 1] == 0:
            reported -= 1
        return len(self.daily_wh) - reported

    def _dated(self) -> list[tuple[date, float]]:
        if self.start_date is None:
            return []
        return [
            (self.start_date + timedelta(days=offset), wh)
            for offset, wh in enumerate(self.daily_wh)
        ]

    def reported(self) -> tuple[tuple[date, float], ...]:
        """(day, Wh) for every day up to the last one that reported a non-zero total."""
        dated = self._dated()
        return tuple(dated[: len(dated) - self.unreported_days])

    def unreported_dates(self) -> tuple[date, ...]:
        """List the trailing days whose zero means "not reported yet" (never book them as 0 Wh)."""
        dated = self._dated()
        return tuple(day for day, _ in dated[len(dated) - self.unreported_days :])


@dataclass(frozen=True, slots=True)
class EnergyLifetime:
    """GET .../energy_lifetime: daily production.

    `production` is the merged series (microinverters until `meter_start_date`, the meter
    after). `micro_production`/`meter_production` are only sent when asked for with
    production=all, and are None otherwise.
    """

    system_id: int
    production: DailySeries
    micro_production: DailySeries | None
    meter_production: DailySeries | None
    meter_start_date: date | None
    meta: SystemMeta | None

    @classmethod
    def from_dict(cls, data: object, path: str = "energy_lifetime") -> Self:
        """Parse an energy_lifetime response."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            production=DailySeries.read(obj, "production"),
            micro_production=(
                DailySeries.read(obj, "micro_production") if obj.has("micro_production") else None
            ),
            meter_production=(
                DailySeries.read(obj, "meter_production") if obj.has("meter_production") else None
            ),
            meter_start_date=obj.opt_date("meter_start_date"),
            meta=obj.nested("meta", SystemMeta.from_dict),
        )


@dataclass(frozen=True, slots=True)
class ConsumptionLifetime:
    """GET .../consumption_lifetime: daily consumption from the consumption meter."""

    system_id: int
    consumption: DailySeries
    meta: SystemMeta | None

    @classmethod
    def from_dict(cls, data: object, path: str = "consumption_lifetime") -> Self:
        """Parse a consumption_lifetime response."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            consumption=DailySeries.read(obj, "consumption"),
            meta=obj.nested("meta", SystemMeta.from_dict),
        )


@dataclass(frozen=True, slots=True)
class BatteryLifetime:
    """GET .../battery_lifetime: daily energy charged into and discharged from the batteries."""

    system_id: int
    charge: DailySeries
    discharge: DailySeries
    meta: SystemMeta | None

    @classmethod
    def from_dict(cls, data: object, path: str = "battery_lifetime") -> Self:
        """Parse a battery_lifetime response."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            charge=DailySeries.read(obj, "charge"),
            discharge=DailySeries.read(obj, "discharge"),
            meta=obj.nested("meta", SystemMeta.from_dict),
        )


@dataclass(frozen=True, slots=True)
class ImportLifetime:
    """GET .../energy_import_lifetime: daily energy imported from the grid."""

    system_id: int
    imported: DailySeries
    meta: SystemMeta | None

    @classmethod
    def from_dict(cls, data: object, path: str = "energy_import_lifetime") -> Self:
        """Parse an energy_import_lifetime response (the array is under `import`)."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            imported=DailySeries.read(obj, "import"),
            meta=obj.nested("meta", SystemMeta.from_dict),
        )


@dataclass(frozen=True, slots=True)
class ExportLifetime:
    """GET .../energy_export_lifetime: daily energy exported to the grid."""

    system_id: int
    exported: DailySeries
    meta: SystemMeta | None

    @classmethod
    def from_dict(cls, data: object, path: str = "energy_export_lifetime") -> Self:
        """Parse an energy_export_lifetime response (the array is under `export`)."""
        obj = JsonObject(data, path)
        return cls(
            system_id=obj.req_int("system_id"),
            exported=DailySeries.read(obj, "export"),
            meta=obj.nested("meta", SystemMeta.from_dict),
        )
