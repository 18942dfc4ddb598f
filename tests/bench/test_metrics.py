"""The budget benchmark's exact-hours figure: what it counts, and that ours reaches it."""

from datetime import date, timedelta

from bench.budget import _strategies, _table
from bench.metrics import _CHANNELS, ExactHours, share
from bench.simulation import Simulation
from bench.sites import PLACES
from custom_components.liveone_enphase.history import Series
from custom_components.liveone_enphase.history.hours import HOUR_S, day_hours
from sim.enphase.physics import SiteModel

MELBOURNE = next(place for place in PLACES if place.name == "Melbourne")
# Daylight saving ends in Melbourne on 2026-04-05: a local day of 25 hours.
LONG_DAY = date(2026, 4, 5)


def _truth(model: SiteModel, series: Series, hour: int) -> float:
    first, last = model.step_index(hour), model.step_index(hour + HOUR_S)
    return float(model.energy(_CHANNELS[series], first, last))


def test_an_hour_counts_when_it_equals_the_truth_to_the_wh() -> None:
    model = SiteModel(MELBOURNE.site(1, LONG_DAY - timedelta(days=1)))
    series = (Series.SOLAR_PRODUCTION, Series.CONSUMPTION)
    rows: dict[Series, dict[int, float]] = {s: {} for s in series}
    hours = day_hours(LONG_DAY, model.zone)
    assert len(hours) == 25
    for s in series:
        for hour in hours:
            rows[s][hour] = _truth(model, s, hour)
    solar, load = rows[Series.SOLAR_PRODUCTION], rows[Series.CONSUMPTION]
    noon = hours[13]
    assert solar[noon] > 0
    solar[noon] += 0.4  # within the Wh: still exact
    load[hours[2]] += 1.0  # a Wh off
    del load[hours[3]]  # never imported
    exact = ExactHours(model, model.zone, series, rows)
    exact.check(LONG_DAY)
    assert exact.hours == {Series.SOLAR_PRODUCTION: 25, Series.CONSUMPTION: 25}
    assert exact.by_next_day == {Series.SOLAR_PRODUCTION: 25, Series.CONSUMPTION: 23}
    # Rewritten later: counted in "ever", not in "by the next day".
    load[hours[2]] -= 1.0
    load[hours[3]] = _truth(model, Series.CONSUMPTION, hours[3])
    assert exact.ever() == {Series.SOLAR_PRODUCTION: 25, Series.CONSUMPTION: 25}
    assert exact.by_next_day[Series.CONSUMPTION] == 23


def test_share_of_nothing_is_unknown() -> None:
    assert share(0, 0) is None
    assert share(3, 4) == 0.75


async def test_ours_imports_every_hour_exactly_by_the_next_day() -> None:
    """Three days at Melbourne through the integration's runner and statistics importer."""
    name, make = _strategies()[0]
    result = (await Simulation(MELBOURNE, name, make, 3).run()).to_json()
    assert result["hours_checked"] == 6 * 24  # one whole day checked, six series
    assert result["hours_exact_by_next_day_share"] == 1.0
    assert result["hours_exact_ever_share"] == 1.0
    assert set(result["hours_exact_by_series"]) == {s.value for s in Series}
    table = _table([result], [MELBOURNE], 3, 1.0)
    assert "| hours exact by next day | hours exact ever |" in table
    assert "| 100.0% | 100.0% |" in table
