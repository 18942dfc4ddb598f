"""What a simulated account holds: sites (the physics inputs and the metadata quirks) and plans."""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import ClassVar


class ConsumptionMetering(StrEnum):
    """How the consumption CT is configured (the devices endpoint shows it as `config_type`)."""

    NET = "Net"
    TOTAL = "Total"


BATTERY_ENDPOINTS = frozenset(
    {
        "systems/{system_id}/telemetry/battery",
        "systems/{system_id}/battery_lifetime",
    }
)


@dataclass(frozen=True, slots=True)
class Plan:
    """An API plan: its limits, and the endpoints it does not cover (answered with 403)."""

    name: str
    per_minute: int
    per_month: int
    excluded_endpoints: frozenset[str] = frozenset()

    WATT: ClassVar[Plan]
    KILOWATT: ClassVar[Plan]

    def without(self, *endpoints: str) -> Plan:
        """Return the same plan with more endpoints outside it (e.g. battery data on Watt)."""
        return replace(self, excluded_endpoints=self.excluded_endpoints | frozenset(endpoints))

    def without_battery(self) -> Plan:
        """Return the plan as it would be if battery telemetry were not part of it."""
        return self.without(*BATTERY_ENDPOINTS)


Plan.WATT = Plan("Watt", per_minute=10, per_month=1_000)
Plan.KILOWATT = Plan("Kilowatt", per_minute=1_000, per_month=10_000)


@dataclass(frozen=True, slots=True)
class Address:
    """Where the system is, as the systems endpoint shows it."""

    city: str
    state: str
    country: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """One simulated system: physics inputs plus the metadata (and quirks) the API reports.

    `timezone` drives the physics (local days, load profile); `reported_timezone` is what the API
    shows, which may be a legacy alias such as "US/Eastern".
    """

    system_id: int
    name: str
    latitude: float
    longitude: float
    timezone: str
    address: Address
    operational_date: date
    pv_size_w: int
    modules: int
    reported_timezone: str | None = None
    panel_tilt_deg: float = 20.0
    cloudiness: float = 0.3
    daily_load_wh: float = 14_000.0
    battery_capacity_wh: int = 0
    battery_power_w: int = 0
    battery_units: int = 0
    battery_reserve_pct: float = 10.0
    battery_initial_soc_pct: float = 50.0
    production_meter: bool = True
    consumption_metering: ConsumptionMetering | None = ConsumptionMetering.NET
    meter_channels: int = 1
    active_meter_channels: int = 1
    connection_type: str = "ethernet"
    attachment_type: str | None = None
    interconnect_date: str | int | None = None
    never_reported: bool = False
    report_interval: timedelta = timedelta(minutes=15)
    publish_lag_min: timedelta = timedelta(minutes=15)
    publish_lag_max: timedelta = timedelta(minutes=25)
    seed: int = 1
    emu_sw_version: str = "D8.2.4264 (5e9a1c)"

    def __post_init__(self) -> None:
        """Reject configurations the physics or the publishing model cannot honour."""
        if self.report_interval.total_seconds() % 900:
            raise ValueError("report_interval must be a whole number of 15-minute intervals")
        if self.publish_lag_max < self.publish_lag_min:
            raise ValueError("publish_lag_max is below publish_lag_min")
        if not 1 <= self.active_meter_channels <= self.meter_channels:
            raise ValueError("active_meter_channels must be between 1 and meter_channels")
        if self.battery_capacity_wh and not (self.battery_power_w and self.battery_units):
            raise ValueError("a battery needs battery_power_w and battery_units")

    @property
    def has_battery(self) -> bool:
        """Whether the site has IQ Batteries."""
        return self.battery_capacity_wh > 0

    @property
    def has_consumption_meter(self) -> bool:
        """Whether the site measures consumption (and so import and export)."""
        return self.consumption_metering is not None

    @property
    def api_timezone(self) -> str:
        """The time zone name the API reports."""
        return self.reported_timezone or self.timezone

    @classmethod
    def demo_battery(cls) -> SiteConfig:
        """Describe a Melbourne home: 6.6 kW of PV, a 10 kWh battery, a 3-channel meter."""
        return cls(
            system_id=4_201_001,
            name="Demo Battery Home",
            latitude=-37.81,
            longitude=144.96,
            timezone="Australia/Melbourne",
            address=Address("Melbourne", "VIC", "AU", "3000"),
            operational_date=date(2025, 11, 1),
            pv_size_w=6_600,
            modules=16,
            battery_capacity_wh=10_080,
            battery_power_w=3_840,
            battery_units=3,
            meter_channels=3,
            active_meter_channels=1,
            interconnect_date="2025-10-28",
            attachment_type="rack_mount",
            seed=11,
        )

    @classmethod
    def demo_solar_only(cls) -> SiteConfig:
        """Describe a Brisbane home: 5 kW of PV, no battery, a legacy zone name."""
        return cls(
            system_id=4_201_002,
            name="Demo Solar Home",
            latitude=-27.47,
            longitude=153.03,
            timezone="Australia/Brisbane",
            reported_timezone="Australia/Queensland",
            address=Address("Brisbane", "QLD", "AU", "4000"),
            operational_date=date(2025, 12, 1),
            pv_size_w=5_000,
            modules=12,
            daily_load_wh=11_000.0,
            consumption_metering=ConsumptionMetering.TOTAL,
            connection_type="wifi",
            interconnect_date=1_764_547_200,
            seed=22,
        )

    @classmethod
    def demo_us_eastern(cls) -> SiteConfig:
        """Describe a New Jersey home: PV only, no meters, cellular (6-hourly), "US/Eastern"."""
        return cls(
            system_id=4_201_003,
            name="Demo East Coast",
            latitude=40.35,
            longitude=-74.66,
            timezone="America/New_York",
            reported_timezone="US/Eastern",
            address=Address("Princeton", "NJ", "US", "08540"),
            operational_date=date(2025, 12, 1),
            pv_size_w=8_000,
            modules=20,
            production_meter=False,
            consumption_metering=None,
            connection_type="cellular",
            report_interval=timedelta(hours=6),
            seed=33,
        )
