"""Diagnostic sensors of the LiveOne push: how many readings wait, and when LiveOne last acked.

They belong to the entry (unique ids `<entry_id>_liveone_…`) and sit on the device of its first
system, next to the budget sensors. They exist only while pushing is on; they are told of every
change of the outbox, so they never poll.
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
from homeassistant.const import EntityCategory

from . import LiveOneEnphaseConfigEntry
from .liveone import OutboxStatus
from .push import SENSOR_LAST_PUSH, SENSOR_PENDING, LiveOnePush


@dataclass(frozen=True, kw_only=True)
class LiveOnePushSensorEntityDescription(SensorEntityDescription):
    """A sensor read from the outbox's status."""

    value_fn: Callable[[OutboxStatus], int | datetime | None]


PUSH_SENSORS: tuple[LiveOnePushSensorEntityDescription, ...] = (
    LiveOnePushSensorEntityDescription(
        key=SENSOR_PENDING,
        translation_key=SENSOR_PENDING,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.pending_readings,
    ),
    LiveOnePushSensorEntityDescription(
        key=SENSOR_LAST_PUSH,
        translation_key=SENSOR_LAST_PUSH,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.last_ack_at,
    ),
)


def push_entities(entry: LiveOneEnphaseConfigEntry) -> list[SensorEntity]:
    """Return the push sensors of a loaded entry (none while pushing is off)."""
    push = entry.runtime_data.push
    if push is None:
        return []
    return [LiveOnePushSensor(entry, push, description) for description in PUSH_SENSORS]


class LiveOnePushSensor(SensorEntity):
    """One figure of the entry's LiveOne outbox."""

    entity_description: LiveOnePushSensorEntityDescription
    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: LiveOneEnphaseConfigEntry,
        push: LiveOnePush,
        description: LiveOnePushSensorEntityDescription,
    ) -> None:
        self.entity_description = description
        self._push = push
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        coordinator = entry.runtime_data.coordinator
        known = [sid for sid in coordinator.system_ids if sid in coordinator.inventory]
        if known:
            self._attr_device_info = coordinator.inventory[known[0]].device_info

    async def async_added_to_hass(self) -> None:
        """Follow the outbox."""
        self.async_on_remove(self._push.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> int | datetime | None:
        """The figure, from the outbox's current status."""
        return self.entity_description.value_fn(self._push.status)
