"""The base of every entity: one Enphase system's device, fed by the entry's coordinator."""

from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import LiveOneEnphaseCoordinator, SystemView


class EnphaseSystemEntity(CoordinatorEntity[LiveOneEnphaseCoordinator]):
    """An entity of one Enphase system; it never polls, the coordinator does."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: LiveOneEnphaseCoordinator, system_id: int, key: str) -> None:
        super().__init__(coordinator)
        self.system_id = system_id
        self._attr_unique_id = f"{system_id}_{key}"
        self._attr_device_info = coordinator.inventory[system_id].device_info

    @property
    def view(self) -> SystemView | None:
        """The system's current info and readings."""
        return self.coordinator.view(self.system_id)

    @property
    def available(self) -> bool:
        """Available while the system is known, even if the last poll failed.

        A failed poll does not make a value untrue; values that age are judged by their own
        freshness (see the coordinator).
        """
        return self.view is not None
