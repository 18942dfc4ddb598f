"""The physical truth of one site, integrated lazily in 5-minute steps.

PV follows the sun (astral) through a clear-sky model with seeded cloud; the household load has
morning and evening peaks with seeded noise; the battery charges from surplus and discharges into
the load within its power, capacity and reserve limits; the grid takes the balance.

Energies are kept as cumulative integer Wh per channel (the float totals rounded at every step
boundary), so any sum of step energies equals the difference of two cumulative counters exactly.
The load counter is derived from the others, which makes
solar + import + discharge == load + export + charge hold exactly in integer Wh.
Battery power is positive while discharging and negative while charging (the Envoy convention).
"""

import math
import random
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from astral import Observer  # type: ignore[import-untyped]
from astral.sun import azimuth, elevation  # type: ignore[import-untyped]

from sim.enphase.config import SiteConfig

STEP_S = 300
STEPS_PER_HOUR = 3600 // STEP_S
_SUN_GRID_S = 900
_SLOTS_PER_DAY = 86_400 // STEP_S
_CHARGE_EFFICIENCY = 0.95
_DISCHARGE_EFFICIENCY = 0.95
_SYSTEM_DERATE = 0.77  # inverter, temperature, soiling and wiring losses
_SOLAR_CONSTANT = 1353.0


class Channel(IntEnum):
    """The energy counters of a site (all rise monotonically)."""

    SOLAR = 0
    LOAD = 1
    IMPORT = 2
    EXPORT = 3
    CHARGE = 4
    DISCHARGE = 5


@dataclass(frozen=True, slots=True)
class StepPower:
    """Average power over one 5-minute step (battery positive while discharging)."""

    end: datetime
    solar_w: float
    load_w: float
    battery_w: float
    grid_w: float
    soc_pct: float | None


def _load_shape() -> tuple[float, ...]:
    """Relative household demand per 5-minute slot of a local day, averaging 1."""
    raw = []
    for slot in range(_SLOTS_PER_DAY):
        hour = (slot + 0.5) / STEPS_PER_HOUR
        raw.append(
            0.55
            + 1.4 * math.exp(-(((hour - 7.5) / 1.2) ** 2))
            + 0.35 * math.exp(-(((hour - 13.0) / 3.0) ** 2))
            + 2.2 * math.exp(-(((hour - 19.0) / 1.8) ** 2))
        )
    mean = sum(raw) / len(raw)
    return tuple(value / mean for value in raw)


_LOAD_SHAPE = _load_shape()


class SiteModel:
    """Integrates one site forward on demand and answers questions about its past.

    The integration is deterministic for a given configuration, so `shared` hands every cloud
    the same model for the same site: tests that build many clouds integrate each site once.
    """

    _shared: ClassVar[dict[SiteConfig, SiteModel]] = {}

    @classmethod
    def shared(cls, site: SiteConfig) -> SiteModel:
        """Return the process-wide model of `site`, creating it on first use."""
        model = cls._shared.get(site)
        if model is None:
            model = cls._shared[site] = cls(site)
        return model

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.zone = ZoneInfo(site.timezone)
        self.start = int(datetime.combine(site.operational_date, time(), self.zone).timestamp())
        self._observer = Observer(site.latitude, site.longitude)
        self._tilt = math.radians(site.panel_tilt_deg)
        self._panel_azimuth = 0.0 if site.latitude < 0 else 180.0
        self._rng = random.Random(site.seed)
        self._cum: tuple[array[int], ...] = tuple(array("q", [0]) for _ in Channel)
        self._solar_w: array[float] = array("d")
        self._load_w: array[float] = array("d")
        self._battery_w: array[float] = array("d")
        self._soc_pct: array[float] = array("d")
        self._totals = [0.0] * len(Channel)
        capacity = float(site.battery_capacity_wh)
        self._soc_wh = capacity * site.battery_initial_soc_pct / 100.0
        self._sun_next = self._clear_sky_w(self.start)
        self._sun_prev = self._sun_next
        self._day_end = self.start
        self._midnight = self.start
        self._day_cover = 0.0
        self._cloud = 0.5
        self._noise = 0.0

    @property
    def steps(self) -> int:
        """How many 5-minute steps have been integrated so far."""
        return len(self._solar_w)

    def step_index(self, when: int) -> int:
        """Count the whole steps between the start and `when` (epoch s), never negative."""
        return max(0, (when - self.start) // STEP_S)

    def step_end(self, index: int) -> int:
        """Return the epoch second at which step `index` (0-based) ends."""
        return self.start + (index + 1) * STEP_S

    def ensure(self, until: int) -> None:
        """Integrate every step that ends at or before `until` (epoch s)."""
        target = self.step_index(until)
        if target > self.steps:
            self._integrate(target - self.steps)

    def cumulative(self, channel: Channel, boundary: int) -> int:
        """Return the channel's counter (Wh) after `boundary` steps."""
        self.ensure(self.start + boundary * STEP_S)
        return self._cum[channel][boundary]

    def energy(self, channel: Channel, first: int, last: int) -> int:
        """Energy (Wh) of steps first..last-1; exactly the difference of the counters."""
        return self.cumulative(channel, last) - self.cumulative(channel, first)

    def power(self, index: int) -> StepPower:
        """Average power over step `index`."""
        self.ensure(self.step_end(index))
        solar = self._solar_w[index]
        load = self._load_w[index]
        battery = self._battery_w[index]
        return StepPower(
            end=datetime.fromtimestamp(self.step_end(index), UTC),
            solar_w=solar,
            load_w=load,
            battery_w=battery,
            grid_w=load - solar - battery,
            soc_pct=self._soc_pct[index] if self.site.has_battery else None,
        )

    def soc_pct(self, index: int) -> float:
        """State of charge (%) at the end of step `index`."""
        self.ensure(self.step_end(index))
        return self._soc_pct[index]

    def local_midnight(self, when: int) -> int:
        """Epoch of the local midnight that starts the day holding `when`."""
        local = datetime.fromtimestamp(when, self.zone)
        return int(datetime.combine(local.date(), time(), self.zone).timestamp())

    def _clear_sky_w(self, when: int) -> float:
        """AC power the array would give under a clear sky (Meinel air-mass attenuation)."""
        moment = datetime.fromtimestamp(when, UTC)
        sun_elevation = float(elevation(self._observer, moment))
        if sun_elevation <= 0.5:
            return 0.0
        el = math.radians(sun_elevation)
        relative_azimuth = math.radians(
            float(azimuth(self._observer, moment)) - self._panel_azimuth
        )
        incidence = math.sin(el) * math.cos(self._tilt) + math.cos(el) * math.sin(
            self._tilt
        ) * math.cos(relative_azimuth)
        air_mass = 1.0 / (math.sin(el) + 0.50572 * math.pow(sun_elevation + 6.07995, -1.6364))
        direct = _SOLAR_CONSTANT * math.pow(0.7, math.pow(air_mass, 0.678))
        plane_of_array = (
            direct * max(incidence, 0.0) + 0.1 * direct * (1 + math.cos(self._tilt)) / 2
        )
        return self.site.pv_size_w * plane_of_array / 1000.0 * _SYSTEM_DERATE

    def _new_day(self, when: int) -> None:
        self._midnight = self.local_midnight(when)
        next_day = datetime.fromtimestamp(self._midnight, self.zone).date() + timedelta(days=1)
        self._day_end = int(datetime.combine(next_day, time(), self.zone).timestamp())
        self._day_cover = min(0.9, self._rng.random() * self.site.cloudiness * 1.6)

    def _integrate(self, count: int) -> None:  # noqa: PLR0915 - one tight loop, kept flat for speed
        site = self.site
        rng = self._rng
        random_value = rng.random
        gauss = rng.gauss
        shape = _LOAD_SHAPE
        mean_load_w = site.daily_load_wh / 24.0
        capacity = float(site.battery_capacity_wh)
        reserve = capacity * site.battery_reserve_pct / 100.0
        max_battery_w = float(site.battery_power_w)
        hours = STEP_S / 3600.0
        cum = self._cum
        totals = self._totals
        solar_out, load_out, battery_out, soc_out = (
            self._solar_w,
            self._load_w,
            self._battery_w,
            self._soc_pct,
        )
        soc_wh = self._soc_wh
        cloud = self._cloud
        noise = self._noise
        sun_prev = self._sun_prev
        sun_next = self._sun_next
        index = self.steps
        for _ in range(count):
            begin = self.start + index * STEP_S
            phase = index % 3
            if phase == 0:
                sun_prev = sun_next
                sun_next = self._clear_sky_w(begin + _SUN_GRID_S)
            if begin >= self._day_end:
                self._new_day(begin)
            weight = (phase * STEP_S + STEP_S / 2) / _SUN_GRID_S
            clear = sun_prev + (sun_next - sun_prev) * weight
            cloud = 0.8 * cloud + 0.2 * random_value()
            solar = clear * max(0.05, 1.0 - self._day_cover * 2.0 * cloud) if clear else 0.0
            noise = 0.7 * noise + 0.3 * gauss(0.0, 1.0)
            slot = min((begin - self._midnight) // STEP_S, _SLOTS_PER_DAY - 1)
            load = mean_load_w * shape[slot] * max(0.3, 1.0 + 0.25 * noise)
            battery = 0.0
            if capacity:
                surplus = solar - load
                if surplus > 0:
                    room_w = (capacity - soc_wh) / _CHARGE_EFFICIENCY / hours
                    battery = -min(surplus, max_battery_w, room_w)
                    soc_wh -= battery * hours * _CHARGE_EFFICIENCY
                else:
                    available_w = max(0.0, soc_wh - reserve) * _DISCHARGE_EFFICIENCY / hours
                    battery = min(-surplus, max_battery_w, available_w)
                    soc_wh -= battery * hours / _DISCHARGE_EFFICIENCY
                soc_out.append(100.0 * soc_wh / capacity)
            else:
                soc_out.append(0.0)
            grid = load - solar - battery
            totals[Channel.SOLAR] += solar * hours
            if grid > 0:
                totals[Channel.IMPORT] += grid * hours
            else:
                totals[Channel.EXPORT] -= grid * hours
            if battery > 0:
                totals[Channel.DISCHARGE] += battery * hours
            else:
                totals[Channel.CHARGE] -= battery * hours
            solar_wh = int(totals[Channel.SOLAR] + 0.5)
            import_wh = int(totals[Channel.IMPORT] + 0.5)
            export_wh = int(totals[Channel.EXPORT] + 0.5)
            charge_wh = int(totals[Channel.CHARGE] + 0.5)
            discharge_wh = int(totals[Channel.DISCHARGE] + 0.5)
            cum[Channel.SOLAR].append(solar_wh)
            cum[Channel.LOAD].append(solar_wh + import_wh + discharge_wh - export_wh - charge_wh)
            cum[Channel.IMPORT].append(import_wh)
            cum[Channel.EXPORT].append(export_wh)
            cum[Channel.CHARGE].append(charge_wh)
            cum[Channel.DISCHARGE].append(discharge_wh)
            solar_out.append(solar)
            load_out.append(load)
            battery_out.append(battery)
            index += 1
        self._soc_wh = soc_wh
        self._cloud = cloud
        self._noise = noise
        self._sun_prev = sun_prev
        self._sun_next = sun_next
