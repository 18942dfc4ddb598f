"""Every endpoint of the client, over loopback HTTP against the simulated Enphase cloud."""

import dataclasses
import itertools
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import aiohttp
import pytest

from custom_components.liveone_enphase.enphase import (
    EnphaseClient,
    Granularity,
    RequestOutcome,
)
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, Plan, SiteConfig
from sim.server import SimServer

from .conftest import RecordingGuard, SimOAuth, authorize

BATTERY_SITE = SiteConfig.demo_battery().system_id
SOLAR_SITE = SiteConfig.demo_solar_only().system_id
MELBOURNE_MIDNIGHT = datetime(2026, 1, 14, 13, 0, tzinfo=UTC)  # 2026-01-15 00:00 local


async def test_systems_lists_every_system_with_its_quirks(
    client: EnphaseClient, guard: RecordingGuard
) -> None:
    systems = await client.systems()

    assert [s.system_id for s in systems] == [BATTERY_SITE, SOLAR_SITE]
    battery, solar = systems
    assert battery.name == "Demo Battery Home"
    assert battery.timezone == "Australia/Melbourne"
    assert battery.interconnect_date == date(2025, 10, 28)
    assert battery.attachment_type == "rack_mount"
    assert battery.address is not None
    assert battery.address.city == "Melbourne"
    # The legacy zone name is kept; the epoch interconnect date is read in that zone.
    assert solar.timezone == "Australia/Queensland"
    assert solar.interconnect_date == date(2025, 12, 1)
    assert solar.connection_type == "wifi"
    assert solar.last_report_at is not None
    assert solar.last_report_at < datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    assert [r.endpoint for r in guard.records] == ["systems"]


async def test_systems_follows_every_page(
    sim_clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    template = dataclasses.replace(SiteConfig.demo_solar_only(), operational_date=date(2026, 1, 14))
    sites = [
        dataclasses.replace(template, system_id=5_000_000 + n, name=f"Site {n}") for n in range(201)
    ]
    cloud = EnphaseCloud(clock=sim_clock, sites=sites, plan=Plan.KILOWATT)
    guard = RecordingGuard()
    async with SimServer(enphase=cloud) as server:
        oauth = await authorize(http, server.enphase_url, cloud.client_id, cloud.client_secret)
        client = EnphaseClient(
            http, oauth.token, cloud.api_key, base_url=server.enphase_url, guard=guard
        )

        systems = await client.systems()

    assert [s.system_id for s in systems] == cloud.system_ids
    assert len(systems) == 201
    api_calls = [r for r in cloud.requests if r.endpoint == "systems"]
    assert len(api_calls) == len(guard.records) == 3


async def test_system_summary_and_devices(client: EnphaseClient) -> None:
    system = await client.system(BATTERY_SITE)
    summary = await client.summary(BATTERY_SITE)
    devices = await client.devices(BATTERY_SITE)

    assert system.system_id == BATTERY_SITE
    assert system.status == "normal"
    assert summary.summary_date == date(2026, 1, 15)
    assert summary.current_power_w is not None
    assert summary.current_power_w > 0  # summer midday
    assert summary.energy_today_wh is not None
    assert summary.energy_today_wh > 0
    assert summary.energy_lifetime_wh is not None
    assert summary.energy_lifetime_wh > summary.energy_today_wh
    assert summary.battery_capacity_wh == 10_080
    assert summary.size_w == 6_600
    assert summary.modules == 16
    assert summary.last_report_at is not None
    assert summary.last_report_at.tzinfo is UTC
    assert len(devices.micros) == 16
    (gateway,) = devices.gateways
    assert gateway.firmware == "D8.2.4264 (5e9a1c)"
    assert [(m.name, m.config_type) for m in devices.meters] == [
        ("production", "Production"),
        ("consumption", "Net"),
    ]
    assert len(devices.encharges) == 3
    assert len(devices.enpowers) == 1
    assert devices.total_devices == len(devices.devices)


async def test_latest_telemetry_sums_channels_and_keeps_battery_sign(
    client: EnphaseClient, enphase_cloud: EnphaseCloud
) -> None:
    latest = await client.latest_telemetry(BATTERY_SITE)

    production = [m for m in latest.meters if m.name == "production"]
    assert [m.channel for m in production] == [1, 2, 3]
    assert [m.power_w is None for m in production] == [False, True, True]
    assert latest.production_w == production[0].power_w
    assert latest.production_w is not None
    assert latest.production_w > 0
    assert latest.consumption_w is not None
    assert len(latest.encharges) == 3
    assert latest.battery_w == sum(b.power_w or 0 for b in latest.encharges)
    assert latest.battery_mode in {"Idle", "Charging", "Discharging"}
    # Enphase's sign: negative while charging, positive while discharging.
    if latest.battery_mode == "Charging":
        assert latest.battery_w is not None
        assert latest.battery_w < 0
    if latest.battery_mode == "Discharging":
        assert latest.battery_w is not None
        assert latest.battery_w > 0
    published = enphase_cloud.truth.published_until(BATTERY_SITE)
    assert published is not None
    assert latest.last_report_at is not None
    assert latest.last_report_at > published  # the report arrives after its interval ends


async def test_latest_telemetry_battery_sign_across_a_day(
    client: EnphaseClient, sim_clock: ManualClock
) -> None:
    seen: dict[str, float] = {}
    for _ in range(24):
        latest = await client.latest_telemetry(BATTERY_SITE)
        if latest.battery_mode is not None and latest.battery_w is not None:
            seen[latest.battery_mode] = latest.battery_w
        sim_clock.advance(timedelta(hours=1))

    assert seen["Charging"] < 0
    assert seen["Discharging"] > 0


async def test_production_micro_intervals_end_inside_the_window(client: EnphaseClient) -> None:
    micro = await client.production_micro(
        BATTERY_SITE, start_at=MELBOURNE_MIDNIGHT, granularity=Granularity.DAY
    )

    assert micro.start_at == MELBOURNE_MIDNIGHT
    assert micro.granularity == "day"
    assert micro.total_devices == 16
    assert micro.meta is not None
    assert micro.intervals
    for interval in micro.intervals:
        assert MELBOURNE_MIDNIGHT < interval.end_at <= datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
        assert interval.end_at.timestamp() % 300 == 0
        assert interval.power_w is not None
        assert interval.energy_wh is not None
        assert interval.devices_reporting is not None


async def test_production_micro_defaults_to_local_midnight(client: EnphaseClient) -> None:
    micro = await client.production_micro(BATTERY_SITE)

    assert micro.start_at == MELBOURNE_MIDNIGHT


async def test_meter_telemetry_at_fifteen_minute_granularity(client: EnphaseClient) -> None:
    start = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    production = await client.production_meter(
        BATTERY_SITE, start_at=start, granularity=Granularity.FIFTEEN_MINUTES
    )
    consumption = await client.consumption_meter(BATTERY_SITE, start_at=start)

    (interval,) = production.intervals
    assert interval.end_at == start + timedelta(minutes=15)
    assert interval.energy_wh is not None
    assert interval.energy_wh > 0
    assert production.end_at == start + timedelta(minutes=15)
    assert consumption.intervals
    assert all(i.energy_wh is not None for i in consumption.intervals)
    assert all(i.end_at.timestamp() % 900 == 0 for i in consumption.intervals)


async def test_battery_telemetry_reads_soc(client: EnphaseClient) -> None:
    battery = await client.battery_telemetry(
        BATTERY_SITE, start_at=MELBOURNE_MIDNIGHT, granularity=Granularity.DAY
    )

    assert battery.last_reported_aggregate_soc_pct is not None
    assert 0 <= battery.last_reported_aggregate_soc_pct <= 100
    assert battery.total_devices == 3
    assert battery.intervals
    for interval in battery.intervals:
        assert interval.soc_pct is not None
        assert 0 <= interval.soc_pct <= 100
        assert interval.charge_wh is not None
        assert interval.discharge_wh is not None


async def test_grid_telemetry_flattens_days(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, sim_clock: ManualClock
) -> None:
    # A week-long window spans several local days, which the API nests one list per day.
    start = datetime(2026, 1, 10, 13, 0, tzinfo=UTC)
    imported = await client.energy_import_telemetry(
        BATTERY_SITE, start_at=start, granularity=Granularity.WEEK
    )
    exported = await client.energy_export_telemetry(
        BATTERY_SITE, start_at=start, granularity=Granularity.WEEK
    )

    ends = [i.end_at for i in imported.intervals]
    assert ends == sorted(ends)
    assert len(ends) > 96 * 4
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(ends))
    truth = enphase_cloud.truth.energy(BATTERY_SITE, start, ends[-1])
    assert sum(i.energy_wh or 0 for i in imported.intervals) == truth.import_wh
    assert sum(i.energy_wh or 0 for i in exported.intervals) == truth.export_wh
    assert sim_clock() == datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


async def test_window_after_the_last_report_is_empty(client: EnphaseClient) -> None:
    just_now = datetime(2026, 1, 15, 1, 59, tzinfo=UTC)

    micro = await client.production_micro(BATTERY_SITE, start_at=just_now)

    assert micro.intervals == ()


async def test_lifetimes_with_date_range(client: EnphaseClient) -> None:
    first, last = date(2026, 1, 1), date(2026, 1, 10)
    ranges = {"start_date": first, "end_date": last}

    energy = await client.energy_lifetime(BATTERY_SITE, **ranges)
    consumption = await client.consumption_lifetime(BATTERY_SITE, **ranges)
    battery = await client.battery_lifetime(BATTERY_SITE, **ranges)
    imported = await client.energy_import_lifetime(BATTERY_SITE, **ranges)
    exported = await client.energy_export_lifetime(BATTERY_SITE, **ranges)

    series = [
        energy.production,
        consumption.consumption,
        battery.charge,
        battery.discharge,
        exported.exported,
    ]
    for one in series:
        assert one.start_date == first
        assert len(one.daily_wh) == 10
        assert one.unreported_days == 0
        assert one.reported()[-1][0] == last
    # A battery home may import nothing for days: zeros that the trailing-zero rule cannot
    # tell from "not reported yet" (the caveat DailySeries documents).
    assert imported.imported.start_date == first
    assert len(imported.imported.daily_wh) == 10
    assert energy.meter_start_date == date(2025, 11, 1)
    assert energy.meta is not None
    assert all(wh > 0 for wh in energy.production.daily_wh)


async def test_lifetime_defaults_run_from_operational_date_to_yesterday(
    client: EnphaseClient,
) -> None:
    energy = await client.energy_lifetime(SOLAR_SITE)

    assert energy.production.start_date == date(2025, 12, 1)
    assert energy.production.reported()[-1][0] == date(2026, 1, 14)
    battery = await client.battery_lifetime(SOLAR_SITE)
    assert battery.charge.daily_wh == ()


async def test_days_not_reported_yet_are_trailing_zeros(
    client: EnphaseClient, enphase_cloud: EnphaseCloud, sim_clock: ManualClock
) -> None:
    enphase_cloud.faults.take_offline(SOLAR_SITE, start=datetime(2026, 1, 12, 14, tzinfo=UTC))
    sim_clock.advance(timedelta(hours=1))

    energy = await client.energy_lifetime(
        SOLAR_SITE, start_date=date(2026, 1, 10), end_date=date(2026, 1, 14)
    )

    series = energy.production
    assert series.unreported_days == 2
    assert series.unreported_dates() == (date(2026, 1, 13), date(2026, 1, 14))
    assert [day for day, _ in series.reported()] == [
        date(2026, 1, 10),
        date(2026, 1, 11),
        date(2026, 1, 12),
    ]


async def test_key_travels_in_a_header_never_in_the_url(
    sim_server: SimServer, oauth: SimOAuth, enphase_cloud: EnphaseCloud
) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        seen.append(
            (str(params.url), params.headers.get("key"), params.headers.get("Authorization"))
        )

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as traced:
        client = EnphaseClient(
            traced, oauth.token, enphase_cloud.api_key, base_url=sim_server.enphase_url + "/"
        )
        await client.production_micro(
            BATTERY_SITE, start_at=MELBOURNE_MIDNIGHT, granularity=Granularity.FIVE_MINUTES
        )

    ((url, key, authorization),) = seen
    assert url == (
        f"{sim_server.enphase_url}/api/v4/systems/{BATTERY_SITE}/telemetry/production_micro"
        f"?start_at={int(MELBOURNE_MIDNIGHT.timestamp())}&granularity=5mins"
    )
    assert enphase_cloud.api_key not in url
    assert key == enphase_cloud.api_key
    assert authorization == f"Bearer {oauth.access_token}"


async def test_naive_start_at_is_refused_before_sending(
    client: EnphaseClient, guard: RecordingGuard
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await client.production_meter(BATTERY_SITE, start_at=datetime(2026, 1, 15))

    assert guard.asked == []


async def test_guard_sees_every_successful_request_as_the_cloud_does(
    client: EnphaseClient,
    guard: RecordingGuard,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
) -> None:
    await client.summary(BATTERY_SITE)
    sim_clock.advance(timedelta(minutes=1))
    await client.battery_lifetime(BATTERY_SITE)

    assert guard.asked == [
        "systems/{system_id}/summary",
        "systems/{system_id}/battery_lifetime",
    ]
    assert [(r.endpoint, r.status, r.outcome) for r in guard.records] == [
        ("systems/{system_id}/summary", 200, RequestOutcome.OK),
        ("systems/{system_id}/battery_lifetime", 200, RequestOutcome.OK),
    ]
    assert [r.started_at for r in guard.records] == [
        datetime(2026, 1, 15, 2, 0, tzinfo=UTC),
        datetime(2026, 1, 15, 2, 1, tzinfo=UTC),
    ]
    api = [(r.endpoint, r.status) for r in enphase_cloud.requests if r.endpoint != "oauth/token"]
    oauth_pages = {"oauth/authorize"}
    assert [a for a in api if a[0] not in oauth_pages] == [
        (r.endpoint, r.status) for r in guard.records
    ]
