"""The six places the budget benchmark runs at, from the tropics to beyond the Arctic Circle."""

from dataclasses import dataclass
from datetime import date

from sim.enphase import SiteConfig
from sim.enphase.config import Address, ConsumptionMetering


@dataclass(frozen=True, slots=True)
class Place:
    """A location and the kind of system installed there."""

    name: str
    latitude: float
    longitude: float
    timezone: str
    country: str
    battery: bool
    consumption: ConsumptionMetering | None
    production_meter: bool

    def site(self, system_id: int, operational: date) -> SiteConfig:
        """The simulated system at this place."""
        return SiteConfig(
            system_id=system_id,
            name=f"{self.name} home",
            latitude=self.latitude,
            longitude=self.longitude,
            timezone=self.timezone,
            address=Address(self.name, "", self.country, "0000"),
            operational_date=operational,
            pv_size_w=6_600,
            modules=16,
            battery_capacity_wh=10_080 if self.battery else 0,
            battery_power_w=3_840 if self.battery else 0,
            battery_units=3 if self.battery else 0,
            consumption_metering=self.consumption,
            production_meter=self.production_meter,
            seed=system_id % 97,
        )

    @property
    def kind(self) -> str:
        """A short description of the system."""
        parts = ["PV"]
        if self.consumption is not None:
            parts.append("consumption meter")
        if self.battery:
            parts.append("battery")
        if not self.production_meter:
            parts.append("micros only")
        return " + ".join(parts)


NET = ConsumptionMetering.NET
PLACES = (
    Place("Melbourne", -37.81, 144.96, "Australia/Melbourne", "AU", True, NET, True),
    Place(
        "Brisbane",
        -27.47,
        153.03,
        "Australia/Brisbane",
        "AU",
        False,
        ConsumptionMetering.TOTAL,
        True,
    ),
    Place("Phoenix", 33.45, -112.07, "America/Phoenix", "US", False, None, False),
    Place("Berlin", 52.52, 13.40, "Europe/Berlin", "DE", True, NET, True),
    Place("Oslo", 59.91, 10.75, "Europe/Oslo", "NO", True, NET, True),
    Place("Tromsø", 69.65, 18.96, "Europe/Oslo", "NO", True, NET, True),
)
