"""Reading interval answers into feeds, windows and publication evidence."""

import pytest

from custom_components.liveone_enphase.enphase import Endpoint
from custom_components.liveone_enphase.history import Feed, Fetched, Series
from custom_components.liveone_enphase.history.feeds import (
    ENDPOINT_FEEDS,
    SERIES_FEEDS,
    endpoint_series,
    read,
)
from custom_components.liveone_enphase.history.hours import to_epoch, to_moment

from .helpers import fetched, meta, telemetry, utc

T0 = to_epoch(utc(2026, 1, 15, 0))


def test_micro_evidence_is_its_newest_non_zero_interval_or_last_energy_at() -> None:
    values = {T0 + 300: 12.0, T0 + 600: 0.0}
    answer = read(fetched(Endpoint.PRODUCTION_MICRO, T0, T0 + 3600, values, T0 + 3600))
    assert answer.evidence == T0 + 300  # a zero proves nothing
    assert (answer.lo, answer.hi) == (T0, T0 + 3600)
    assert answer.feeds[0].feed is Feed.MICRO
    assert answer.feeds[0].intervals == ((T0 + 300, 12.0), (T0 + 600, 0.0))
    with_meta = read(
        fetched(
            Endpoint.PRODUCTION_MICRO,
            T0,
            T0 + 3600,
            values,
            T0 + 3600,
            system_meta=meta(T0 + 1800, operational_at=T0 - 86_400),
        )
    )
    assert with_meta.evidence == T0 + 1800
    assert with_meta.operational_at == T0 - 86_400


def test_battery_feeds_charge_and_discharge_and_its_soc_is_evidence() -> None:
    ends = [T0 + 900, T0 + 1800]
    answer = read(
        fetched(
            Endpoint.BATTERY_TELEMETRY,
            T0,
            T0 + 1800,
            dict.fromkeys(ends, 0.0),
            T0 + 2000,
            discharge={ends[0]: 0.0, ends[1]: None},
            soc={ends[0]: 60.0, ends[1]: 0.0},
        )
    )
    assert [f.feed for f in answer.feeds] == [Feed.BATTERY_CHARGE, Feed.BATTERY_DISCHARGE]
    assert answer.feeds[1].intervals == ((ends[0], 0.0), (ends[1], None))
    assert answer.evidence == ends[0]  # the state of charge says that report is in


@pytest.mark.parametrize(
    ("endpoint", "feed"),
    [
        (Endpoint.PRODUCTION_METER, Feed.PRODUCTION_METER),
        (Endpoint.CONSUMPTION_METER, Feed.CONSUMPTION_METER),
        (Endpoint.ENERGY_IMPORT_TELEMETRY, Feed.GRID_IMPORT),
        (Endpoint.ENERGY_EXPORT_TELEMETRY, Feed.GRID_EXPORT),
    ],
)
def test_the_endpoint_decides_the_feed(endpoint: Endpoint, feed: Feed) -> None:
    answer = read(fetched(endpoint, T0, T0 + 900, {T0 + 900: 5.0}, T0 + 2000))
    assert [f.feed for f in answer.feeds] == [feed]
    assert answer.evidence == T0 + 900


def test_a_window_without_bounds_is_taken_from_its_intervals() -> None:
    answer = read(fetched(Endpoint.CONSUMPTION_METER, None, None, {T0 + 900: 1.0}, T0))
    assert (answer.lo, answer.hi) == (T0, T0 + 900)
    empty = read(fetched(Endpoint.CONSUMPTION_METER, None, None, {}, T0))
    assert (empty.lo, empty.hi, empty.evidence) == (None, None, None)


def test_an_answer_filed_under_the_wrong_endpoint_is_refused() -> None:
    battery = telemetry(Endpoint.BATTERY_TELEMETRY, T0, T0 + 900, {})
    with pytest.raises(ValueError, match="BatteryTelemetry"):
        Fetched(Endpoint.CONSUMPTION_METER, battery, to_moment(T0))
    with pytest.raises(ValueError, match="summary"):
        Fetched(Endpoint.SUMMARY, battery, to_moment(T0))


def test_every_series_has_a_feed_and_every_feed_an_endpoint() -> None:
    assert set(SERIES_FEEDS) == set(Series)
    assert SERIES_FEEDS[Series.SOLAR_PRODUCTION] == (Feed.MICRO, Feed.PRODUCTION_METER)
    assert {feed for feeds in ENDPOINT_FEEDS.values() for feed in feeds} == set(Feed)
    assert endpoint_series([Endpoint.BATTERY_TELEMETRY, Endpoint.SUMMARY]) == {
        Endpoint.BATTERY_TELEMETRY: (Series.BATTERY_CHARGE, Series.BATTERY_DISCHARGE)
    }
