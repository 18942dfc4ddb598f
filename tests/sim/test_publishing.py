"""Publishing: data appears 15-25 minutes after each report, and outages delay it."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, SiteConfig
from sim.enphase.publishing import Outage, Publisher
from tests.sim.conftest import BATTERY_ID, EASTERN_ID, Api


def test_lag_is_deterministic_and_within_bounds() -> None:
    site = SiteConfig.demo_battery()
    publisher = Publisher(site, 1_761_915_600)
    lags = [publisher.lag(1_761_915_600 + 900 * n) for n in range(1, 400)]
    assert lags == [publisher.lag(1_761_915_600 + 900 * n) for n in range(1, 400)]
    assert min(lags) >= 15 * 60
    assert max(lags) <= 25 * 60
    assert len(set(lags)) > 50  # spread, not constant
    fixed = Publisher(replace(site, publish_lag_max=site.publish_lag_min), 0)
    assert fixed.lag(900) == 15 * 60
    assert all(20 <= publisher.report_delay(900 * n) <= 170 for n in range(200))


def test_nothing_is_visible_before_it_is_published() -> None:
    site = SiteConfig.demo_battery()
    base = 1_761_915_600
    publisher = Publisher(site, base)
    for now in range(base + 86_400, base + 2 * 86_400, 97):
        report = publisher.last_published_report(now, [])
        assert report is not None
        assert (report - base) % 900 == 0
        assert report + publisher.lag(report) <= now
        following = report + 900
        assert following + publisher.lag(following) > now
        assert now - 40 * 60 <= report <= now - 15 * 60
    assert publisher.last_published_report(base + 600, []) is None


def test_outage_holds_back_reports_until_the_gateway_returns() -> None:
    site = SiteConfig.demo_battery()
    base = 1_761_915_600
    publisher = Publisher(site, base)
    outage = Outage(base + 86_400, base + 86_400 + 6 * 3600)
    during = publisher.last_published_report(base + 86_400 + 3 * 3600, [outage])
    assert during is not None
    assert during < outage.start
    after = publisher.last_published_report(outage.end + 3600, [outage])
    assert after is not None
    assert after >= outage.end
    assert not outage.covers(outage.end)


async def test_offline_system_reports_its_backlog_late(api: Api, sim_clock: ManualClock) -> None:
    _, before = await api.get(f"systems/{BATTERY_ID}")
    api.cloud.faults.take_offline(BATTERY_ID, until=sim_clock() + timedelta(hours=3))
    sim_clock.advance(timedelta(hours=2))
    _, during = await api.get(f"systems/{BATTERY_ID}")
    assert during["last_report_at"] == before["last_report_at"] or (
        during["last_report_at"] - before["last_report_at"] <= 900
    )
    assert during["status"] == "comm"
    path = f"systems/{BATTERY_ID}/telemetry/production_meter"
    _, stuck = await api.get(path)
    stuck_end = stuck["intervals"][-1]["end_at"]
    sim_clock.advance(timedelta(hours=1, minutes=40))
    _, back = await api.get(f"systems/{BATTERY_ID}")
    assert back["status"] == "normal"
    _, caught_up = await api.get(path)
    ends = [i["end_at"] for i in caught_up["intervals"]]
    assert ends[-1] >= int(sim_clock().timestamp()) - 40 * 60
    assert ends[-1] - stuck_end >= 3 * 3600
    assert ends == list(range(ends[0], ends[-1] + 1, 900))  # no gap: the backlog arrived


async def test_silent_devices_show_nulls_and_lifetime_trailing_zeros(
    api: Api, sim_clock: ManualClock
) -> None:
    api.cloud.faults.take_offline(BATTERY_ID)
    sim_clock.advance(timedelta(days=8))
    api.renew_token()
    _, latest = await api.get(f"systems/{BATTERY_ID}/latest_telemetry")
    meters = latest["devices"]["meters"]
    encharges = latest["devices"]["encharges"]
    assert all(m["power"] is None and m["last_report_at"] is None for m in meters)
    assert all(e["operational_mode"] is None and e["power"] is None for e in encharges)
    _, devices = await api.get(f"systems/{BATTERY_ID}/devices")
    assert devices["devices"]["micros"][0]["status"] == "comm"
    _, lifetime = await api.get(
        f"systems/{BATTERY_ID}/energy_lifetime", {"start_date": "2026-01-14"}
    )
    series = lifetime["production"]
    assert len(series) == 9  # the 14th .. the 22nd (yesterday)
    assert series[0] > series[1] > 0  # the 15th was reported only until midday
    assert series[2:] == [0] * 7  # not reported yet, not zero production
    api.cloud.faults.clear()
    _, healed = await api.get(f"systems/{BATTERY_ID}/energy_lifetime", {"start_date": "2026-01-14"})
    assert all(value > 0 for value in healed["production"])


async def test_cellular_site_reports_every_six_hours(api: Api) -> None:
    _, body = await api.get(f"systems/{EASTERN_ID}")
    model = api.cloud.truth.model(EASTERN_ID)
    assert (body["last_energy_at"] - model.start) % (6 * 3600) == 0
    now = int(api.cloud.clock().timestamp())
    assert now - 6 * 3600 - 25 * 60 <= body["last_energy_at"] <= now - 15 * 60


def test_offline_from_a_later_start(sim_clock: ManualClock) -> None:
    cloud = EnphaseCloud(clock=sim_clock, sites=[SiteConfig.demo_battery()])
    start = sim_clock() + timedelta(hours=1)
    cloud.faults.take_offline(BATTERY_ID, start=start, until=start + timedelta(hours=1))
    first = cloud.truth.published_until(BATTERY_ID)
    sim_clock.advance(timedelta(hours=1, minutes=30))
    held = cloud.truth.published_until(BATTERY_ID)
    assert first is not None
    assert held is not None
    assert held < start
    assert held > first
    sim_clock.advance(timedelta(hours=1))
    released = cloud.truth.published_until(BATTERY_ID)
    assert released is not None
    assert released >= start + timedelta(hours=1)
    assert released.tzinfo == UTC
    assert released < datetime(2026, 1, 16, tzinfo=UTC)
