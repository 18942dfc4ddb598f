"""Response bodies of the API endpoints, built from what a system has published.

Shapes follow the specification's examples (and the facts page where they differ). Energy
endpoints report the household load as consumption; `latest_telemetry` reports the consumption
channel as production + grid (the specification's Net-config rule) and battery power positive
while discharging.
"""

from collections.abc import Mapping
from datetime import timedelta
from itertools import groupby
from typing import Any

from sim.enphase.config import ConsumptionMetering
from sim.enphase.params import TelemetryWindow, lifetime_range, summary_date, telemetry_window
from sim.enphase.physics import STEP_S, Channel
from sim.enphase.system import SystemView

type Json = dict[str, Any]
_METER_INTERVAL_S = 900
_IDLE_BATTERY_W = 10


def system_details(view: SystemView) -> Json:
    """One item of `/systems`, and the body of `/systems/{id}`."""
    site = view.site
    return {
        "system_id": site.system_id,
        "name": site.name,
        "public_name": "Residential System",
        "timezone": site.api_timezone,
        "address": {
            "city": site.address.city,
            "state": site.address.state,
            "country": site.address.country,
            "postal_code": site.address.postal_code,
        },
        "connection_type": site.connection_type,
        "energy_lifetime": -1,
        "energy_today": -1,
        "system_size": -1,
        "status": view.status,
        "last_report_at": view.last_report_at,
        "last_energy_at": view.data_until,
        "operational_at": view.operational_at,
        "attachment_type": site.attachment_type,
        "interconnect_date": site.interconnect_date,
    }


def summary(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/summary`: today's (or `summary_date`'s) production and the system's ratings."""
    site = view.site
    day = summary_date(query, view)
    day_start = view.midnight(day)
    day_end = view.midnight(day + timedelta(days=1))
    is_today = day == view.local_date()
    step = view.latest_step()
    current = round(view.model.power(step).solar_w) if is_today and step is not None else 0
    return {
        "system_id": site.system_id,
        "current_power": current,
        "energy_lifetime": view.published_energy(Channel.SOLAR, view.model.start, day_start),
        "energy_today": view.published_energy(Channel.SOLAR, day_start, day_end),
        "last_interval_end_at": view.data_until,
        "last_report_at": view.last_report_at,
        "modules": site.modules if is_today else 0,
        "operational_at": view.operational_at,
        "size_w": site.pv_size_w if is_today else 0,
        "source": "meter" if site.production_meter else "microinverters",
        "status": view.status,
        "summary_date": day.isoformat(),
        "battery_charge_w": site.battery_power_w,
        "battery_discharge_w": site.battery_power_w,
        "battery_capacity_wh": site.battery_capacity_wh,
    }


def _device_ids(view: SystemView, kind: int, count: int) -> list[int]:
    return [view.site.system_id * 100 + kind * 10 + n for n in range(count)]


def _serial(view: SystemView, kind: int, n: int) -> str:
    return f"{view.site.seed % 1000:03d}{kind:02d}{view.site.system_id % 10_000:04d}{n:03d}"


def devices(view: SystemView) -> Json:
    """`/devices`: the active devices, for a device registry."""
    site = view.site
    seen = view.last_report_at
    common = {"last_report_at": seen, "status": "normal" if not view.silent else "comm"}
    groups: dict[str, list[Json]] = {
        "micros": [
            {
                "id": view.site.system_id * 1000 + n,
                "name": f"Microinverter {_serial(view, 1, n)}",
                "serial_number": _serial(view, 1, n),
                "part_number": "800-01736-r02",
                "sku": "IQ8MC-72-M-INT",
                "model": "IQ8MC",
                "active": True,
                "product_name": "IQ8MC",
                **common,
            }
            for n in range(site.modules)
        ],
        "meters": [],
        "gateways": [
            {
                "id": _device_ids(view, 3, 1)[0],
                "name": f"Gateway {_serial(view, 3, 0)}",
                "serial_number": _serial(view, 3, 0),
                "part_number": "800-00654-r08",
                "emu_sw_version": site.emu_sw_version,
                "sku": "SC100G-M230ROW",
                "model": "Envoy-S-Metered-EU",
                "active": True,
                "product_name": "IQ Gateway",
                **common,
            }
        ],
    }
    meter_ids = _device_ids(view, 2, 2)
    if site.production_meter:
        groups["meters"].append(_meter(view, meter_ids[0], "production", "Production", common))
    if site.consumption_metering is not None:
        config = site.consumption_metering.value
        groups["meters"].append(_meter(view, meter_ids[1], "consumption", config, common))
    if site.has_battery:
        groups["encharges"] = [
            {
                "id": device_id,
                "name": f"IQ Battery {_serial(view, 4, n)}",
                "serial_number": _serial(view, 4, n),
                "part_number": "800-00930-r01",
                "sku": "B05-T02-ROW00-1-2",
                "model": "",
                "active": True,
                "product_name": "IQ Battery 5P",
                **common,
            }
            for n, device_id in enumerate(_device_ids(view, 4, site.battery_units))
        ]
        groups["enpowers"] = [
            {
                "id": _device_ids(view, 5, 1)[0],
                "name": f"IQ System Controller {_serial(view, 5, 0)}",
                "serial_number": _serial(view, 5, 0),
                "part_number": "800-00890-r01",
                "sku": "EP200G-NA-02-RSD",
                "model": "",
                "active": True,
                "product_name": "IQ System Controller 2",
                **common,
            }
        ]
    groups = {key: items for key, items in groups.items() if items}
    return {
        "system_id": site.system_id,
        "total_devices": sum(len(items) for items in groups.values()),
        "items": "devices",
        "devices": groups,
    }


def _meter(view: SystemView, device_id: int, name: str, config: str, common: Json) -> Json:
    serial = f"{_serial(view, 3, 0)}EIM{1 if name == 'production' else 2}"
    return {
        "id": device_id,
        "name": name,
        "serial_number": serial,
        "part_number": "800-00654-r08",
        "sku": None,
        "model": "IQ Gateway",
        "active": True,
        "state": "enabled",
        "config_type": config,
        "config_phase": "three" if view.site.meter_channels > 1 else "single",
        "product_name": "IQ Gateway",
        **common,
    }


def _channels(view: SystemView, device_id: int, name: str, power: float | None) -> list[Json]:
    """List a meter's channels: power split over the active ones, the others null."""
    site = view.site
    active = site.active_meter_channels
    shares: list[int | None] = [None] * site.meter_channels
    if power is not None:
        total = round(power)
        for n in range(active):
            shares[n] = total // active + (1 if n < total % active else 0)
    return [
        {
            "id": device_id,
            "name": name,
            "channel": n + 1,
            "last_report_at": view.last_report_at if share is not None else None,
            "power": share,
        }
        for n, share in enumerate(shares)
    ]


def latest_telemetry(view: SystemView) -> Json:
    """`/latest_telemetry`: the nested per-device power of the newest published report."""
    site = view.site
    step = None if view.silent else view.latest_step()
    sample = view.model.power(step) if step is not None else None
    meter_ids = _device_ids(view, 2, 2)
    meters: list[Json] = []
    if site.production_meter:
        solar = sample.solar_w if sample else None
        meters += _channels(view, meter_ids[0], "production", solar)
    if site.consumption_metering is not None:
        consumption = None
        if sample is not None:
            net = site.consumption_metering is ConsumptionMetering.NET
            consumption = sample.load_w - sample.battery_w if net else sample.load_w
        meters += _channels(view, meter_ids[1], "consumption", consumption)
    groups: Json = {"meters": meters} if meters else {}
    if site.has_battery:
        units = site.battery_units
        groups["encharges"] = [
            _encharge(view, device_id, n, sample.battery_w / units if sample else None)
            for n, device_id in enumerate(_device_ids(view, 4, units))
        ]
    return {"system_id": site.system_id, "items": "devices", "devices": groups}


def _encharge(view: SystemView, device_id: int, n: int, power: float | None) -> Json:
    mode = None
    if power is not None:
        mode = (
            "Idle" if abs(power) < _IDLE_BATTERY_W else "Discharging" if power > 0 else "Charging"
        )
    return {
        "id": device_id,
        "name": f"Encharge {_serial(view, 4, n)}",
        "channel": 1,
        "last_report_at": view.last_report_at if power is not None else None,
        "power": round(power) if power is not None else None,
        "operational_mode": mode,
    }


def _telemetry_head(
    view: SystemView, query: Mapping[str, str], devices: int
) -> tuple[Json, TelemetryWindow]:
    window = telemetry_window(query, view)
    head: Json = {
        "system_id": view.site.system_id,
        "granularity": window.granularity,
        "total_devices": devices,
        **window.fields(view),
        "items": "intervals",
    }
    return head, window


def production_micro(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/telemetry/production_micro`: 5-minute intervals while the micros produce."""
    site = view.site
    head, window = _telemetry_head(view, query, site.modules)
    intervals = []
    for end in view.interval_ends(window.start, window.end, STEP_S):
        index = view.model.step_index(end) - 1
        solar_w = view.model.power(index).solar_w
        if solar_w <= 0:
            continue
        reporting = site.modules if solar_w >= 5 * site.modules else max(1, int(solar_w / 5))
        intervals.append(
            {
                "end_at": end,
                "devices_reporting": reporting,
                "powr": round(solar_w),
                "enwh": view.model.energy(Channel.SOLAR, index, index + 1),
            }
        )
    return {**head, "intervals": intervals, "meta": view.meta}


def _meter_energies(
    view: SystemView, window: TelemetryWindow, channel: Channel
) -> list[tuple[int, int]]:
    model = view.model
    result = []
    for end in view.interval_ends(window.start, window.end, _METER_INTERVAL_S):
        last = model.step_index(end)
        result.append((end, model.energy(channel, last - 3, last)))
    return result


def production_meter(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/telemetry/production_meter`: 15-minute `wh_del` from the production CT."""
    present = view.site.production_meter
    head, window = _telemetry_head(view, query, 1 if present else 0)
    pairs = _meter_energies(view, window, Channel.SOLAR) if present else []
    intervals = [{"end_at": end, "devices_reporting": 1, "wh_del": wh} for end, wh in pairs]
    return {**head, "intervals": intervals}


def consumption_meter(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/telemetry/consumption_meter`: 15-minute household consumption `enwh`."""
    present = view.site.has_consumption_meter
    head, window = _telemetry_head(view, query, 1 if present else 0)
    pairs = _meter_energies(view, window, Channel.LOAD) if present else []
    intervals = [{"end_at": end, "devices_reporting": 1, "enwh": wh} for end, wh in pairs]
    return {**head, "intervals": intervals, "meta": view.meta}


def battery(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/telemetry/battery`: 15-minute charge, discharge and SoC, plus the latest SoC string."""
    site = view.site
    units = site.battery_units
    head, window = _telemetry_head(view, query, units)
    intervals: list[Json] = []
    latest_soc = None
    if site.has_battery:
        charges = _meter_energies(view, window, Channel.CHARGE)
        discharges = _meter_energies(view, window, Channel.DISCHARGE)
        for (end, charge), (_, discharge) in zip(charges, discharges, strict=True):
            soc = round(view.model.soc_pct(view.model.step_index(end) - 1))
            intervals.append(
                {
                    "end_at": end,
                    "charge": {"enwh": charge, "devices_reporting": units},
                    "discharge": {"enwh": discharge, "devices_reporting": units},
                    "soc": {"percent": soc, "devices_reporting": units},
                }
            )
        step = view.latest_step()
        if step is not None:
            latest_soc = f"{round(view.model.soc_pct(step))}%"
    return {**head, "intervals": intervals, "last_reported_aggregate_soc": latest_soc}


def _grid(view: SystemView, query: Mapping[str, str], channel: Channel, key: str) -> Json:
    """Import or export telemetry: 15-minute intervals, nested per local day as in the spec."""
    head, window = _telemetry_head(view, query, 0)
    pairs = _meter_energies(view, window, channel) if view.site.has_consumption_meter else []
    days = groupby(pairs, key=lambda pair: view.local_date(pair[0] - 1))
    intervals = [[{"end_at": end, key: wh} for end, wh in group] for _, group in days]
    return {**head, "intervals": intervals, "meta": view.meta}


def energy_import_telemetry(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/energy_import_telemetry`."""
    return _grid(view, query, Channel.IMPORT, "wh_imported")


def energy_export_telemetry(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/energy_export_telemetry`."""
    return _grid(view, query, Channel.EXPORT, "wh_exported")


def _lifetime(
    view: SystemView, query: Mapping[str, str], series: dict[str, Channel], *, present: bool
) -> Json:
    """Build daily series from `start_date`; empty lists when the site lacks the device."""
    first, last = lifetime_range(query, view)
    body: Json = {"system_id": view.site.system_id, "start_date": first.isoformat()}
    for key, channel in series.items():
        body[key] = view.daily(channel, first, last) if present else []
    body["meta"] = view.meta
    return body


def energy_lifetime(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/energy_lifetime`: daily production (`production=all` adds the micro and meter series)."""
    body = _lifetime(view, query, {"production": Channel.SOLAR}, present=True)
    if view.site.production_meter:
        body["meter_start_date"] = view.site.operational_date.isoformat()
    if query.get("production") == "all":
        body["micro_production"] = list(body["production"])
        body["meter_production"] = list(body["production"]) if view.site.production_meter else []
    return body


def consumption_lifetime(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/consumption_lifetime`: daily household consumption (empty without a meter)."""
    metered = view.site.has_consumption_meter
    return _lifetime(view, query, {"consumption": Channel.LOAD}, present=metered)


def battery_lifetime(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/battery_lifetime`: daily charge and discharge (empty without a battery)."""
    series = {"charge": Channel.CHARGE, "discharge": Channel.DISCHARGE}
    return _lifetime(view, query, series, present=view.site.has_battery)


def energy_import_lifetime(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/energy_import_lifetime`: daily grid import."""
    metered = view.site.has_consumption_meter
    return _lifetime(view, query, {"import": Channel.IMPORT}, present=metered)


def energy_export_lifetime(view: SystemView, query: Mapping[str, str]) -> Json:
    """`/energy_export_lifetime`: daily grid export."""
    metered = view.site.has_consumption_meter
    return _lifetime(view, query, {"export": Channel.EXPORT}, present=metered)
