"""Typed, immutable views of Enphase responses.

Every `from_dict` raises only EnphaseMalformedResponseError on a shape it does not understand.
"""

from .devices import Device, Devices
from .intervals import (
    BatteryInterval,
    BatteryTelemetry,
    ExportInterval,
    ExportTelemetry,
    ImportInterval,
    ImportTelemetry,
    MeterInterval,
    MeterTelemetry,
    MicroInterval,
    MicroTelemetry,
    TelemetryWindow,
)
from .latest import ApplianceReading, BatteryReading, LatestTelemetry, MeterChannelReading
from .lifetime import (
    BatteryLifetime,
    ConsumptionLifetime,
    DailySeries,
    EnergyLifetime,
    ExportLifetime,
    ImportLifetime,
)
from .systems import Address, EvsePowerLimit, Summary, System, SystemMeta, SystemsPage

__all__ = [
    "Address",
    "ApplianceReading",
    "BatteryInterval",
    "BatteryLifetime",
    "BatteryReading",
    "BatteryTelemetry",
    "ConsumptionLifetime",
    "DailySeries",
    "Device",
    "Devices",
    "EnergyLifetime",
    "EvsePowerLimit",
    "ExportInterval",
    "ExportLifetime",
    "ExportTelemetry",
    "ImportInterval",
    "ImportLifetime",
    "ImportTelemetry",
    "LatestTelemetry",
    "MeterChannelReading",
    "MeterInterval",
    "MeterTelemetry",
    "MicroInterval",
    "MicroTelemetry",
    "Summary",
    "System",
    "SystemMeta",
    "SystemsPage",
    "TelemetryWindow",
]
