"""Points, units, the sign conversion and the time format sent to LiveOne."""

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.liveone_enphase.liveone import (
    POINTS,
    EnergyInterval,
    EnergyTotals,
    PowerSample,
    ha_to_liveone_power,
    interval_readings,
    power_readings,
    total_readings,
)
from custom_components.liveone_enphase.liveone.points import (
    BATTERY_W,
    GRID_W,
    LOAD_W,
    SOLAR_KWH_TOTAL,
    SOLAR_W,
    Point,
    Reading,
    wh_to_kwh,
)
from custom_components.liveone_enphase.liveone.times import epoch_ms, iso_utc, parse_iso_utc

AT = datetime(2026, 6, 1, 2, 30, tzinfo=UTC)
LEGACY_KEYS = {
    "solar_w",
    "load_w",
    "battery_w",
    "grid_w",
    "battery_soc",
    "solar_kwh_total",
    "load_kwh_total",
    "battery_in_kwh_total",
    "battery_out_kwh_total",
    "grid_in_kwh_total",
    "grid_out_kwh_total",
}


@pytest.mark.parametrize(
    ("point", "ha_w", "liveone_w"),
    [
        (BATTERY_W, 1300.0, -1300.0),  # HA: discharging 1.3 kW -> LiveOne: negative
        (BATTERY_W, -800.0, 800.0),  # HA: charging 0.8 kW -> LiveOne: positive
        (GRID_W, 500.0, 500.0),  # importing is positive in both
        (GRID_W, -300.0, -300.0),  # exporting is negative in both
        (SOLAR_W, 2500.0, 2500.0),
        (LOAD_W, 1200.0, 1200.0),
    ],
)
def test_ha_to_liveone_power_flips_only_the_battery(
    point: Point, ha_w: float, liveone_w: float
) -> None:
    assert ha_to_liveone_power(point, ha_w) == liveone_w


def test_a_zero_battery_power_is_never_negative_zero() -> None:
    converted = ha_to_liveone_power(BATTERY_W, 0.0)
    assert math.copysign(1, converted) == 1
    assert json.dumps(converted) == "0.0"


def test_power_readings_use_liveone_signs_and_describe_themselves() -> None:
    sample = PowerSample(
        measured_at=AT, solar_w=2500, load_w=1200, battery_w=-1300, grid_w=0, battery_soc_pct=64
    )
    readings = {reading.point.key: reading for reading in power_readings(sample)}

    assert {key: reading.value for key, reading in readings.items()} == {
        "solar_w": 2500,
        "load_w": 1200,
        "battery_w": 1300,  # charging
        "grid_w": 0,
        "battery_soc": 64,
    }
    assert readings["battery_w"].to_wire() == {
        "physicalPathTail": "battery_w",
        "value": 1300,
        "metricType": "power",
        "metricUnit": "W",
        "measurementTime": "2026-06-01T02:30:00Z",
        "logicalPathStem": "battery",
        "defaultName": "Battery power (+ charging)",
        "subsystem": "battery",
    }
    assert readings["battery_soc"].to_wire()["metricUnit"] == "%"


def test_nothing_unmeasured_is_invented() -> None:
    sample = PowerSample(measured_at=AT, solar_w=math.nan, load_w=None, grid_w=math.inf)
    assert power_readings(sample) == []
    assert total_readings(EnergyTotals(measured_at=AT)) == []
    only_solar = interval_readings(EnergyInterval(end_at=AT, solar_wh=120, load_wh=math.nan))
    assert [(r.point.key, r.value) for r in only_solar] == [("solar_wh_interval", 120)]


def test_totals_are_cumulative_kwh_with_whole_wh() -> None:
    totals = EnergyTotals(
        measured_at=AT,
        solar_wh=16_200,
        load_wh=1_234_567.8,
        battery_in_wh=1,
        battery_out_wh=2,
        grid_in_wh=3,
        grid_out_wh=4,
    )
    readings = {reading.point.key: reading for reading in total_readings(totals)}

    assert readings["solar_kwh_total"].value == 16.2
    assert readings["load_kwh_total"].value == 1234.568
    assert set(readings) == {key for key in LEGACY_KEYS if key.endswith("_kwh_total")}
    wire = readings["grid_out_kwh_total"].to_wire()
    assert (wire["metricType"], wire["metricUnit"], wire["transform"]) == ("energy", "kWh", "d")
    assert wire["logicalPathStem"] == "grid.export"
    assert wh_to_kwh(0.1 + 0.2) == 0.0


def test_interval_energy_is_wh_timed_at_the_interval_end() -> None:
    interval = EnergyInterval(
        end_at=AT,
        solar_wh=500,
        load_wh=375,
        battery_in_wh=10,
        battery_out_wh=0,
        grid_in_wh=5,
        grid_out_wh=140,
    )
    readings = interval_readings(interval)
    assert len(readings) == 6
    for reading in readings:
        wire = reading.to_wire()
        assert (wire["metricUnit"], wire["measurementTime"]) == ("Wh", "2026-06-01T02:30:00Z")
        assert "transform" not in wire


def test_every_key_names_its_unit_and_every_legacy_key_exists() -> None:
    assert set(POINTS) >= LEGACY_KEYS
    for key, point in POINTS.items():
        assert point.key == key
        if key.endswith("_w"):
            assert (point.metric_type, point.metric_unit, point.cumulative) == ("power", "W", False)
        elif key.endswith("_kwh_total"):
            assert (point.metric_type, point.metric_unit, point.cumulative) == (
                "energy",
                "kWh",
                True,
            )
        elif key.endswith("_wh_interval"):
            assert (point.metric_type, point.metric_unit, point.cumulative) == (
                "energy",
                "Wh",
                False,
            )
        else:
            assert (key, point.metric_unit) == ("battery_soc", "%")


@pytest.mark.parametrize(
    ("value", "when"),
    [
        (True, AT),
        (math.nan, AT),
        (1.0, datetime(2026, 6, 1)),  # naive on purpose
    ],
)
def test_a_reading_refuses_what_liveone_would_skip(value: float, when: datetime) -> None:
    with pytest.raises(ValueError, match=r"storable|timezone-aware"):
        Reading(SOLAR_W, value, when)


def test_point_reading_builds_a_reading() -> None:
    reading = SOLAR_KWH_TOTAL.reading(1.5, AT)
    assert (reading.point, reading.value, reading.measured_at) == (SOLAR_KWH_TOTAL, 1.5, AT)


def test_times_are_iso_utc_with_z() -> None:
    brisbane = timezone(timedelta(hours=10))
    assert iso_utc(datetime(2026, 6, 1, 12, 30, tzinfo=brisbane)) == "2026-06-01T02:30:00Z"
    assert iso_utc(AT.replace(microsecond=123456)) == "2026-06-01T02:30:00.123Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2026, 6, 1))  # naive on purpose
    assert parse_iso_utc("2026-06-01T12:30:00+10:00") == AT
    assert parse_iso_utc("2026-06-01T02:30:00Z") == AT
    assert parse_iso_utc("2026-06-01T02:30:00") is None
    assert parse_iso_utc("noon") is None
    assert parse_iso_utc(12) is None


def test_epoch_ms_is_exact() -> None:
    assert epoch_ms(datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)) == 1
    assert epoch_ms(AT.replace(microsecond=123999)) == 1780281000123
