"""Energy bookkeeping: intervals add up to the lifetime counters, and energy is conserved."""

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sim.enphase import Channel, SiteConfig
from sim.enphase.physics import STEP_S, SiteModel
from tests.sim.conftest import BATTERY_ID, SOLAR_ID, Api

DAY = "2026-01-12"


async def daily(api: Api, system_id: int, path: str, key: str) -> int:
    _, body = await api.get(f"systems/{system_id}/{path}", {"start_date": DAY, "end_date": DAY})
    return int(body[key][0])


async def day_of_intervals(api: Api, system_id: int, path: str) -> list[dict[str, Any]]:
    _, body = await api.get(
        f"systems/{system_id}/{path}", {"start_date": DAY, "granularity": "day"}
    )
    intervals = body["intervals"]
    if intervals and isinstance(intervals[0], list):
        return [item for day in intervals for item in day]
    return list(intervals)


async def test_intervals_sum_to_the_daily_lifetime_values(api: Api) -> None:
    production = await daily(api, BATTERY_ID, "energy_lifetime", "production")
    micro = await day_of_intervals(api, BATTERY_ID, "telemetry/production_micro")
    meter = await day_of_intervals(api, BATTERY_ID, "telemetry/production_meter")
    assert sum(int(i["enwh"]) for i in micro) == production
    assert sum(int(i["wh_del"]) for i in meter) == production
    assert len(meter) == 96

    consumption = await daily(api, BATTERY_ID, "consumption_lifetime", "consumption")
    load = await day_of_intervals(api, BATTERY_ID, "telemetry/consumption_meter")
    assert sum(int(i["enwh"]) for i in load) == consumption

    imported = await daily(api, BATTERY_ID, "energy_import_lifetime", "import")
    exported = await daily(api, BATTERY_ID, "energy_export_lifetime", "export")
    imports = await day_of_intervals(api, BATTERY_ID, "energy_import_telemetry")
    exports = await day_of_intervals(api, BATTERY_ID, "energy_export_telemetry")
    assert sum(int(i["wh_imported"]) for i in imports) == imported
    assert sum(int(i["wh_exported"]) for i in exports) == exported

    charged = await daily(api, BATTERY_ID, "battery_lifetime", "charge")
    discharged = await daily(api, BATTERY_ID, "battery_lifetime", "discharge")
    battery = await day_of_intervals(api, BATTERY_ID, "telemetry/battery")
    assert sum(int(i["charge"]["enwh"]) for i in battery) == charged
    assert sum(int(i["discharge"]["enwh"]) for i in battery) == discharged

    assert production > 10_000
    assert charged > 0
    assert discharged > 0
    balance_in = production + imported + discharged
    balance_out = consumption + exported + charged
    assert abs(balance_in - balance_out) <= 0.001 * balance_in


async def test_published_days_match_the_truth(api: Api) -> None:
    model = api.cloud.truth.model(SOLAR_ID)
    midnight = datetime(2026, 1, 12, tzinfo=model.zone)
    truth = api.cloud.truth.energy(SOLAR_ID, midnight, midnight + timedelta(days=1))
    assert await daily(api, SOLAR_ID, "energy_lifetime", "production") == truth.solar_wh
    assert await daily(api, SOLAR_ID, "consumption_lifetime", "consumption") == truth.load_wh
    assert await daily(api, SOLAR_ID, "energy_import_lifetime", "import") == truth.import_wh
    assert await daily(api, SOLAR_ID, "energy_export_lifetime", "export") == truth.export_wh
    assert truth.charge_wh == truth.discharge_wh == 0


def test_counters_balance_exactly_and_only_rise() -> None:
    model = SiteModel(replace(SiteConfig.demo_battery(), seed=101))
    days = 20
    model.ensure(model.start + days * 86_400)
    previous = [0] * len(Channel)
    for boundary in range(0, model.steps + 1, 7):
        values = [model.cumulative(channel, boundary) for channel in Channel]
        assert all(now >= before for now, before in zip(values, previous, strict=True))
        solar, load, imported, exported, charge, discharge = values
        assert solar + imported + discharge == load + exported + charge
        previous = values


def test_physics_respects_the_ratings() -> None:
    site = replace(SiteConfig.demo_battery(), seed=102)
    model = SiteModel(site)
    model.ensure(model.start + 10 * 86_400)
    reserve = site.battery_reserve_pct
    night_solar = []
    for index in range(model.steps):
        sample = model.power(index)
        assert 0 <= sample.solar_w <= site.pv_size_w
        assert sample.load_w > 0
        assert abs(sample.battery_w) <= site.battery_power_w + 1e-6
        assert sample.soc_pct is not None
        assert reserve - 1e-6 <= sample.soc_pct <= 100 + 1e-6
        if sample.battery_w > 0:
            assert sample.solar_w < sample.load_w  # discharges only into a deficit
        hour = sample.end.astimezone(model.zone).hour
        if hour in {0, 1, 2, 3}:
            night_solar.append(sample.solar_w)
    assert night_solar
    assert max(night_solar) == 0
    assert max(model.power(i).solar_w for i in range(model.steps)) > 0.6 * site.pv_size_w


def test_solar_only_model_has_no_battery_flows() -> None:
    model = SiteModel(replace(SiteConfig.demo_solar_only(), seed=103))
    end = model.start + 5 * 86_400
    model.ensure(end)
    last = model.step_index(end)
    assert model.energy(Channel.CHARGE, 0, last) == 0
    assert model.energy(Channel.DISCHARGE, 0, last) == 0
    assert model.power(0).soc_pct is None
    assert model.energy(Channel.EXPORT, 0, last) > 0
    assert model.energy(Channel.IMPORT, 0, last) > 0


def test_integration_is_lazy_and_fast() -> None:
    site = replace(SiteConfig.demo_battery(), seed=104, operational_date=date(2025, 1, 1))
    model = SiteModel(site)
    assert model.steps == 0
    started = time.process_time()
    model.ensure(model.start + 60 * 86_400)
    elapsed = time.process_time() - started
    assert model.steps == 60 * 86_400 // STEP_S
    assert elapsed < 1.0  # a year for one site stays well under two seconds


def test_models_are_deterministic_and_shared() -> None:
    site = replace(SiteConfig.demo_solar_only(), seed=105)
    first, second = SiteModel(site), SiteModel(site)
    first.ensure(first.start + 86_400)
    second.ensure(second.start + 3_600)
    second.ensure(second.start + 86_400)
    last = first.steps
    assert first.cumulative(Channel.SOLAR, last) == second.cumulative(Channel.SOLAR, last)
    assert SiteModel.shared(site) is SiteModel.shared(site)


def test_truth_power_lookup(api: Api) -> None:
    truth = api.cloud.truth
    now = api.cloud.clock()
    sample = truth.power_at(BATTERY_ID)
    assert sample.end - timedelta(seconds=STEP_S) < now <= sample.end
    assert sample.grid_w == sample.load_w - sample.solar_w - sample.battery_w
    counters = truth.lifetime(BATTERY_ID)
    assert counters.solar_wh > 0
    assert truth.published_until(BATTERY_ID) is not None
    assert truth.published_until(BATTERY_ID, datetime(2025, 10, 1, tzinfo=UTC)) is None
