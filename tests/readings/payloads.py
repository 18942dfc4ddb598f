"""Enphase-shaped answers, parsed with the client's own models, for the readings tests."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from custom_components.liveone_enphase.enphase import (
    BatteryLifetime,
    BatteryTelemetry,
    ConsumptionLifetime,
    EnergyLifetime,
    ExportLifetime,
    ExportTelemetry,
    ImportLifetime,
    ImportTelemetry,
    LatestTelemetry,
    MeterTelemetry,
    MicroTelemetry,
    Summary,
)

SYSTEM = 42


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def latest(
    at: datetime,
    *,
    production: float | None = 3000,
    consumption: float | None = 1200,
    battery: float | None = -800,
    mode: str | None = "Charging",
) -> LatestTelemetry:
    meters: list[dict[str, Any]] = []
    if production is not None:
        meters.append(
            {
                "id": 1,
                "name": "production",
                "channel": 1,
                "last_report_at": _epoch(at),
                "power": production,
            }
        )
    if consumption is not None:
        meters.append(
            {
                "id": 2,
                "name": "consumption",
                "channel": 1,
                "last_report_at": _epoch(at),
                "power": consumption,
            }
        )
    devices: dict[str, Any] = {"meters": meters}
    if battery is not None:
        devices["encharges"] = [
            {
                "id": 3,
                "name": "b",
                "channel": 1,
                "last_report_at": _epoch(at),
                "power": battery,
                "operational_mode": mode,
            }
        ]
    return LatestTelemetry.from_dict({"system_id": SYSTEM, "items": "devices", "devices": devices})


def _window(
    start: datetime,
    end: datetime | None,
    key: str,
    rows: list[dict[str, Any]],
    meta_at: datetime | None,
    *,
    status: str = "normal",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "system_id": SYSTEM,
        "granularity": "day",
        "start_at": _epoch(start),
        "end_at": None if end is None else _epoch(end),
        "items": "intervals",
        key: rows,
    }
    if meta_at is not None:
        body["meta"] = {
            "status": status,
            "last_report_at": _epoch(meta_at),
            "last_energy_at": _epoch(meta_at),
        }
    return body


def micro(
    start: datetime,
    end: datetime | None,
    rows: Sequence[tuple[datetime, float]],
    meta_at: datetime | None = None,
    status: str = "normal",
) -> MicroTelemetry:
    data = [
        {"end_at": _epoch(e), "devices_reporting": 10, "powr": round(wh * 12), "enwh": wh}
        for e, wh in rows
    ]
    return MicroTelemetry.from_dict(_window(start, end, "intervals", data, meta_at, status=status))


def meter(
    start: datetime,
    end: datetime,
    rows: Sequence[tuple[datetime, float]],
    *,
    production: bool = False,
) -> MeterTelemetry:
    key = "wh_del" if production else "enwh"
    data = [{"end_at": _epoch(e), "devices_reporting": 1, key: wh} for e, wh in rows]
    return MeterTelemetry.from_dict(_window(start, end, "intervals", data, None))


def battery(
    start: datetime,
    end: datetime,
    rows: Sequence[tuple[datetime, float, float, float]],
    aggregate: str | None = None,
) -> BatteryTelemetry:
    data = [
        {
            "end_at": _epoch(e),
            "charge": {"enwh": c},
            "discharge": {"enwh": d},
            "soc": {"percent": soc},
        }
        for e, c, d, soc in rows
    ]
    body = _window(start, end, "intervals", data, None)
    body["last_reported_aggregate_soc"] = aggregate
    return BatteryTelemetry.from_dict(body)


def imported(
    start: datetime, end: datetime, rows: Sequence[tuple[datetime, float]]
) -> ImportTelemetry:
    data = [[{"end_at": _epoch(e), "wh_imported": wh} for e, wh in rows]]
    return ImportTelemetry.from_dict(_window(start, end, "intervals", data, None))  # type: ignore[arg-type]


def exported(
    start: datetime, end: datetime, rows: Sequence[tuple[datetime, float]]
) -> ExportTelemetry:
    data = [[{"end_at": _epoch(e), "wh_exported": wh} for e, wh in rows]]
    return ExportTelemetry.from_dict(_window(start, end, "intervals", data, None))  # type: ignore[arg-type]


def production_lifetime(first: date, days: Sequence[float]) -> EnergyLifetime:
    return EnergyLifetime.from_dict(
        {"system_id": SYSTEM, "start_date": first.isoformat(), "production": list(days)}
    )


def consumption_lifetime(first: date, days: Sequence[float]) -> ConsumptionLifetime:
    return ConsumptionLifetime.from_dict(
        {"system_id": SYSTEM, "start_date": first.isoformat(), "consumption": list(days)}
    )


def battery_lifetime(
    first: date, charge: Sequence[float], discharge: Sequence[float]
) -> BatteryLifetime:
    return BatteryLifetime.from_dict(
        {
            "system_id": SYSTEM,
            "start_date": first.isoformat(),
            "charge": list(charge),
            "discharge": list(discharge),
        }
    )


def import_lifetime(first: date, days: Sequence[float]) -> ImportLifetime:
    return ImportLifetime.from_dict(
        {"system_id": SYSTEM, "start_date": first.isoformat(), "import": list(days)}
    )


def export_lifetime(first: date, days: Sequence[float]) -> ExportLifetime:
    return ExportLifetime.from_dict(
        {"system_id": SYSTEM, "start_date": first.isoformat(), "export": list(days)}
    )


def summary(
    day: date,
    at: datetime,
    *,
    today: float,
    lifetime: float,
    power: float,
    status: str | None = None,
) -> Summary:
    return Summary.from_dict(
        {
            "system_id": SYSTEM,
            "status": status,
            "current_power": power,
            "energy_today": today,
            "energy_lifetime": lifetime,
            "last_report_at": _epoch(at),
            "summary_date": day.isoformat(),
        }
    )
