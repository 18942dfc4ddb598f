"""Property: whatever is published when, and however it is polled, the hours end up exact.

A system's 15-minute reports are published in any order (a gateway backlog, a cloud that shows
a later report first); between publications the importer polls random windows, sometimes
getting trailing zeros for what is not published yet, sometimes no `meta`. After every import
the statistics are continuous and never go down; once everything is published and polled, each
UTC hour holds exactly the sum of its intervals.
"""

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.history import Feed, HistoryTracker, Series
from custom_components.liveone_enphase.history.hours import to_epoch, to_moment

from .helpers import FEED_ENDPOINTS, SlotCloud, StatisticsTable, utc

T0 = to_epoch(utc(2026, 1, 15, 0))
FEEDS = (Feed.MICRO, Feed.CONSUMPTION_METER, Feed.GRID_EXPORT)
WH = st.sampled_from([0.0, 0.0, 0.0, 1.0, 7.0, 130.0, 2500.0])


@dataclass(frozen=True)
class Poll:
    feed: Feed
    start_slot: int
    slots: int
    trailing_zeros: bool
    meta: bool


type Scenario = tuple[int, dict[Feed, dict[int, float]], list[int], list[list[Poll]]]


@st.composite
def scenarios(draw: st.DrawFn, *, in_order: bool = False) -> Scenario:
    hours = draw(st.integers(min_value=1, max_value=4))
    end = T0 + hours * 3600
    truth = {
        feed: {slot: draw(WH) for slot in range(T0 + feed.step_s, end + 1, feed.step_s)}
        for feed in FEEDS
    }
    reports = list(range(T0 + 900, end + 1, 900))
    order = reports if in_order else draw(st.permutations(reports))
    quarter_count = len(reports)
    poll = st.builds(
        Poll,
        feed=st.sampled_from(FEEDS),
        start_slot=st.integers(min_value=0, max_value=quarter_count - 1),
        slots=st.integers(min_value=1, max_value=quarter_count),
        trailing_zeros=st.booleans(),
        meta=st.booleans(),
    )
    polls = [draw(st.lists(poll, max_size=3)) for _ in range(len(order) + 1)]
    return end, truth, order, polls


def run(scenario: Scenario, *, exact_all_along: bool) -> None:
    """Publish and poll as drawn, import after every poll, then poll everything once more."""
    end, truth, order, polls = scenario
    report_tick = {report: T0 + 86_400 + 60 * (tick + 1) for tick, report in enumerate(order)}
    cloud = SlotCloud(truth)
    for feed, slots in truth.items():
        for slot in slots:
            cloud.publish_at[(feed, slot)] = report_tick[-(-slot // 900) * 900]
    history = HistoryTracker(None, to_moment(T0))
    table = StatisticsTable()

    def contiguous(at: int) -> int:
        """What an honest `meta.last_energy_at` says: the end of the unbroken published start."""
        reached = T0
        for report in sorted(report_tick):
            if report_tick[report] > at:
                break
            reached = report
        return reached

    def check(final: bool) -> None:
        table.assert_continuous()
        for feed, series in SERIES_OF.items():
            written = table.hours(series)
            expected = {hour: cloud.hour_wh(feed, hour) for hour in range(T0, end, 3600)}
            if final:
                assert written == expected
            elif exact_all_along:
                assert all(written[hour] == expected[hour] for hour in written), series

    for tick, batch in enumerate(polls):
        at = T0 + 86_400 + 60 * tick + 30
        cloud.published = contiguous(at)
        answers = []
        for poll in batch:
            cloud.trailing_zeros = poll.trailing_zeros
            cloud.send_meta = poll.meta
            start = T0 + 900 * poll.start_slot
            answers.append(cloud.answer(FEED_ENDPOINTS[poll.feed], start, at, 900 * poll.slots))
        history.ingest(answers)
        table.apply(history)
        check(final=False)

    # everything is out: one last poll of each feed's whole span
    at = T0 + 86_400 + 60 * (len(order) + 2)
    cloud.published = contiguous(at)
    cloud.trailing_zeros = False
    cloud.send_meta = True  # all zeros would otherwise prove nothing, rightly
    history.ingest([cloud.answer(FEED_ENDPOINTS[feed], T0, at) for feed in FEEDS])
    table.apply(history)
    check(final=True)
    assert history.pending() == ()
    assert history.catch_up(to_moment(at), [Endpoint.CONSUMPTION_METER]) == []


SERIES_OF = {
    Feed.MICRO: Series.SOLAR_PRODUCTION,
    Feed.CONSUMPTION_METER: Series.CONSUMPTION,
    Feed.GRID_EXPORT: Series.GRID_EXPORT,
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_any_publishing_order_ends_in_exact_continuous_hours(scenario: Scenario) -> None:
    run(scenario, exact_all_along=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(in_order=True))
def test_published_in_order_no_hour_is_ever_imported_wrong(scenario: Scenario) -> None:
    """The cloud publishes in order: trailing zeros and lag never leak into an imported hour."""
    run(scenario, exact_all_along=True)
