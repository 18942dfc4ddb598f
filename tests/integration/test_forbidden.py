"""Data outside the Enphase plan (403): sensors removed and a repair, then tried again later."""

from datetime import timedelta

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from custom_components.liveone_enphase.const import DOMAIN
from custom_components.liveone_enphase.plan import CONF_PER_MINUTE, CONF_PER_MONTH
from sim.enphase import EnphaseCloud, Plan, RequestRecord, SiteConfig
from sim.server import SimServer

from .conftest import BATTERY_SITE, CloudSpec, TimeMachine, assert_issue_translated, setup_entry
from .test_plan import choose, coordinator_of

pytestmark = pytest.mark.usefixtures("credentials")

BATTERY = "systems/{system_id}/telemetry/battery"
BATTERY_LIFETIME = "systems/{system_id}/battery_lifetime"
ISSUE = f"endpoint_forbidden_{BATTERY_SITE}"
ONLY_BATTERY_SITE = CloudSpec(sites=(SiteConfig.demo_battery(),))
WITHOUT_BATTERY = CloudSpec(sites=(SiteConfig.demo_battery(),), plan=Plan.WATT.without_battery())


def soc_entity(hass: HomeAssistant) -> str | None:
    """The state of charge sensor's entity id, while it exists."""
    unique_id = f"{BATTERY_SITE}_state_of_charge"
    return er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)


def asked(cloud: EnphaseCloud, endpoint: str, since: int = 0) -> list[RequestRecord]:
    """The requests for `endpoint` from the `since`th request the cloud received on, in order."""
    return [r for r in cloud.requests[since:] if r.endpoint == endpoint]


@pytest.mark.parametrize("enphase_cloud", [ONLY_BATTERY_SITE], indirect=True)
async def test_refused_battery_data_is_tried_again_thirty_days_later(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    await time_machine.advance(timedelta(minutes=10))
    entity_id = soc_entity(hass)
    assert entity_id is not None
    assert hass.states.get(entity_id) is not None

    # The application's plan no longer covers battery telemetry.
    enphase_cloud.application.limiter.plan = Plan.WATT.without_battery()
    start = len(enphase_cloud.requests)
    await time_machine.advance(timedelta(hours=6))
    [refusal] = asked(enphase_cloud, BATTERY, start)
    assert refusal.status == 403
    assert soc_entity(hass) is None
    assert hass.states.get(entity_id) is None
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE)
    assert_issue_translated(issue)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["endpoints"] == "telemetry/battery"

    # Battery data is back in the plan, but nothing asks for it before 30 days have passed.
    enphase_cloud.application.limiter.plan = Plan.WATT
    refused = len(enphase_cloud.requests)
    retry_at = refusal.time + timedelta(days=30)
    await time_machine.run_until(retry_at - timedelta(minutes=1), step=timedelta(hours=4))
    assert asked(enphase_cloud, BATTERY, refused) == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE) is not None
    await time_machine.advance(timedelta(hours=8))

    retry = asked(enphase_cloud, BATTERY, refused)[0]
    assert retry.time >= retry_at
    assert retry.status == 200
    # A counted call like any other: the month's count has every battery call Enphase saw.
    month = retry.time.replace(day=1, hour=0, minute=0, second=0)
    this_month = [r for r in asked(enphase_cloud, BATTERY) if r.time >= month]
    assert coordinator_of(entry).budget.ledger.by_endpoint[BATTERY] == len(this_month) >= 1
    assert soc_entity(hass) == entity_id
    assert hass.states.get(entity_id) is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE) is None


@pytest.mark.parametrize("enphase_cloud", [WITHOUT_BATTERY], indirect=True)
async def test_a_bigger_plan_tries_refused_data_again_with_the_next_poll(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    time_machine: TimeMachine,
) -> None:
    entry = await setup_entry(
        hass, enphase_cloud, sim_server.enphase_url, system_ids=[BATTERY_SITE]
    )
    await time_machine.advance(timedelta(minutes=10))
    assert soc_entity(hass) is None
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE) is not None
    enphase_cloud.application.limiter.plan = Plan.KILOWATT
    # A larger reserve is no bigger plan: nothing refused is asked again.
    changed = len(enphase_cloud.requests)
    await choose(hass, entry, "watt", reserve=10)
    await time_machine.advance(timedelta(hours=2))
    assert asked(enphase_cloud, BATTERY, changed) == []
    assert asked(enphase_cloud, BATTERY_LIFETIME, changed) == []

    upgraded = len(enphase_cloud.requests)
    await choose(hass, entry, "kilowatt", **{CONF_PER_MONTH: 10_000, CONF_PER_MINUTE: 10})
    await time_machine.advance(timedelta(minutes=45), step=timedelta(minutes=1))

    next_poll = enphase_cloud.requests[upgraded].time
    for endpoint in (BATTERY, BATTERY_LIFETIME):
        calls = asked(enphase_cloud, endpoint, upgraded)
        assert calls[0].time == next_poll  # one retry each, with the next poll
        assert calls[0].status == 200
        assert [r.time for r in calls].count(next_poll) == 1
    assert len([r for r in enphase_cloud.requests if r.status == 403]) == 2  # from the start
    assert soc_entity(hass) is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE) is None
