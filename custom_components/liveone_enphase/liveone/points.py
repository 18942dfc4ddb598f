"""The self-describing points this integration pushes to LiveOne, and how readings are built.

Units: the unit in a key's name IS its `metricUnit`.
- `*_w`: power in W; `battery_soc`: state of charge in %.
- `*_kwh_total`: lifetime counters in kWh (`transform: "d"`). These are the names of LiveOne's
  older `readings` columns, so a receiver that maps keys onto them gets the unit the name says.
  The integration counts in Wh; totals are sent as kWh rounded to 3 decimals, so no Wh is lost.
- `*_wh_interval`: energy in one reporting interval, in Wh (LiveOne's per-interval convention).

Signs (LiveOne's, as its fixed-field push endpoint documents them): `battery_w` positive while
CHARGING, `grid_w` positive while IMPORTING. Inside the integration powers follow Home
Assistant's convention (battery positive while DISCHARGING, grid positive while importing);
`ha_to_liveone_power` is the one place that converts.

Times: every reading carries its own `measurementTime`: the instant of the measurement for
power, state of charge and totals, and the END of the interval for interval energy.

Nothing is invented: an input that is None, NaN or infinite produces no reading, and nothing is
interpolated.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .times import iso_utc

type Value = float | int | str

CUMULATIVE_TRANSFORM: Final = "d"


@dataclass(frozen=True, slots=True)
class Point:
    """What LiveOne needs to know about a point to store it without a schema change."""

    key: str
    metric_type: str
    metric_unit: str
    subsystem: str | None = None
    logical_path_stem: str | None = None
    default_name: str | None = None
    cumulative: bool = False

    def reading(self, value: Value, measured_at: datetime) -> Reading:
        """Return a reading of this point."""
        return Reading(self, value, measured_at)


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value of one point at one instant."""

    point: Point
    value: Value
    measured_at: datetime

    def __post_init__(self) -> None:
        """Refuse values LiveOne would skip: a reading we build must be storable."""
        if self.measured_at.tzinfo is None:
            raise ValueError("a reading's time must be timezone-aware")
        if isinstance(self.value, bool) or (
            isinstance(self.value, float) and not math.isfinite(self.value)
        ):
            raise ValueError(f"{self.point.key}: {self.value!r} is not a storable value")

    def to_wire(self) -> dict[str, object]:
        """Return the reading as the contract's JSON object."""
        point = self.point
        wire: dict[str, object] = {
            "physicalPathTail": point.key,
            "value": self.value,
            "metricType": point.metric_type,
            "metricUnit": point.metric_unit,
            "measurementTime": iso_utc(self.measured_at),
        }
        optional = {
            "logicalPathStem": point.logical_path_stem,
            "defaultName": point.default_name,
            "subsystem": point.subsystem,
            "transform": CUMULATIVE_TRANSFORM if point.cumulative else None,
        }
        wire.update({name: text for name, text in optional.items() if text is not None})
        return wire


def _power(key: str, subsystem: str, name: str) -> Point:
    return Point(key, "power", "W", subsystem, subsystem, name)


def _total(key: str, subsystem: str, stem: str, name: str) -> Point:
    return Point(key, "energy", "kWh", subsystem, stem, name, cumulative=True)


def _interval(key: str, subsystem: str, stem: str, name: str) -> Point:
    return Point(key, "energy", "Wh", subsystem, stem, name)


SOLAR_W: Final = _power("solar_w", "solar", "Solar power")
LOAD_W: Final = _power("load_w", "load", "Load power")
BATTERY_W: Final = _power("battery_w", "battery", "Battery power (+ charging)")
GRID_W: Final = _power("grid_w", "grid", "Grid power (+ importing)")
BATTERY_SOC: Final = Point(
    "battery_soc", "soc", "%", "battery", "battery.soc", "Battery state of charge"
)

SOLAR_KWH_TOTAL: Final = _total("solar_kwh_total", "solar", "solar", "Solar energy")
LOAD_KWH_TOTAL: Final = _total("load_kwh_total", "load", "load", "Load energy")
BATTERY_IN_KWH_TOTAL: Final = _total(
    "battery_in_kwh_total", "battery", "battery.charge", "Battery energy charged"
)
BATTERY_OUT_KWH_TOTAL: Final = _total(
    "battery_out_kwh_total", "battery", "battery.discharge", "Battery energy discharged"
)
GRID_IN_KWH_TOTAL: Final = _total("grid_in_kwh_total", "grid", "grid.import", "Grid import")
GRID_OUT_KWH_TOTAL: Final = _total("grid_out_kwh_total", "grid", "grid.export", "Grid export")

SOLAR_WH_INTERVAL: Final = _interval(
    "solar_wh_interval", "solar", "solar", "Solar energy in interval"
)
LOAD_WH_INTERVAL: Final = _interval("load_wh_interval", "load", "load", "Load energy in interval")
BATTERY_IN_WH_INTERVAL: Final = _interval(
    "battery_in_wh_interval", "battery", "battery.charge", "Battery charged in interval"
)
BATTERY_OUT_WH_INTERVAL: Final = _interval(
    "battery_out_wh_interval", "battery", "battery.discharge", "Battery discharged in interval"
)
GRID_IN_WH_INTERVAL: Final = _interval(
    "grid_in_wh_interval", "grid", "grid.import", "Grid import in interval"
)
GRID_OUT_WH_INTERVAL: Final = _interval(
    "grid_out_wh_interval", "grid", "grid.export", "Grid export in interval"
)

POINTS: Final[Mapping[str, Point]] = {
    point.key: point
    for point in (
        SOLAR_W,
        LOAD_W,
        BATTERY_W,
        GRID_W,
        BATTERY_SOC,
        SOLAR_KWH_TOTAL,
        LOAD_KWH_TOTAL,
        BATTERY_IN_KWH_TOTAL,
        BATTERY_OUT_KWH_TOTAL,
        GRID_IN_KWH_TOTAL,
        GRID_OUT_KWH_TOTAL,
        SOLAR_WH_INTERVAL,
        LOAD_WH_INTERVAL,
        BATTERY_IN_WH_INTERVAL,
        BATTERY_OUT_WH_INTERVAL,
        GRID_IN_WH_INTERVAL,
        GRID_OUT_WH_INTERVAL,
    )
}


def ha_to_liveone_power(point: Point, ha_value_w: float) -> float:
    """Convert a power from Home Assistant's sign convention to LiveOne's.

    Only the battery differs: HA's battery power is positive while discharging, LiveOne's
    `battery_w` positive while charging, so it flips. Grid (positive importing in both), solar and
    load pass through unchanged. A zero stays +0.0 so JSON never says "-0.0".
    """
    if point.key == BATTERY_W.key:
        return -ha_value_w + 0.0
    return ha_value_w


@dataclass(frozen=True, slots=True)
class PowerSample:
    """Instantaneous powers at one instant, in Home Assistant's sign convention.

    `battery_w` is positive while DISCHARGING, `grid_w` positive while importing (the energy
    dashboard's single-sensor convention). None means "not measured".
    """

    measured_at: datetime
    solar_w: float | None = None
    load_w: float | None = None
    battery_w: float | None = None
    grid_w: float | None = None
    battery_soc_pct: float | None = None


@dataclass(frozen=True, slots=True)
class EnergyTotals:
    """Lifetime energy counters in Wh at one instant (never decreasing); None: not measured."""

    measured_at: datetime
    solar_wh: float | None = None
    load_wh: float | None = None
    battery_in_wh: float | None = None
    battery_out_wh: float | None = None
    grid_in_wh: float | None = None
    grid_out_wh: float | None = None


@dataclass(frozen=True, slots=True)
class EnergyInterval:
    """Energy in Wh over one reporting interval that ended at `end_at`; None: not measured."""

    end_at: datetime
    solar_wh: float | None = None
    load_wh: float | None = None
    battery_in_wh: float | None = None
    battery_out_wh: float | None = None
    grid_in_wh: float | None = None
    grid_out_wh: float | None = None


def power_readings(sample: PowerSample) -> list[Reading]:
    """Return the measured powers and state of charge of `sample`, in LiveOne's signs."""
    powers = (
        (SOLAR_W, sample.solar_w),
        (LOAD_W, sample.load_w),
        (BATTERY_W, sample.battery_w),
        (GRID_W, sample.grid_w),
    )
    readings = [
        point.reading(ha_to_liveone_power(point, value), sample.measured_at)
        for point, value in _measured(powers)
    ]
    readings += [
        point.reading(value, sample.measured_at)
        for point, value in _measured([(BATTERY_SOC, sample.battery_soc_pct)])
    ]
    return readings


def total_readings(totals: EnergyTotals) -> list[Reading]:
    """Return the measured lifetime counters of `totals`, converted from Wh to kWh."""
    counters = (
        (SOLAR_KWH_TOTAL, totals.solar_wh),
        (LOAD_KWH_TOTAL, totals.load_wh),
        (BATTERY_IN_KWH_TOTAL, totals.battery_in_wh),
        (BATTERY_OUT_KWH_TOTAL, totals.battery_out_wh),
        (GRID_IN_KWH_TOTAL, totals.grid_in_wh),
        (GRID_OUT_KWH_TOTAL, totals.grid_out_wh),
    )
    return [
        point.reading(wh_to_kwh(value), totals.measured_at) for point, value in _measured(counters)
    ]


def interval_readings(interval: EnergyInterval) -> list[Reading]:
    """Return the measured energies of one interval, in Wh, timed at the interval's end."""
    energies = (
        (SOLAR_WH_INTERVAL, interval.solar_wh),
        (LOAD_WH_INTERVAL, interval.load_wh),
        (BATTERY_IN_WH_INTERVAL, interval.battery_in_wh),
        (BATTERY_OUT_WH_INTERVAL, interval.battery_out_wh),
        (GRID_IN_WH_INTERVAL, interval.grid_in_wh),
        (GRID_OUT_WH_INTERVAL, interval.grid_out_wh),
    )
    return [point.reading(value, interval.end_at) for point, value in _measured(energies)]


def wh_to_kwh(value_wh: float) -> float:
    """Convert Wh to kWh, rounded to whole Wh so float noise never reaches LiveOne."""
    return round(value_wh / 1000, 3)


def _measured(pairs: Iterable[tuple[Point, float | None]]) -> list[tuple[Point, float]]:
    """Keep the pairs whose value was actually measured (not None, NaN or infinite)."""
    return [(point, value) for point, value in pairs if value is not None and math.isfinite(value)]
