"""Shapes and contents of every simulated /api/v4 endpoint, over loopback HTTP."""

import re
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise

from sim.clock import ManualClock
from sim.enphase import SiteConfig
from tests.sim.conftest import BATTERY_ID, EASTERN_ID, SOLAR_ID, Api

PAGE_FIELDS = {"total", "current_page", "size", "count", "items", "systems"}
SYSTEM_FIELDS = {
    "system_id",
    "name",
    "public_name",
    "timezone",
    "address",
    "connection_type",
    "energy_lifetime",
    "energy_today",
    "system_size",
    "status",
    "last_report_at",
    "last_energy_at",
    "operational_at",
    "attachment_type",
    "interconnect_date",
}


async def test_systems_list_and_pagination(api: Api) -> None:
    status, body = await api.get("systems")
    assert status == 200
    assert set(body) == PAGE_FIELDS
    assert (body["total"], body["current_page"], body["size"], body["count"]) == (3, 1, 10, 3)
    assert body["items"] == "systems"
    assert [s["system_id"] for s in body["systems"]] == [BATTERY_ID, SOLAR_ID, EASTERN_ID]
    for system in body["systems"]:
        assert set(system) == SYSTEM_FIELDS
        assert (system["energy_lifetime"], system["energy_today"], system["system_size"]) == (
            -1,
            -1,
            -1,
        )
    zones = {s["system_id"]: s["timezone"] for s in body["systems"]}
    assert zones[SOLAR_ID] == "Australia/Queensland"
    assert zones[EASTERN_ID] == "US/Eastern"
    interconnect = {s["system_id"]: s["interconnect_date"] for s in body["systems"]}
    assert interconnect == {BATTERY_ID: "2025-10-28", SOLAR_ID: 1_764_547_200, EASTERN_ID: None}

    status, body = await api.get("systems", {"page": 2, "size": 2})
    assert (body["current_page"], body["size"], body["count"], body["total"]) == (2, 2, 1, 3)
    assert [s["system_id"] for s in body["systems"]] == [EASTERN_ID]
    status, body = await api.get("systems", {"sort_by": "-id", "size": 1})
    assert [s["system_id"] for s in body["systems"]] == [EASTERN_ID]
    status, body = await api.get("systems", {"page": 9})
    assert (status, body["count"], body["systems"]) == (200, 0, [])


async def test_systems_parameter_errors(api: Api) -> None:
    for params in ({"size": 0}, {"size": 101}, {"page": 0}, {"sort_by": "name"}, {"page": "x"}):
        status, body = await api.get("systems", params)
        assert status == 422, params
        assert body["code"] == 422
        assert body["message"] == "Unprocessable Entity"


async def test_system_details_match_the_list(api: Api) -> None:
    _, listing = await api.get("systems")
    status, body = await api.get(f"systems/{BATTERY_ID}")
    assert status == 200
    assert body == listing["systems"][0]
    assert body["status"] == "normal"
    assert body["address"] == {
        "city": "Melbourne",
        "state": "VIC",
        "country": "AU",
        "postal_code": "3000",
    }
    assert body["last_energy_at"] < body["last_report_at"] < body["last_energy_at"] + 300
    assert body["operational_at"] == 1_761_915_600  # 2025-11-01 00:00 in Melbourne


async def test_summary_today_and_history(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/summary")
    assert status == 200
    assert body["summary_date"] == "2026-01-15"
    assert body["current_power"] > 1000
    assert (body["modules"], body["size_w"]) == (16, 6600)
    assert body["source"] == "meter"
    assert body["battery_capacity_wh"] == 10_080
    assert body["last_interval_end_at"] == body["last_report_at"] - (body["last_report_at"] % 300)
    _, meter = await api.get(f"systems/{BATTERY_ID}/telemetry/production_meter")
    assert body["energy_today"] == sum(i["wh_del"] for i in meter["intervals"])
    _, lifetime = await api.get(f"systems/{BATTERY_ID}/energy_lifetime")
    assert body["energy_lifetime"] == sum(lifetime["production"])

    status, past = await api.get(f"systems/{BATTERY_ID}/summary", {"summary_date": "2026-01-10"})
    assert (past["current_power"], past["modules"], past["size_w"]) == (0, 0, 0)
    _, days = await api.get(
        f"systems/{BATTERY_ID}/energy_lifetime",
        {"start_date": "2026-01-10", "end_date": "2026-01-10"},
    )
    assert past["energy_today"] == days["production"][0]
    status, body = await api.get(f"systems/{BATTERY_ID}/summary", {"summary_date": "2026-01-16"})
    assert (status, body["details"]) == (422, "Requested date is in the future")
    status, _ = await api.get(f"systems/{BATTERY_ID}/summary", {"summary_date": "15/01/2026"})
    assert status == 422


async def test_summary_without_battery_or_meter(api: Api) -> None:
    _, body = await api.get(f"systems/{EASTERN_ID}/summary")
    assert body["source"] == "microinverters"
    assert body["battery_capacity_wh"] == 0


async def test_devices(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/devices")
    assert status == 200
    assert body["items"] == "devices"
    devices = body["devices"]
    assert set(devices) == {"micros", "meters", "gateways", "encharges", "enpowers"}
    assert len(devices["micros"]) == 16
    assert [m["config_type"] for m in devices["meters"]] == ["Production", "Net"]
    assert devices["gateways"][0]["emu_sw_version"]
    assert len(devices["encharges"]) == 3
    assert body["total_devices"] == sum(len(group) for group in devices.values())
    serials = [d["serial_number"] for group in devices.values() for d in group]
    assert len(serials) == len(set(serials))

    _, solar = await api.get(f"systems/{SOLAR_ID}/devices")
    assert [m["config_type"] for m in solar["devices"]["meters"]] == ["Production", "Total"]
    assert "encharges" not in solar["devices"]
    _, eastern = await api.get(f"systems/{EASTERN_ID}/devices")
    assert set(eastern["devices"]) == {"micros", "gateways"}


async def test_latest_telemetry_is_nested_per_device(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/latest_telemetry")
    assert status == 200
    assert (body["system_id"], body["items"]) == (BATTERY_ID, "devices")
    meters = body["devices"]["meters"]
    assert [(m["name"], m["channel"]) for m in meters] == [
        ("production", 1),
        ("production", 2),
        ("production", 3),
        ("consumption", 1),
        ("consumption", 2),
        ("consumption", 3),
    ]
    assert all(
        m["power"] is None and m["last_report_at"] is None for m in meters if m["channel"] > 1
    )
    encharges = body["devices"]["encharges"]
    assert len(encharges) == 3
    assert {e["operational_mode"] for e in encharges} <= {"Charging", "Discharging", "Idle"}
    assert "soc" not in str(body)

    truth = api.cloud.truth
    published = truth.published_until(BATTERY_ID)
    assert published is not None
    sample = truth.power_at(BATTERY_ID, published)
    assert meters[0]["power"] == round(sample.solar_w)
    assert meters[3]["power"] == round(sample.load_w - sample.battery_w)
    battery_w = sum(e["power"] for e in encharges)
    assert abs(battery_w - sample.battery_w) <= 2
    assert meters[0]["last_report_at"] == encharges[0]["last_report_at"]


async def test_latest_telemetry_other_sites(api: Api) -> None:
    _, solar = await api.get(f"systems/{SOLAR_ID}/latest_telemetry")
    sample = api.cloud.truth.power_at(SOLAR_ID, api.cloud.truth.published_until(SOLAR_ID))
    meters = {m["name"]: m["power"] for m in solar["devices"]["meters"]}
    assert meters == {"production": round(sample.solar_w), "consumption": round(sample.load_w)}
    assert "encharges" not in solar["devices"]
    _, eastern = await api.get(f"systems/{EASTERN_ID}/latest_telemetry")
    assert eastern["devices"] == {}


async def test_production_micro(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/telemetry/production_micro")
    assert status == 200
    assert set(body) == {
        "system_id",
        "granularity",
        "total_devices",
        "start_at",
        "end_at",
        "items",
        "intervals",
        "meta",
    }
    assert (body["granularity"], body["total_devices"], body["items"]) == ("day", 16, "intervals")
    assert set(body["meta"]) == {"status", "last_report_at", "last_energy_at", "operational_at"}
    assert body["end_at"] == int(api.cloud.clock().timestamp())
    intervals = body["intervals"]
    assert intervals, "daylight intervals expected"
    ends = [i["end_at"] for i in intervals]
    assert all(b - a >= 300 and (b - a) % 300 == 0 for a, b in pairwise(ends))
    assert ends[-1] == body["meta"]["last_energy_at"]
    for interval in intervals:
        assert set(interval) == {"end_at", "devices_reporting", "powr", "enwh"}
        assert 1 <= interval["devices_reporting"] <= 16
        assert abs(interval["powr"] / 12 - interval["enwh"]) <= 1
    start = ends[-1] - 900
    _, quarter = await api.get(
        f"systems/{BATTERY_ID}/telemetry/production_micro",
        {"start_at": start, "granularity": "15mins"},
    )
    assert [i["end_at"] for i in quarter["intervals"]] == [start + 300, start + 600, start + 900]
    _, five = await api.get(
        f"systems/{BATTERY_ID}/telemetry/production_micro",
        {"start_at": start, "granularity": "5mins"},
    )
    assert [i["end_at"] for i in five["intervals"]] == [start + 300]
    _, night = await api.get(
        f"systems/{BATTERY_ID}/telemetry/production_micro",
        {"start_date": "2026-01-14", "granularity": "day"},
    )
    assert len(night["intervals"]) < 288  # the micros sleep at night
    assert night["start_date"] == "2026-01-14"
    assert "start_at" not in night


async def test_meter_telemetry_and_micro_agree(api: Api) -> None:
    _, micro = await api.get(f"systems/{BATTERY_ID}/telemetry/production_micro")
    _, meter = await api.get(f"systems/{BATTERY_ID}/telemetry/production_meter")
    assert set(meter) == {
        "system_id",
        "granularity",
        "total_devices",
        "start_at",
        "end_at",
        "items",
        "intervals",
    }
    assert sum(i["enwh"] for i in micro["intervals"]) == sum(
        i["wh_del"] for i in meter["intervals"]
    )
    assert all(i["end_at"] % 900 == 0 for i in meter["intervals"])
    assert len(meter["intervals"]) == (meter["intervals"][-1]["end_at"] - meter["start_at"]) // 900
    _, consumption = await api.get(f"systems/{BATTERY_ID}/telemetry/consumption_meter")
    assert consumption["meta"]["status"] == "normal"
    assert all(set(i) == {"end_at", "devices_reporting", "enwh"} for i in consumption["intervals"])
    assert all(i["enwh"] > 0 for i in consumption["intervals"])
    _, week = await api.get(
        f"systems/{BATTERY_ID}/telemetry/production_meter",
        {"start_date": "2026-01-01", "granularity": "week"},
    )
    assert len(week["intervals"]) == 672


async def test_meterless_site_has_empty_meter_telemetry(api: Api) -> None:
    for path in ("telemetry/production_meter", "telemetry/consumption_meter"):
        status, body = await api.get(f"systems/{EASTERN_ID}/{path}")
        assert (status, body["total_devices"], body["intervals"]) == (200, 0, [])
    status, body = await api.get(f"systems/{EASTERN_ID}/energy_import_telemetry")
    assert body["intervals"] == []


async def test_battery_telemetry(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/telemetry/battery")
    assert status == 200
    assert body["total_devices"] == 3
    assert re.fullmatch(r"\d{1,3}%", body["last_reported_aggregate_soc"])
    intervals = body["intervals"]
    assert intervals
    for interval in intervals:
        assert set(interval) == {"end_at", "charge", "discharge", "soc"}
        assert set(interval["charge"]) == {"enwh", "devices_reporting"}
        assert 10 <= interval["soc"]["percent"] <= 100
    assert body["last_reported_aggregate_soc"] == f"{intervals[-1]['soc']['percent']}%"
    _, solar = await api.get(f"systems/{SOLAR_ID}/telemetry/battery")
    assert (solar["intervals"], solar["last_reported_aggregate_soc"]) == ([], None)


async def test_import_export_telemetry_nest_intervals_per_day(api: Api) -> None:
    status, body = await api.get(
        f"systems/{SOLAR_ID}/energy_import_telemetry",
        {"start_date": "2026-01-13", "granularity": "week"},
    )
    assert status == 200
    assert body["total_devices"] == 0
    days = body["intervals"]
    assert len(days) == 3  # the 13th, the 14th and today so far
    assert [len(day) for day in days[:2]] == [96, 96]
    assert all(set(i) == {"end_at", "wh_imported"} for day in days for i in day)
    _, export = await api.get(f"systems/{SOLAR_ID}/energy_export_telemetry")
    assert len(export["intervals"]) == 1
    assert sum(i["wh_exported"] for i in export["intervals"][0]) > 0


async def test_lifetime_series(api: Api) -> None:
    status, body = await api.get(f"systems/{BATTERY_ID}/energy_lifetime")
    assert status == 200
    assert body["start_date"] == "2025-11-01"
    assert body["meter_start_date"] == "2025-11-01"
    days = (date(2026, 1, 15) - date(2025, 11, 1)).days  # up to yesterday
    assert len(body["production"]) == days
    assert all(value > 0 for value in body["production"])
    _, everything = await api.get(f"systems/{BATTERY_ID}/energy_lifetime", {"production": "all"})
    assert everything["micro_production"] == everything["meter_production"] == body["production"]
    for path, keys in {
        "consumption_lifetime": ["consumption"],
        "battery_lifetime": ["charge", "discharge"],
        "energy_import_lifetime": ["import"],
        "energy_export_lifetime": ["export"],
    }.items():
        status, series = await api.get(f"systems/{BATTERY_ID}/{path}", {"start_date": "2026-01-10"})
        assert status == 200, path
        assert series["start_date"] == "2026-01-10"
        for key in keys:
            assert len(series[key]) == 5, (path, key)
        assert set(series["meta"]) == {
            "status",
            "last_report_at",
            "last_energy_at",
            "operational_at",
        }
    _, today = await api.get(f"systems/{BATTERY_ID}/energy_lifetime", {"start_date": "2026-01-15"})
    assert len(today["production"]) == 1
    _, none = await api.get(f"systems/{SOLAR_ID}/battery_lifetime")
    assert (none["charge"], none["discharge"]) == ([], [])
    _, early = await api.get(f"systems/{SOLAR_ID}/energy_lifetime", {"start_date": "2020-01-01"})
    assert early["start_date"] == SiteConfig.demo_solar_only().operational_date.isoformat()


async def test_lifetime_parameter_errors(api: Api) -> None:
    path = f"systems/{BATTERY_ID}/energy_lifetime"
    cases = [
        ({"start_date": "2026-01-16"}, "Requested date is in the future"),
        ({"end_date": "2026-02-01"}, "Requested date is in the future"),
        (
            {"start_date": "2026-01-10", "end_date": "2026-01-09"},
            "Requested date range is invalid for this system",
        ),
        ({"start_date": "yesterday"}, "Invalid start_date: expected YYYY-MM-DD"),
    ]
    for params, details in cases:
        status, body = await api.get(path, params)
        assert (status, body["details"]) == (422, details)


async def test_telemetry_windows(api: Api) -> None:
    path = f"systems/{BATTERY_ID}/telemetry/production_meter"
    now = int(api.cloud.clock().timestamp())
    _, current = await api.get(path)
    last = current["intervals"][-1]["end_at"]
    status, body = await api.get(path, {"start_at": last + 60, "granularity": "15mins"})
    assert (status, body["intervals"]) == (200, [])
    status, body = await api.get(path, {"start_at": now + 60})
    assert status == 422
    assert body["details"].startswith("Invalid request because of 'Requested date range")
    status, body = await api.get(path, {"start_at": now - 3 * 365 * 86_400})
    assert status == 422
    status, body = await api.get(path, {"granularity": "hour"})
    assert status == 422
    status, body = await api.get(path, {"start_at": "soon"})
    assert status == 422
    operational = 1_761_915_600
    _, early = await api.get(path, {"start_at": operational - 86_400 * 30})
    assert early["start_at"] == operational
    assert early["intervals"][0]["end_at"] == operational + 900


async def test_unknown_and_removed_systems_are_404(api: Api) -> None:
    status, body = await api.get("systems/999/summary")
    assert status == 404
    assert body == {
        "message": "Not Found",
        "details": 'System not found for {:id=>"999"}',
        "code": 404,
    }
    status, _ = await api.get("systems/abc/summary")
    assert status == 404
    api.cloud.faults.remove_system(SOLAR_ID)
    status, _ = await api.get(f"systems/{SOLAR_ID}")
    assert status == 404
    _, listing = await api.get("systems")
    assert [s["system_id"] for s in listing["systems"]] == [BATTERY_ID, EASTERN_ID]
    api.cloud.faults.clear()
    assert (await api.get(f"systems/{SOLAR_ID}"))[0] == 200


async def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    status, body = await api.get("nothing/here")
    assert (status, body["code"]) == (404, 404)
    async with api.http.post(f"{api.base}/api/v4/systems", headers=api.headers) as response:
        assert response.status == 405
        assert await response.json() == {"reason": "405", "message": ["Method not allowed"]}
    async with api.http.get(f"{api.base}/elsewhere") as response:
        assert response.status == 404
    async with api.http.put(f"{api.base}/oauth/authorize") as response:
        assert response.status == 405


async def test_never_reported_system_has_nulls(api: Api) -> None:
    site = SiteConfig.demo_battery()
    api.cloud.add_site(replace(site, system_id=4_201_999, never_reported=True))
    status, body = await api.get("systems/4201999")
    assert status == 200
    assert (body["last_report_at"], body["last_energy_at"], body["operational_at"]) == (
        None,
        None,
        None,
    )
    _, latest = await api.get("systems/4201999/latest_telemetry")
    assert all(m["power"] is None for m in latest["devices"]["meters"])
    assert all(e["operational_mode"] is None for e in latest["devices"]["encharges"])
    _, summary = await api.get("systems/4201999/summary")
    assert (summary["current_power"], summary["energy_today"]) == (0, 0)
    _, micro = await api.get("systems/4201999/telemetry/production_micro")
    assert micro["intervals"] == []
    _, lifetime = await api.get("systems/4201999/energy_lifetime", {"start_date": "2026-01-10"})
    assert lifetime["production"] == [0] * 5
    _, soc = await api.get("systems/4201999/telemetry/battery")
    assert soc["last_reported_aggregate_soc"] is None


async def test_moving_the_clock_publishes_more(api: Api, sim_clock: ManualClock) -> None:
    _, before = await api.get(f"systems/{BATTERY_ID}/summary")
    sim_clock.advance(timedelta(hours=1))
    _, after = await api.get(f"systems/{BATTERY_ID}/summary")
    moved = after["last_interval_end_at"] - before["last_interval_end_at"]
    assert moved in {2700, 3600, 4500}
    assert after["energy_today"] > before["energy_today"]
