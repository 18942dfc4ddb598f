"""The sensors, against the simulator's physical truth, and what exists for which hardware."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from unittest.mock import PropertyMock, patch
from zoneinfo import ZoneInfo

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props
from syrupy.types import PropertyPath, SerializableData

from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.sensor import BUDGET_SENSORS, SYSTEM_SENSORS
from sim.enphase import Counters, EnphaseCloud, Plan, SiteConfig, StepPower
from sim.server import SimServer

from .conftest import (
    BATTERY_SITE,
    SOLAR_SITE,
    CloudSpec,
    TimeMachine,
    assert_issue_translated,
    setup_entry,
    strings,
)

pytestmark = pytest.mark.usefixtures("credentials")

# What every sensor is: unit, device class, state class (None: not set).
KINDS: dict[str, tuple[str | None, str | None, str | None]] = {
    "solar_power": ("W", "power", "measurement"),
    "consumption_power": ("W", "power", "measurement"),
    "battery_power": ("W", "power", "measurement"),
    "battery_charge_power": ("W", "power", "measurement"),
    "battery_discharge_power": ("W", "power", "measurement"),
    "grid_power": ("W", "power", "measurement"),
    "grid_import_power": ("W", "power", "measurement"),
    "grid_export_power": ("W", "power", "measurement"),
    "solar_energy": ("kWh", "energy", "total_increasing"),
    "consumption_energy": ("kWh", "energy", "total_increasing"),
    "battery_energy_charged": ("kWh", "energy", "total_increasing"),
    "battery_energy_discharged": ("kWh", "energy", "total_increasing"),
    "grid_energy_imported": ("kWh", "energy", "total_increasing"),
    "grid_energy_exported": ("kWh", "energy", "total_increasing"),
    "solar_energy_today": ("kWh", "energy", "total"),
    "state_of_charge": ("%", "battery", "measurement"),
    "battery_mode": (None, "enum", None),
    "last_report": (None, "timestamp", None),
    "system_status": (None, "enum", None),
}
BATTERY_ONLY = {
    "battery_power",
    "battery_charge_power",
    "battery_discharge_power",
    "battery_energy_charged",
    "battery_energy_discharged",
    "state_of_charge",
    "battery_mode",
}
METERED_ONLY = {
    "consumption_power",
    "grid_power",
    "grid_import_power",
    "grid_export_power",
    "consumption_energy",
    "grid_energy_imported",
    "grid_energy_exported",
}
COUNTERS = {
    "solar_energy": "solar_wh",
    "consumption_energy": "load_wh",
    "battery_energy_charged": "charge_wh",
    "battery_energy_discharged": "discharge_wh",
    "grid_energy_imported": "import_wh",
    "grid_energy_exported": "export_wh",
}
KNOWN_WRONG: frozenset[str] = frozenset()
PREFIX = {BATTERY_SITE: "sensor.demo_battery_home_", SOLAR_SITE: "sensor.demo_solar_home_"}


def sensors(hass: HomeAssistant, prefix: str) -> dict[str, str]:
    """The state of every enabled sensor whose entity id starts with `prefix`, by key."""
    return {
        state.entity_id.removeprefix(prefix): state.state
        for state in hass.states.async_all("sensor")
        if state.entity_id.startswith(prefix)
    }


def last_call(cloud: EnphaseCloud, system_id: int, endpoint: str) -> datetime:
    """When the simulator last answered `endpoint` for a system."""
    return max(
        r.time for r in cloud.requests if r.system_id == system_id and r.endpoint == endpoint
    )


def published(cloud: EnphaseCloud, system_id: int, endpoint: str) -> tuple[StepPower, Counters]:
    """The physical truth as far as the simulator had published it at the last such call."""
    until = cloud.truth.published_until(system_id, last_call(cloud, system_id, endpoint))
    assert until is not None
    return cloud.truth.power_at(system_id, until), cloud.truth.lifetime(system_id, until)


def assert_kinds(hass: HomeAssistant, prefix: str, keys: set[str]) -> None:
    for key in keys:
        state = hass.states.get(prefix + key)
        assert state is not None, key
        unit, device_class, state_class = KINDS[key]
        assert state.attributes.get("unit_of_measurement") == unit, key
        assert state.attributes.get("device_class") == device_class, key
        assert state.attributes.get("state_class") == state_class, key


def assert_power(hass: HomeAssistant, prefix: str, truth: StepPower) -> None:
    """Power in HA's signs: battery + discharging, grid + importing; split sensors never < 0."""
    value = {key: float(state) for key, state in sensors(hass, prefix).items() if "power" in key}
    assert value["solar_power"] == pytest.approx(truth.solar_w, abs=1)
    assert value["consumption_power"] == pytest.approx(truth.load_w, abs=3)
    assert value["grid_power"] == pytest.approx(truth.grid_w, abs=3)
    assert value["grid_import_power"] == pytest.approx(max(truth.grid_w, 0), abs=3)
    assert value["grid_export_power"] == pytest.approx(max(-truth.grid_w, 0), abs=3)
    if "battery_power" in value:
        assert value["battery_power"] == pytest.approx(truth.battery_w, abs=3)
        assert value["battery_discharge_power"] == pytest.approx(max(truth.battery_w, 0), abs=3)
        assert value["battery_charge_power"] == pytest.approx(max(-truth.battery_w, 0), abs=3)
    assert all(value[key] >= 0 for key in value if key.endswith(("import_power", "export_power")))


def assert_counters(
    hass: HomeAssistant, prefix: str, truth: Counters, *, unchecked: frozenset[str] = frozenset()
) -> None:
    """Lifetime counters equal the published lifetime energy, in kWh."""
    for key, field in COUNTERS.items():
        if key not in unchecked and (state := hass.states.get(prefix + key)) is not None:
            assert float(state.state) == pytest.approx(getattr(truth, field) / 1000), key


async def test_battery_system_sensors_match_the_simulator(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    await time_machine.advance(timedelta(minutes=10))
    prefix = PREFIX[BATTERY_SITE]

    assert set(sensors(hass, prefix)) == set(KINDS)  # the three budget sensors are disabled
    assert_kinds(hass, prefix, set(KINDS))
    power, counters = published(enphase_cloud, BATTERY_SITE, "systems/{system_id}/latest_telemetry")
    assert_power(hass, prefix, power)
    # Known defect of readings/state.py, reported to its owner: grid import DERIVED from
    # intervals comes out too high (here ~10.8 kWh). Compare it too once that is fixed.
    assert_counters(hass, prefix, counters, unchecked=KNOWN_WRONG)
    assert power.battery_w < -30  # midday: charging
    assert hass.states.get(prefix + "battery_mode").state == "charging"
    soc, _ = published(enphase_cloud, BATTERY_SITE, "systems/{system_id}/telemetry/battery")
    assert soc.soc_pct is not None
    assert float(hass.states.get(prefix + "state_of_charge").state) == round(soc.soc_pct)
    assert hass.states.get(prefix + "system_status").state == "normal"
    report = datetime.fromisoformat(hass.states.get(prefix + "last_report").state)
    assert power.end <= report <= time_machine.now()

    # After the night's catch-up the counters hold every interval published by then.
    await time_machine.run_until(datetime(2026, 1, 15, 18, 0, tzinfo=UTC))
    _, counters = published(enphase_cloud, BATTERY_SITE, "systems/{system_id}/telemetry/battery")
    assert_counters(hass, prefix, counters, unchecked=KNOWN_WRONG)


async def test_solar_only_system_has_no_battery_sensors(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[SOLAR_SITE])
    # Known defect of readings/state.py, reported to its owner: right after the FIRST poll the
    # production_micro window makes solar read 0 W at noon; the next live poll corrects it.
    await time_machine.advance(timedelta(hours=1))
    prefix = PREFIX[SOLAR_SITE]

    assert set(sensors(hass, prefix)) == set(KINDS) - BATTERY_ONLY
    assert_kinds(hass, prefix, set(KINDS) - BATTERY_ONLY)
    power, _ = published(enphase_cloud, SOLAR_SITE, "systems/{system_id}/latest_telemetry")
    assert_power(hass, prefix, power)
    # The counters hold what the first poll's catch-up and lifetime calls brought.
    _, counters = published(enphase_cloud, SOLAR_SITE, "systems/{system_id}/energy_lifetime")
    assert_counters(hass, prefix, counters, unchecked=KNOWN_WRONG)
    assert not [state for state in hass.states.async_all() if "battery" in state.entity_id]


@pytest.mark.parametrize(
    "enphase_cloud", [CloudSpec(sites=(SiteConfig.demo_us_eastern(),))], indirect=True
)
async def test_a_system_without_meters_has_only_solar_sensors(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[4_201_003])
    await time_machine.advance(timedelta(minutes=10))
    prefix = "sensor.demo_east_coast_"

    assert set(sensors(hass, prefix)) == set(KINDS) - BATTERY_ONLY - METERED_ONLY
    _, counters = published(enphase_cloud, 4_201_003, "systems/{system_id}/energy_lifetime")
    assert_counters(hass, prefix, counters)


async def test_todays_production_restarts_at_local_midnight(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    await time_machine.advance(timedelta(minutes=10))
    entity_id = PREFIX[BATTERY_SITE] + "solar_energy_today"
    melbourne = ZoneInfo("Australia/Melbourne")
    midnight = datetime.combine(datetime(2026, 1, 15).date(), time(), melbourne)
    today = hass.states.get(entity_id)
    assert float(today.state) > 5
    assert datetime.fromisoformat(today.attributes["last_reset"]) == midnight

    await time_machine.run_until(midnight + timedelta(days=1, minutes=1))

    tomorrow = hass.states.get(entity_id)
    assert float(tomorrow.state) == 0
    assert datetime.fromisoformat(tomorrow.attributes["last_reset"]) == midnight + timedelta(days=1)


async def test_live_values_turn_unavailable_when_too_old_and_are_logged_once(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    await time_machine.advance(timedelta(minutes=10))
    prefix = PREFIX[BATTERY_SITE]
    back = time_machine.now() + timedelta(hours=5)
    enphase_cloud.faults.take_offline(BATTERY_SITE, until=back)

    await time_machine.advance(timedelta(hours=4))

    states = sensors(hass, prefix)
    assert states["solar_power"] == STATE_UNAVAILABLE
    assert states["battery_mode"] == STATE_UNAVAILABLE
    assert states["solar_energy"] != STATE_UNAVAILABLE  # a counter stays true
    assert states["last_report"] != STATE_UNAVAILABLE
    assert caplog.text.count("its power sensors are unavailable") == 1

    await time_machine.advance(timedelta(hours=2))

    assert sensors(hass, prefix)["solar_power"] != STATE_UNAVAILABLE
    assert caplog.text.count("Enphase data of Demo Battery Home is current again") == 1
    assert caplog.text.count("its power sensors are unavailable") == 1


@pytest.mark.parametrize(
    "enphase_cloud",
    [CloudSpec(sites=(SiteConfig.demo_battery(),), plan=Plan.WATT.without_battery())],
    indirect=True,
)
async def test_endpoints_outside_the_plan_create_no_sensor_and_one_issue(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    await setup_entry(hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE])
    await time_machine.advance(timedelta(minutes=10))
    prefix = PREFIX[BATTERY_SITE]

    present = set(sensors(hass, prefix))
    assert {"state_of_charge", "battery_energy_charged", "battery_energy_discharged"}.isdisjoint(
        present
    )
    assert {"battery_power", "battery_mode"} <= present  # latest telemetry is in the plan
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"endpoint_forbidden_{BATTERY_SITE}")
    assert_issue_translated(issue)
    assert issue is not None
    assert issue.translation_key == "endpoint_forbidden"
    assert issue.translation_placeholders == {
        "name": "Demo Battery Home",
        "endpoints": "battery_lifetime, telemetry/battery",
        "developer_portal_url": "https://developer-v4.enphase.com",
    }
    forbidden = [r for r in enphase_cloud.requests if r.status == 403]
    assert len(forbidden) == 2  # each asked once, never again

    await time_machine.advance(timedelta(hours=6))

    assert len([r for r in enphase_cloud.requests if r.status == 403]) == 2


async def test_one_device_per_system(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    by_system = {next(iter(device.identifiers))[1]: device for device in devices}
    assert set(by_system) == {str(BATTERY_SITE), str(SOLAR_SITE)}
    battery = by_system[str(BATTERY_SITE)]
    assert battery.manufacturer == "Enphase Energy"
    assert battery.model == "Envoy-S-Metered-EU"
    assert battery.sw_version == "D8.2.4264 (5e9a1c)"
    assert battery.name == "Demo Battery Home"
    assert (
        battery.configuration_url == f"https://enlighten.enphaseenergy.com/systems/{BATTERY_SITE}"
    )
    system_of = {device.id: system_id for system_id, device in by_system.items()}
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert set(system_of) == {entity.device_id for entity in entities}
    for entity in entities:
        assert entity.device_id is not None
        assert entity.unique_id.startswith(f"{system_of[entity.device_id]}_")


@pytest.fixture
def all_entities_enabled() -> Iterator[None]:
    """Create the sensors that are disabled by default enabled, to snapshot them too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.mark.usefixtures("all_entities_enabled")
async def test_entities_of_the_demo_site(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
    snapshot: SnapshotAssertion,
) -> None:
    entry = await setup_entry(hass, enphase_cloud, sim_server.enphase_url)
    await time_machine.advance(timedelta(minutes=10))

    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert entities
    for entity in entities:
        assert entity.disabled_by is None
        state = hass.states.get(entity.entity_id)
        assert state is not None, entity.entity_id
        assert entity == snapshot(
            name=f"{entity.entity_id}-entry", exclude=props("aliases"), matcher=_plain_keys
        )
        assert state == snapshot(name=f"{entity.entity_id}-state", matcher=_plain_keys)


def _plain_keys(data: SerializableData, path: PropertyPath) -> SerializableData:
    """Key capabilities and attributes by plain strings, as HA 2026.3 does.

    HA 2026.10 keys them by StrEnum members, which compare equal but are written differently;
    `aliases` (excluded above) is likewise a registry field whose default differs by release.
    So one snapshot holds for every supported release and still shows every value we set.
    """
    if isinstance(data, dict) and any(isinstance(key, StrEnum) for key in data):
        return type(data)((str(key), value) for key, value in data.items())
    return data


def test_every_sensor_has_a_name_an_icon_and_translated_states() -> None:
    component = Path(__file__).parents[2] / "custom_components" / DOMAIN
    texts = strings()
    assert json.loads((component / "translations" / "en.json").read_text()) == texts
    icons = json.loads((component / "icons.json").read_text())["entity"]["sensor"]
    names = texts["entity"]["sensor"]
    descriptions = [*SYSTEM_SENSORS, *BUDGET_SENSORS]
    assert set(names) == set(icons)
    assert {d.translation_key for d in descriptions} <= set(names)
    for description in descriptions:
        assert names[description.translation_key]["name"]
        assert icons[description.translation_key]["default"].startswith("mdi:")
        for option in description.options or []:
            assert names[description.translation_key]["state"][option]
            assert icons[description.translation_key]["state"][option].startswith("mdi:")
