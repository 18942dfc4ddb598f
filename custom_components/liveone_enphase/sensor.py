"""Sensors of each Enphase system: power, energy, battery, and how the budget is spent.

Signs follow Home Assistant's energy dashboard: battery power is positive while discharging,
grid power positive while importing; the split sensors (charge/discharge, import/export) are
never negative. Energy counters are lifetime totals that never go backwards (state class
`total_increasing`); each is shown only once its lifetime endpoint has answered, so its first
value is the real total rather than a jump from zero. Today's production is `total` with
`last_reset` at the system's local midnight.

Only what a system has gets an entity: no battery, no battery sensors; no consumption meter, no
consumption or grid sensors; an endpoint outside the Enphase plan (403), no sensor that needs it
(and any such sensor created before is removed).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import LiveOneEnphaseConfigEntry
from .const import DOMAIN
from .coordinator import Freshness, LiveOneEnphaseCoordinator, SystemView
from .enphase import Endpoint
from .entity import EnphaseSystemEntity
from .push_entities import push_entities
from .readings.energy import Stream
from .readings.state import TOTAL_SOURCES, Quantity, SystemReadings

PARALLEL_UPDATES = 0

BATTERY_MODES = ["idle", "charging", "discharging"]
SYSTEM_STATUSES = [
    "normal",
    "comm",
    "micro",
    "power",
    "meter",
    "battery",
    "storage_idle",
    "meter_issue",
    "enpower",
    "encharge",
    "enpower_issue",
    "encharge_issue",
]


@dataclass(frozen=True, kw_only=True)
class EnphaseSensorEntityDescription(SensorEntityDescription):
    """A sensor of one system: whether the system has it, its value, and how it ages."""

    value_fn: Callable[[SystemView], StateType | datetime]
    exists_fn: Callable[[SystemView], bool] = lambda _: True
    freshness: Freshness | None = None
    measured_fn: Callable[[SystemReadings], datetime | None] = lambda _: None
    last_reset_fn: Callable[[SystemView], datetime] | None = None


@dataclass(frozen=True, kw_only=True)
class EnphaseBudgetSensorEntityDescription(SensorEntityDescription):
    """A sensor of the entry's call budget, shown on the entry's first system."""

    value_fn: Callable[[LiveOneEnphaseCoordinator], StateType | datetime]


def _allowed(view: SystemView, *endpoints: Endpoint) -> bool:
    """Whether any of the endpoints is inside the plan (not answered 403)."""
    return any(endpoint not in view.readings.forbidden for endpoint in endpoints)


def _has_battery(view: SystemView) -> bool:
    return view.info.has_battery and _allowed(
        view, Endpoint.LATEST_TELEMETRY, Endpoint.BATTERY_TELEMETRY
    )


def _has_consumption(view: SystemView) -> bool:
    return view.info.has_consumption and _allowed(
        view, Endpoint.LATEST_TELEMETRY, Endpoint.CONSUMPTION_METER
    )


def _power(
    quantity: Quantity, transform: Callable[[float], float] = float
) -> Callable[[SystemView], float | None]:
    def value(view: SystemView) -> float | None:
        reading = view.readings.power.get(quantity)
        return None if reading is None else transform(reading.watts)

    return value


def _measured(quantity: Quantity) -> Callable[[SystemReadings], datetime | None]:
    def measured(readings: SystemReadings) -> datetime | None:
        reading = readings.power.get(quantity)
        return None if reading is None else reading.measured_at

    return measured


def _counter(stream: Stream) -> Callable[[SystemView], float | None]:
    """Read a lifetime counter, once its total is known (before that: unknown)."""

    def value(view: SystemView) -> float | None:
        readings = view.readings
        return readings.energy_wh(stream) if readings.total_known(stream) else None

    return value


def _counter_exists(
    stream: Stream, has: Callable[[SystemView], bool]
) -> Callable[[SystemView], bool]:
    return lambda view: has(view) and _allowed(view, *TOTAL_SOURCES[stream])


def _positive(watts: float) -> float:
    return watts if watts > 0 else 0.0


def _negative(watts: float) -> float:
    return -watts if watts < 0 else 0.0


def _battery_mode(view: SystemView) -> str | None:
    mode = (view.readings.battery_mode or "").lower()
    return mode if mode in BATTERY_MODES else None


def _status(view: SystemView) -> str | None:
    status = (view.info.status or "").lower()
    return status if status in SYSTEM_STATUSES else None


def _power_sensor(
    key: str,
    quantity: Quantity,
    exists: Callable[[SystemView], bool],
    transform: Callable[[float], float] = float,
) -> EnphaseSensorEntityDescription:
    return EnphaseSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_power(quantity, transform),
        exists_fn=exists,
        freshness=Freshness.LIVE,
        measured_fn=_measured(quantity),
    )


def _energy_sensor(
    key: str, stream: Stream, has: Callable[[SystemView], bool]
) -> EnphaseSensorEntityDescription:
    return EnphaseSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_counter(stream),
        exists_fn=_counter_exists(stream, has),
    )


SYSTEM_SENSORS: tuple[EnphaseSensorEntityDescription, ...] = (
    _power_sensor("solar_power", Quantity.SOLAR, lambda _: True),
    _power_sensor("consumption_power", Quantity.CONSUMPTION, _has_consumption),
    _power_sensor("battery_power", Quantity.BATTERY, _has_battery),
    _power_sensor("battery_charge_power", Quantity.BATTERY, _has_battery, _negative),
    _power_sensor("battery_discharge_power", Quantity.BATTERY, _has_battery, _positive),
    _power_sensor("grid_power", Quantity.GRID, _has_consumption),
    _power_sensor("grid_import_power", Quantity.GRID, _has_consumption, _positive),
    _power_sensor("grid_export_power", Quantity.GRID, _has_consumption, _negative),
    _energy_sensor("solar_energy", Stream.PRODUCTION, lambda _: True),
    _energy_sensor("consumption_energy", Stream.CONSUMPTION, lambda v: v.info.has_consumption),
    _energy_sensor("battery_charge_energy", Stream.BATTERY_CHARGE, lambda v: v.info.has_battery),
    _energy_sensor(
        "battery_discharge_energy", Stream.BATTERY_DISCHARGE, lambda v: v.info.has_battery
    ),
    _energy_sensor("grid_import_energy", Stream.GRID_IMPORT, lambda v: v.info.has_consumption),
    _energy_sensor("grid_export_energy", Stream.GRID_EXPORT, lambda v: v.info.has_consumption),
    EnphaseSensorEntityDescription(
        key="solar_energy_today",
        translation_key="solar_energy_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda v: v.readings.day_wh(Stream.PRODUCTION, v.readings.today(v.now)),
        last_reset_fn=lambda v: v.today_start,
    ),
    EnphaseSensorEntityDescription(
        key="state_of_charge",
        translation_key="state_of_charge",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda v: None if v.readings.soc is None else v.readings.soc.percent,
        exists_fn=lambda v: v.info.has_battery and _allowed(v, Endpoint.BATTERY_TELEMETRY),
        freshness=Freshness.SOC,
        measured_fn=lambda r: None if r.soc is None else r.soc.measured_at,
    ),
    EnphaseSensorEntityDescription(
        key="battery_mode",
        translation_key="battery_mode",
        device_class=SensorDeviceClass.ENUM,
        options=BATTERY_MODES,
        value_fn=_battery_mode,
        exists_fn=lambda v: v.info.has_battery and _allowed(v, Endpoint.LATEST_TELEMETRY),
        freshness=Freshness.LIVE,
        measured_fn=_measured(Quantity.BATTERY),
    ),
    EnphaseSensorEntityDescription(
        key="last_report",
        translation_key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda v: v.readings.last_report_at,
    ),
    EnphaseSensorEntityDescription(
        key="system_status",
        translation_key="system_status",
        device_class=SensorDeviceClass.ENUM,
        options=SYSTEM_STATUSES,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_status,
    ),
)

BUDGET_SENSORS: tuple[EnphaseBudgetSensorEntityDescription, ...] = (
    EnphaseBudgetSensorEntityDescription(
        key="api_calls_used",
        translation_key="api_calls_used",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.budget_status().used,
    ),
    EnphaseBudgetSensorEntityDescription(
        key="api_calls_left",
        translation_key="api_calls_left",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.budget_status().hard_left,
    ),
    EnphaseBudgetSensorEntityDescription(
        key="next_poll",
        translation_key="next_poll",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.next_poll_at,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LiveOneEnphaseConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each system's sensors as soon as its hardware is known, and drop those it lacks."""
    coordinator = entry.runtime_data.coordinator
    registry = er.async_get(hass)
    async_add_entities(push_entities(entry))
    added: set[str] = set()

    @callback
    def async_sync_entities() -> None:
        new: list[SensorEntity] = []
        for system_id in coordinator.system_ids:
            if (view := coordinator.view(system_id)) is None:
                continue
            for description in SYSTEM_SENSORS:
                unique_id = f"{system_id}_{description.key}"
                if not description.exists_fn(view):
                    _async_remove(registry, unique_id, added)
                elif unique_id not in added:
                    added.add(unique_id)
                    new.append(EnphaseSystemSensor(coordinator, system_id, description))
            if system_id == coordinator.system_ids[0]:
                for budget_description in BUDGET_SENSORS:
                    unique_id = f"{system_id}_{budget_description.key}"
                    if unique_id not in added:
                        added.add(unique_id)
                        new.append(EnphaseBudgetSensor(coordinator, system_id, budget_description))
        if new:
            async_add_entities(new)

    async_sync_entities()
    entry.async_on_unload(coordinator.async_add_listener(async_sync_entities))


def _async_remove(registry: er.EntityRegistry, unique_id: str, added: set[str]) -> None:
    """Remove a sensor the system does not (or no longer) support."""
    added.discard(unique_id)
    if entity_id := registry.async_get_entity_id("sensor", DOMAIN, unique_id):
        registry.async_remove(entity_id)


class EnphaseSystemSensor(EnphaseSystemEntity, SensorEntity):
    """A measurement of one system."""

    entity_description: EnphaseSensorEntityDescription

    def __init__(
        self,
        coordinator: LiveOneEnphaseCoordinator,
        system_id: int,
        description: EnphaseSensorEntityDescription,
    ) -> None:
        super().__init__(coordinator, system_id, description.key)
        self.entity_description = description

    @property
    def available(self) -> bool:
        """Unavailable once the value is too old to be true (see the coordinator)."""
        view = self.view
        if view is None:
            return False
        freshness = self.entity_description.freshness
        if freshness is None:
            return True
        measured_at = self.entity_description.measured_fn(view.readings)
        return self.coordinator.is_fresh(view.readings, freshness, measured_at)

    @property
    def native_value(self) -> StateType | datetime:
        """The value, from the coordinator's readings."""
        view = self.view
        return None if view is None else self.entity_description.value_fn(view)

    @property
    def last_reset(self) -> datetime | None:
        """When a daily total restarted."""
        view = self.view
        last_reset_fn = self.entity_description.last_reset_fn
        return None if view is None or last_reset_fn is None else last_reset_fn(view)


class EnphaseBudgetSensor(EnphaseSystemEntity, SensorEntity):
    """How the entry's application spends its calls."""

    entity_description: EnphaseBudgetSensorEntityDescription

    def __init__(
        self,
        coordinator: LiveOneEnphaseCoordinator,
        system_id: int,
        description: EnphaseBudgetSensorEntityDescription,
    ) -> None:
        super().__init__(coordinator, system_id, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> StateType | datetime:
        """The value, from the coordinator and the ledger."""
        return self.entity_description.value_fn(self.coordinator)
