"""Parsing of every model from the swagger examples and from hand-written quirky payloads."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from custom_components.liveone_enphase.enphase import (
    BatteryLifetime,
    BatteryTelemetry,
    ConsumptionLifetime,
    DailySeries,
    Devices,
    EnergyLifetime,
    EnphaseMalformedResponseError,
    ExportLifetime,
    ExportTelemetry,
    ImportLifetime,
    ImportTelemetry,
    LatestTelemetry,
    MeterTelemetry,
    MicroTelemetry,
    Summary,
    System,
    SystemsPage,
)

from .spec import example


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --- systems ------------------------------------------------------------------------------


def test_systems_page_from_spec_example() -> None:
    page = SystemsPage.from_dict(example("systems"))

    assert (page.total, page.current_page, page.size, page.count) == (28, 1, 2, 2)
    first, second = page.systems
    assert first.system_id == 698910067
    assert first.name == "Enphase System"
    assert first.public_name == "Residential System"
    assert first.timezone == "Australia/Sydney"
    assert first.address is not None
    assert first.address.city == "Sydney"
    assert first.address.postal_code == "2127"
    assert first.connection_type == "ethernet"
    assert first.status == "micro"
    assert first.last_report_at == utc(1508174262)
    assert first.last_report_at.tzinfo is UTC
    assert first.last_energy_at == utc(1508174172)
    assert first.operational_at == utc(1497445200)
    assert first.attachment_type is None
    assert first.interconnect_date is None
    assert first.reference == "106015287"
    assert first.other_references == ("106015287",)
    # A legacy zone name is kept exactly as Enphase sends it.
    assert second.timezone == "US/Pacific"
    assert second.other_references == ()


def test_system_from_spec_example_with_interconnect_date_string() -> None:
    system = System.from_dict(example("systems/{system_id}"))

    assert system.system_id == 72
    assert system.interconnect_date == date(2012, 10, 13)
    assert system.attachment_type == "acm"
    assert system.connection_type == "cellular"


def test_interconnect_date_as_epoch_is_read_in_the_system_timezone() -> None:
    # Local midnight in Sydney is still the previous day in UTC.
    midnight_sydney = 1583067600  # 2020-03-02T00:00+11:00
    payload = {
        "system_id": 1,
        "name": "Site",
        "timezone": "Australia/Sydney",
        "interconnect_date": midnight_sydney,
    }

    assert System.from_dict(payload).interconnect_date == date(2020, 3, 2)


@pytest.mark.parametrize("timezone", [None, "Not/AZone", "US/Eastern"])
def test_interconnect_epoch_with_unknown_or_legacy_zone(timezone: str | None) -> None:
    noon_utc = 1583150400  # 2020-03-02T12:00Z: the same day in UTC and in US/Eastern
    payload = {"system_id": 1, "name": "S", "timezone": timezone, "interconnect_date": noon_utc}

    system = System.from_dict(payload)

    assert system.interconnect_date == date(2020, 3, 2)
    assert system.timezone == timezone


def test_integral_floats_count_as_integers() -> None:
    system = System.from_dict({"system_id": 72.0, "name": "x", "last_report_at": 1.5e9})

    assert system.system_id == 72
    assert isinstance(system.system_id, int)
    assert system.last_report_at == utc(1_500_000_000)


def test_system_that_never_reported_has_null_times() -> None:
    payload = {
        "system_id": 5,
        "name": "New",
        "last_report_at": None,
        "last_energy_at": None,
        "operational_at": None,
        "address": None,
        "public_name": "",
    }

    system = System.from_dict(payload)

    assert system.last_report_at is None
    assert system.last_energy_at is None
    assert system.operational_at is None
    assert system.address is None
    assert system.public_name is None  # blank means unknown


def test_summary_from_spec_example() -> None:
    summary = Summary.from_dict(example("systems/{system_id}/summary"))

    assert summary.system_id == 698910067
    assert summary.current_power_w == 0
    assert summary.energy_today_wh == 0
    assert summary.energy_lifetime_wh == 0
    assert summary.last_interval_end_at == utc(1557400231)
    assert summary.last_report_at == utc(1557400231)
    assert summary.modules == 5
    assert summary.operational_at is None
    assert summary.size_w == 1250
    assert summary.nmi == "1213141516"
    assert summary.source == "meter"
    assert summary.status == "normal"
    assert summary.summary_date == date(2019, 5, 12)
    assert summary.battery_charge_w == 1280
    assert summary.battery_discharge_w == 1280
    assert summary.battery_capacity_wh == 3360
    assert [(e.serial_number, e.max_charge_w, e.min_charge_w) for e in summary.evse_power] == [
        ("21458935", 440, 2230),
        ("12785966", 530, 1200),
    ]


def test_summary_quirks_integer_nmi_and_null_evse_entry() -> None:
    summary = Summary.from_dict(
        {
            "system_id": 9,
            "current_power": 1234.5,
            "nmi": 4102,
            "evse_power": [{"77": None}],
        }
    )

    assert summary.current_power_w == 1234.5
    assert summary.nmi == "4102"
    assert summary.energy_today_wh is None
    assert [(e.serial_number, e.max_charge_w) for e in summary.evse_power] == [("77", None)]


# --- devices ------------------------------------------------------------------------------


def test_devices_from_spec_example() -> None:
    devices = Devices.from_dict(example("systems/{system_id}/devices"))

    assert devices.system_id == 698910067
    assert devices.total_devices == 11
    assert len(devices.micros) == 2
    assert devices.micros[0].serial_number == "902167438951"
    assert devices.micros[0].sku == "IQ8A-72-2-US"
    (gateway,) = devices.gateways
    assert gateway.firmware == "D4.6.11.170403 (799d2d)"
    assert gateway.model == "Envoy-S-Standard-NA"
    assert gateway.device_id == "1059563029"
    assert [m.config_type for m in devices.meters] == ["Production", "Net"]
    assert [m.config_phase for m in devices.meters] == ["three", "single"]
    assert devices.meters[0].state == "enabled"
    assert devices.meters[0].sku is None
    assert devices.encharges[0].product_name == "IQ Battery R3 - 5P"
    assert devices.enpowers[0].name == "IQ System Controller 482218007023"
    (charger,) = devices.ev_chargers
    assert charger.device_id is None  # "" in the payload
    assert charger.firmware is None
    assert charger.model == "Keba_P30"
    (heat_pump,) = devices.of_kind("heat_pump")
    assert heat_pump.sku is None  # "SKU": "" upper-case key, blank
    assert devices.of_kind("generators")[0].device_id == "8"
    assert devices.of_kind("iq_air")[0].last_report_at is None
    assert {d.kind for d in devices.devices} >= {"q_relays", "acbs", "iq_collars"}
    assert all(d.active is True for d in devices.devices)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("False", False), (False, False)])
def test_device_active_accepts_string_booleans(raw: object, expected: bool) -> None:
    payload = {
        "system_id": 1,
        "devices": {"ev_chargers": [{"name": "EV", "active": raw, "firmware": "1.2"}]},
    }

    (charger,) = Devices.from_dict(payload).ev_chargers

    assert charger.active is expected
    assert charger.firmware == "1.2"


def test_devices_without_groups() -> None:
    devices = Devices.from_dict({"system_id": 3, "devices": None})

    assert devices.devices == ()
    assert devices.gateways == ()


# --- latest telemetry ---------------------------------------------------------------------


def test_latest_telemetry_from_spec_example() -> None:
    latest = LatestTelemetry.from_dict(example("systems/{system_id}/latest_telemetry"))

    assert latest.system_id == 698943141
    assert len(latest.meters) == 6
    assert latest.meters[0].channel == 1
    assert latest.meters[0].device_id == "1084690247"
    assert latest.meters[1].power_w is None
    assert latest.production_w == 755
    assert latest.consumption_w == 12
    assert latest.battery_w == -15  # Enphase's sign is kept
    assert latest.battery_mode == "Idle"
    assert latest.encharges[0].operational_mode == "Idle"
    assert latest.evse[0].operational_mode == "PLUGGED_OUT"
    assert latest.evse[0].serial_number == "380699"
    assert latest.heat_pumps[0].operational_mode == "MODE_2"
    assert latest.last_report_at == utc(1757583826)


def _meter(name: str, channel: int, power: float | None, at: int | None = 1_700_000_000) -> Any:
    return {"id": 1, "name": name, "channel": channel, "last_report_at": at, "power": power}


def test_latest_telemetry_sums_only_channels_that_reported() -> None:
    payload = {
        "system_id": 1,
        "items": "devices",
        "devices": {
            "meters": [
                _meter("production", 1, 1000),
                _meter("production", 2, 1500.5),
                _meter("production", 3, None, None),
                _meter("consumption", 1, 400),
                _meter("consumption", 2, -50),
            ],
            "encharges": [
                {"id": 7, "power": 800, "operational_mode": "Discharging", "last_report_at": 200},
                {"id": 8, "power": -300, "operational_mode": "Charging", "last_report_at": 100},
            ],
            "heat_pump": [{"name": "HP", "operational_mode": "MODE_1", "last_report_at": 50}],
            "some_future_kind": [{"anything": True}],
        },
    }

    latest = LatestTelemetry.from_dict(payload)

    assert latest.production_w == 2500.5
    assert latest.consumption_w == 350
    assert latest.battery_w == 500
    assert latest.battery_mode == "Discharging"  # the battery that reported last
    assert latest.heat_pumps[0].operational_mode == "MODE_1"


def test_latest_telemetry_devices_silent_for_a_week_are_unknown_not_zero() -> None:
    payload = {
        "system_id": 1,
        "devices": {
            "meters": [_meter("production", 1, None, None), _meter("consumption", 1, None, None)],
            "encharges": [
                {"id": 1, "power": None, "operational_mode": None, "last_report_at": None}
            ],
        },
    }

    latest = LatestTelemetry.from_dict(payload)

    assert latest.production_w is None
    assert latest.consumption_w is None
    assert latest.battery_w is None
    assert latest.battery_mode is None
    assert latest.last_report_at is None


def test_latest_telemetry_for_site_without_devices() -> None:
    latest = LatestTelemetry.from_dict({"system_id": 4})

    assert (latest.meters, latest.encharges, latest.evse, latest.heat_pumps) == ((), (), (), ())
    assert latest.production_w is None


# --- interval telemetry -------------------------------------------------------------------


def test_production_micro_from_spec_example() -> None:
    micro = MicroTelemetry.from_dict(example("systems/{system_id}/telemetry/production_micro"))

    assert micro.system_id == 698905955
    assert micro.granularity == "day"
    assert micro.total_devices == 9
    assert micro.start_at == utc(1496526300)
    assert micro.end_at == utc(1496528300)
    assert micro.meta is not None
    assert micro.meta.status == "normal"
    assert micro.meta.last_energy_at == utc(1445619033)
    first = micro.intervals[0]
    assert first.end_at == utc(1384122700)
    assert (first.devices_reporting, first.power_w, first.energy_wh) == (1, 30, 40)


def test_production_meter_from_spec_example_reads_wh_del() -> None:
    meter = MeterTelemetry.from_dict(example("systems/{system_id}/telemetry/production_meter"))

    assert meter.meta is None  # this endpoint's example has no meta
    assert [(i.end_at, i.energy_wh) for i in meter.intervals] == [
        (utc(1384122700), 40),
        (utc(1384123600), 40),
    ]


def test_consumption_meter_from_spec_example_reads_enwh() -> None:
    meter = MeterTelemetry.from_dict(example("systems/{system_id}/telemetry/consumption_meter"))

    assert [i.energy_wh for i in meter.intervals] == [40, 40]
    assert meter.intervals[0].devices_reporting == 1


def test_battery_telemetry_from_spec_example() -> None:
    battery = BatteryTelemetry.from_dict(example("systems/{system_id}/telemetry/battery"))

    assert battery.last_reported_aggregate_soc_pct == 97.0
    (interval,) = battery.intervals
    assert interval.end_at == utc(1384122700)
    assert (interval.charge_wh, interval.discharge_wh, interval.soc_pct) == (40, 0, 25)


@pytest.mark.parametrize(("raw", "expected"), [("97%", 97.0), (" 5.5 % ", 5.5), (80, 80.0)])
def test_battery_aggregate_soc_forms(raw: object, expected: float) -> None:
    payload = {"system_id": 1, "intervals": [], "last_reported_aggregate_soc": raw}

    assert BatteryTelemetry.from_dict(payload).last_reported_aggregate_soc_pct == expected


def test_battery_interval_with_missing_groups() -> None:
    payload = {"system_id": 1, "intervals": [{"end_at": 900, "soc": {"percent": 50}}]}

    (interval,) = BatteryTelemetry.from_dict(payload).intervals

    assert (interval.charge_wh, interval.discharge_wh, interval.soc_pct) == (None, None, 50)


def test_import_and_export_telemetry_flatten_the_nested_interval_list() -> None:
    imported = ImportTelemetry.from_dict(example("systems/{system_id}/energy_import_telemetry"))
    exported = ExportTelemetry.from_dict(example("systems/{system_id}/energy_export_telemetry"))

    assert [(i.end_at, i.energy_wh) for i in imported.intervals] == [
        (utc(1384122700), 40),
        (utc(1384123600), 40),
    ]
    assert [i.energy_wh for i in exported.intervals] == [40, 40]
    assert imported.total_devices == 0


def test_import_telemetry_also_accepts_a_flat_list() -> None:
    payload = {"system_id": 1, "intervals": [{"end_at": 900, "wh_imported": 12}]}

    assert [i.energy_wh for i in ImportTelemetry.from_dict(payload).intervals] == [12]


def test_window_past_the_last_report_is_empty() -> None:
    micro = MicroTelemetry.from_dict({"system_id": 1, "intervals": [], "items": "intervals"})

    assert micro.intervals == ()
    assert micro.start_at is None


# --- lifetime -----------------------------------------------------------------------------


def test_energy_lifetime_from_spec_example() -> None:
    lifetime = EnergyLifetime.from_dict(example("systems/{system_id}/energy_lifetime"))

    assert lifetime.system_id == 66
    assert lifetime.production.start_date == date(2013, 1, 1)
    assert list(lifetime.production.daily_wh) == [15422, 15421, 17118, 18505, 18511, 18487]
    assert lifetime.meter_start_date == date(2013, 1, 4)
    assert lifetime.micro_production is not None
    assert lifetime.micro_production.daily_wh[3] == 18513
    assert lifetime.meter_production is not None
    assert lifetime.meter_production.daily_wh[0] == 0
    assert lifetime.production.unreported_days == 0
    assert lifetime.meta is not None
    assert lifetime.meta.operational_at == utc(1357023600)


def test_other_lifetimes_from_spec_examples() -> None:
    consumption = ConsumptionLifetime.from_dict(example("systems/{system_id}/consumption_lifetime"))
    battery = BatteryLifetime.from_dict(example("systems/{system_id}/battery_lifetime"))
    imported = ImportLifetime.from_dict(example("systems/{system_id}/energy_import_lifetime"))
    exported = ExportLifetime.from_dict(example("systems/{system_id}/energy_export_lifetime"))

    assert consumption.consumption.start_date == date(2016, 8, 1)
    assert consumption.consumption.daily_wh[0] == 15422
    assert battery.charge.daily_wh == battery.discharge.daily_wh
    assert imported.imported.daily_wh[-1] == 18487
    assert exported.exported.start_date == date(2016, 8, 1)
    assert exported.meta is not None


def test_trailing_zeros_are_not_reported_yet() -> None:
    lifetime = ConsumptionLifetime.from_dict(
        {"system_id": 1, "start_date": "2026-05-28", "consumption": [909, 0, 4970, 0, 0]}
    )
    series = lifetime.consumption

    assert series.unreported_days == 2
    # The zero in the middle is a real zero; only the trailing ones are pending.
    assert series.reported() == (
        (date(2026, 5, 28), 909),
        (date(2026, 5, 29), 0),
        (date(2026, 5, 30), 4970),
    )
    assert series.unreported_dates() == (date(2026, 5, 31), date(2026, 6, 1))


def test_empty_series_of_a_system_that_never_produced() -> None:
    lifetime = EnergyLifetime.from_dict({"system_id": 1, "start_date": None, "production": []})

    assert lifetime.production == DailySeries(start_date=None, daily_wh=())
    assert lifetime.production.reported() == ()
    assert lifetime.production.unreported_dates() == ()
    assert lifetime.micro_production is None


def test_all_zero_series_is_entirely_unreported() -> None:
    series = ExportLifetime.from_dict(
        {"system_id": 1, "start_date": "2026-01-01", "export": [0, 0]}
    ).exported

    assert series.reported() == ()
    assert series.unreported_dates() == (date(2026, 1, 1), date(2026, 1, 2))


def test_meter_start_date_as_epoch() -> None:
    lifetime = EnergyLifetime.from_dict(
        {"system_id": 1, "start_date": "2020-01-01", "production": [1], "meter_start_date": 0}
    )

    assert lifetime.meter_start_date == date(1970, 1, 1)


# --- malformed shapes ---------------------------------------------------------------------

MALFORMED: list[tuple[Any, Any, str]] = [
    (System, [], "system: expected an object, got list"),
    (System, {"name": "x"}, "system.system_id: missing"),
    (System, {"system_id": "12", "name": "x"}, "system.system_id: expected an integer"),
    (System, {"system_id": True, "name": "x"}, "system.system_id: expected an integer"),
    (System, {"system_id": 1, "name": 5}, "system.name: expected a string"),
    (System, {"system_id": 1, "name": "x", "last_report_at": "yesterday"}, "last_report_at"),
    (System, {"system_id": 1, "name": "x", "last_report_at": 1e300}, "last_report_at"),
    (System, {"system_id": 1, "name": "x", "interconnect_date": "13/10/2012"}, "interconnect"),
    (System, {"system_id": 1, "name": "x", "address": "Sydney"}, "system.address: expected"),
    (System, {"system_id": 1, "name": "x", "other_references": [1]}, "other_references"),
    (System, {"system_id": 1, "name": "x", "other_references": "1"}, "expected a list"),
    (SystemsPage, {"systems": [{"system_id": 1}]}, "systems.systems[0].name: missing"),
    (Summary, {"system_id": 1, "current_power": "12 W"}, "summary.current_power"),
    (Summary, {"system_id": 1, "energy_today": float("nan")}, "summary.energy_today"),
    (Summary, {"system_id": 1, "evse_power": [[1]]}, "summary.evse_power[0]"),
    (Devices, {"system_id": 1, "devices": {"micros": {}}}, "devices.devices.micros"),
    (Devices, {"system_id": 1, "devices": {"micros": [{"active": "yes"}]}}, "active"),
    (Devices, {"system_id": 1, "devices": {"micros": [{"id": 1.5}]}}, "micros[0].id"),
    (LatestTelemetry, {"system_id": 1, "devices": []}, "latest_telemetry.devices"),
    (LatestTelemetry, {"system_id": 1, "devices": {"meters": [{"power": "x"}]}}, "power"),
    (MicroTelemetry, {"system_id": 1, "intervals": [{"powr": 1}]}, "intervals[0].end_at"),
    (MicroTelemetry, {"system_id": 1, "intervals": {}}, "intervals: expected a list"),
    (ImportTelemetry, {"system_id": 1, "intervals": [[{"wh_imported": 1}]]}, "[0][0].end_at"),
    (BatteryTelemetry, {"system_id": 1, "last_reported_aggregate_soc": "full"}, "aggregate"),
    (BatteryTelemetry, {"system_id": 1, "last_reported_aggregate_soc": "nan%"}, "aggregate"),
    (BatteryTelemetry, {"system_id": 1, "intervals": [{"end_at": 1, "soc": 5}]}, "soc"),
    (EnergyLifetime, {"system_id": 1, "production": [1, 2]}, "start_date: missing"),
    (EnergyLifetime, {"system_id": 1, "start_date": "x", "production": []}, "start_date"),
    (ConsumptionLifetime, {"system_id": 1, "consumption": [None]}, "list of numbers"),
    (
        ImportLifetime,
        {"system_id": 1, "start_date": "9999-12-31", "import": [1, 2]},
        "runs past year 9999",
    ),
    (ExportLifetime, "not an object", "energy_export_lifetime: expected an object"),
]


@pytest.mark.parametrize(("model", "payload", "fragment"), MALFORMED)
def test_wrong_shapes_raise_malformed_naming_the_field(
    model: Any, payload: Any, fragment: str
) -> None:
    with pytest.raises(EnphaseMalformedResponseError) as caught:
        model.from_dict(payload)

    assert fragment in str(caught.value)


def test_models_are_frozen() -> None:
    system = System.from_dict({"system_id": 1, "name": "x"})

    with pytest.raises(AttributeError):
        system.name = "y"  # type: ignore[misc]
