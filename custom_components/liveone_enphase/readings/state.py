"""What Home Assistant shows and pushes, per system, merged from whatever the polls brought back.

Sign conventions are Home Assistant's: battery power is positive while DISCHARGING, grid power
positive while IMPORTING. "Consumption" is the household load. Enphase's latest_telemetry
reports its consumption channel as production + grid (the Net-meter rule, battery excluded), so
the load is that channel plus battery power, and grid power is that channel minus production;
the consumption_meter and lifetime endpoints report the load itself. Where grid power is not
measured it is load - solar - battery.

Every power value carries the time it was measured (the report it came from, or the end of
the interval it averages), so staleness is always visible. Lifetime counters only move up
(see `energy`). Pure: no Home Assistant import, times passed in, `to_dict`/`from_dict` for the
store.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from math import gcd, inf
from typing import Any, Final, Self

from ..budget.model import (
    DEFAULT_REPORT_CADENCE,
    DEFAULT_VISIBLE_AFTER,
    EndpointProgress,
    Refusal,
    SystemProfile,
    SystemProgress,
)
from ..enphase import (
    BatteryLifetime,
    BatteryTelemetry,
    ConsumptionLifetime,
    DailySeries,
    Endpoint,
    EnergyLifetime,
    ExportLifetime,
    ExportTelemetry,
    ImportLifetime,
    ImportTelemetry,
    LatestTelemetry,
    MeterTelemetry,
    MicroTelemetry,
    Summary,
)
from ..enphase.readers import zone_or_utc
from ..history import Fetched
from ..history.feeds import read
from ..stored import (
    Record,
    StoredDataError,
    array,
    each,
    entries,
    epoch,
    epoch_time,
    flag,
    integer,
    member,
    non_negative,
    number,
    text,
)
from .energy import RETENTION, EnergyCounter, Interval, Source, Stream

_STORAGE_VERSION: Final = 1
_METER_LENGTH: Final = timedelta(minutes=15)
_MICRO_LENGTH: Final = timedelta(minutes=5)
_SLOW_REPORTING: Final = timedelta(hours=1)
_SAME_MOMENT: Final = timedelta(minutes=10)
_WINDOW_SLACK: Final = timedelta(minutes=1)
_EPOCH: Final = datetime.fromtimestamp(0, UTC)
_NO_PROGRESS: Final = EndpointProgress()

type EndpointResult = (
    LatestTelemetry
    | MicroTelemetry
    | MeterTelemetry
    | BatteryTelemetry
    | ImportTelemetry
    | ExportTelemetry
    | EnergyLifetime
    | ConsumptionLifetime
    | BatteryLifetime
    | ImportLifetime
    | ExportLifetime
    | Summary
)


class Quantity(StrEnum):
    """The powers shown (W)."""

    SOLAR = "solar"
    CONSUMPTION = "consumption"
    BATTERY = "battery"
    GRID = "grid"


@dataclass(frozen=True, slots=True)
class PowerReading:
    """A power (W, HA signs) and when it was measured; `source` names the endpoint."""

    watts: float
    measured_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class SocReading:
    """Battery state of charge (%) and when it was measured."""

    percent: float
    measured_at: datetime


_LIFETIME_STREAMS: Final[Mapping[Endpoint, tuple[Stream, ...]]] = {
    Endpoint.ENERGY_LIFETIME: (Stream.PRODUCTION,),
    Endpoint.CONSUMPTION_LIFETIME: (Stream.CONSUMPTION,),
    Endpoint.BATTERY_LIFETIME: (Stream.BATTERY_CHARGE, Stream.BATTERY_DISCHARGE),
    Endpoint.ENERGY_IMPORT_LIFETIME: (Stream.GRID_IMPORT,),
    Endpoint.ENERGY_EXPORT_LIFETIME: (Stream.GRID_EXPORT,),
}
# The answers that make a stream's counter the real lifetime total (before any: a partial sum);
# the summary also brings production's lifetime total.
TOTAL_SOURCES: Final[Mapping[Stream, tuple[Endpoint, ...]]] = {
    stream: (*(e for e, streams in _LIFETIME_STREAMS.items() if stream in streams),)
    + ((Endpoint.SUMMARY,) if stream is Stream.PRODUCTION else ())
    for stream in Stream
}
# Intervals for statistics: the finest measured source first, derived last.
_SOURCE_PREFERENCE: Final = (
    Source.MICRO,
    Source.METER,
    Source.BATTERY,
    Source.GRID,
    Source.DERIVED,
)


class SystemReadings:
    """Everything known about one system."""

    def __init__(
        self,
        system_id: int,
        timezone: str | None,
        *,
        has_battery: bool = False,
        has_consumption: bool = False,
        has_production_meter: bool = False,
    ) -> None:
        self.system_id = system_id
        self.timezone = timezone
        self.zone = zone_or_utc(timezone)
        self.has_battery = has_battery
        self.has_consumption = has_consumption
        self.has_production_meter = has_production_meter
        self.forbidden: dict[Endpoint, Refusal] = {}
        """Endpoints Enphase refused (403), left out of the polls until their retry."""
        self.power: dict[Quantity, PowerReading] = {}
        self.soc: SocReading | None = None
        self.battery_mode: str | None = None
        self.status: str | None = None
        self.counters: dict[Stream, EnergyCounter] = {stream: EnergyCounter() for stream in Stream}
        self.soc_history: dict[int, float] = {}
        self.last_report_at: datetime | None = None
        self.report_gcd_s = 0
        self.report_phase_s: float | None = None
        self.slow_reporting = False
        self.last_live_at: datetime | None = None
        self.endpoints: dict[Endpoint, EndpointProgress] = {}
        self.published_through: int | None = None
        """Up to when (epoch) the interval answers proved the system's data published."""
        self._settled_on: date | None = None
        self._touched: set[Stream] = set()

    # --- views --------------------------------------------------------------------------------

    def profile(self) -> SystemProfile:
        """Describe the hardware and the plan, for the planner."""
        return SystemProfile(
            system_id=self.system_id,
            has_battery=self.has_battery,
            has_consumption=self.has_consumption,
            has_production_meter=self.has_production_meter,
            forbidden=frozenset(self.forbidden),
        )

    def progress(self) -> SystemProgress:
        """Describe the data received so far, for the planner."""
        endpoints = dict(self.endpoints)
        for endpoint, streams in _LIFETIME_STREAMS.items():
            if endpoint in endpoints:
                endpoints[endpoint] = replace(
                    endpoints[endpoint], resume_date=self._resume_date(streams)
                )
        return SystemProgress(
            last_live_at=self.last_live_at,
            last_report_at=self.last_report_at,
            report_cadence=self.report_cadence,
            report_phase=timedelta(seconds=self.report_phase_s or 0.0),
            endpoints=endpoints,
            retries={endpoint: refusal.retry_at for endpoint, refusal in self.forbidden.items()},
        )

    @property
    def report_cadence(self) -> timedelta:
        """How often the gateway reports: 15 minutes, unless it has proved to be slower."""
        if self.slow_reporting and self.report_gcd_s >= _SLOW_REPORTING.total_seconds():
            return timedelta(seconds=self.report_gcd_s)
        return DEFAULT_REPORT_CADENCE

    def energy_wh(self, stream: Stream) -> float:
        """Return the lifetime counter of a stream (Wh); it never decreases."""
        return self.counters[stream].value_wh

    def total_known(self, stream: Stream) -> bool:
        """Whether the stream's counter is the real lifetime total, not a partial sum yet."""
        return any(
            (progress := self.endpoints.get(endpoint)) is not None
            and progress.last_success is not None
            for endpoint in TOTAL_SOURCES[stream]
        )

    def day_wh(self, stream: Stream, day: date) -> float:
        """Return a stream's energy on one local day so far (e.g. today's production)."""
        return self.counters[stream].day_wh(day)

    def today(self, now: datetime) -> date:
        """Return the system's local date at `now`."""
        return now.astimezone(self.zone).date()

    def intervals(self, stream: Stream) -> list[Interval]:
        """Return the stream's intervals held (the last few days), from its best source."""
        sources = self.counters[stream].sources
        for source in _SOURCE_PREFERENCE:
            if source in sources and sources[source].values:
                return sources[source].intervals()
        return []

    # --- bookkeeping (the runner) -------------------------------------------------------------

    def note_attempt(self, endpoint: Endpoint, at: datetime) -> None:
        """Record that a request was sent (whatever comes of it)."""
        self.endpoints[endpoint] = replace(self._progress(endpoint), last_attempt=at)

    def note_live(self, at: datetime) -> None:
        """Record a live poll: the planner spaces the next one from here."""
        self.last_live_at = at

    def note_forbidden(self, endpoint: Endpoint, at: datetime) -> None:
        """Enphase answered 403: the endpoint is outside the plan; plan without it for a while."""
        self.forbidden[endpoint] = Refusal.at(at)

    def retry_forbidden(self, now: datetime) -> bool:
        """Let every refused endpoint be tried again from now (the plan grew); True if any."""
        self.forbidden = {e: refusal.retry_from(now) for e, refusal in self.forbidden.items()}
        return bool(self.forbidden)

    # --- merging ------------------------------------------------------------------------------

    def apply(self, endpoint: Endpoint, result: EndpointResult, at: datetime) -> None:
        """Merge one successful answer requested at `at` (an answer proves it is in the plan)."""
        self.forbidden.pop(endpoint, None)
        until = self._proven(endpoint, result, at) if isinstance(result, INTERVAL_WINDOWS) else inf
        match result:
            case LatestTelemetry():
                self._apply_latest(result)
            case MicroTelemetry():
                self._merge(
                    Stream.PRODUCTION, Source.MICRO, _MICRO_LENGTH, result, _energies(result, until)
                )
                self._solar_from_micro(result)
            case MeterTelemetry():
                stream = (
                    Stream.CONSUMPTION
                    if endpoint is Endpoint.CONSUMPTION_METER
                    else Stream.PRODUCTION
                )
                self._merge(stream, Source.METER, _METER_LENGTH, result, _energies(result, until))
            case BatteryTelemetry():
                self._apply_battery(result, until)
            case ImportTelemetry():
                self._merge(
                    Stream.GRID_IMPORT, Source.GRID, _METER_LENGTH, result, _energies(result, until)
                )
            case ExportTelemetry():
                self._merge(
                    Stream.GRID_EXPORT, Source.GRID, _METER_LENGTH, result, _energies(result, until)
                )
            case Summary():
                self._apply_summary(result)
            case EnergyLifetime():
                self._book(Stream.PRODUCTION, result.production)
            case ConsumptionLifetime():
                self._book(Stream.CONSUMPTION, result.consumption)
            case BatteryLifetime():
                self._book(Stream.BATTERY_CHARGE, result.charge)
                self._book(Stream.BATTERY_DISCHARGE, result.discharge)
            case ImportLifetime():
                self._book(Stream.GRID_IMPORT, result.imported)
            case ExportLifetime():
                self._book(Stream.GRID_EXPORT, result.exported)
        if isinstance(result, INTERVAL_WINDOWS):
            if result.meta is not None:
                self._see_report(result.meta.last_report_at, at)
            self._advance_cursor(endpoint, result, at, until)
        else:
            self.endpoints[endpoint] = replace(self._progress(endpoint), last_success=at)
        self._see_status(result)
        self._powers_from_intervals()
        self._derive_grid()
        if self.today(at) != self._settled_on:
            self.settle(at)
        else:
            for stream in self._touched:
                self.counters[stream].refresh()
        self._touched.clear()

    def settle(self, now: datetime) -> None:
        """Fold old days, prune old intervals, and move every counter's high-water mark."""
        today = self.today(now)
        for counter in self.counters.values():
            counter.settle(today, now)
        cut = int((now - RETENTION).timestamp())
        self.soc_history = {key: pct for key, pct in self.soc_history.items() if key >= cut}
        self._settled_on = today

    # --- per endpoint -------------------------------------------------------------------------

    def _apply_latest(self, latest: LatestTelemetry) -> None:
        source = Endpoint.LATEST_TELEMETRY.value
        production = latest.production_w
        consumption = latest.consumption_w
        battery = latest.battery_w
        produced_at = _newest(m.last_report_at for m in latest.meters if m.name == "production")
        consumed_at = _newest(m.last_report_at for m in latest.meters if m.name == "consumption")
        battery_at = _newest(b.last_report_at for b in latest.encharges)
        if production is not None and produced_at is not None:
            self._show(Quantity.SOLAR, PowerReading(production, produced_at, source))
        if battery is not None and battery_at is not None:
            self._show(Quantity.BATTERY, PowerReading(battery, battery_at, source))
        if consumption is not None and consumed_at is not None:
            if battery is not None or not self.has_battery:
                load = consumption + (battery or 0.0)
                self._show(Quantity.CONSUMPTION, PowerReading(load, consumed_at, source))
            if production is not None and produced_at is not None:
                grid_at = min(consumed_at, produced_at)
                self._show(Quantity.GRID, PowerReading(consumption - production, grid_at, source))
        if latest.battery_mode is not None:
            self.battery_mode = latest.battery_mode
        self._see_report(latest.last_report_at, None)

    def _solar_from_micro(self, micro: MicroTelemetry) -> None:
        """Show zero solar when a published report brought no micro interval.

        Micro intervals are only sent while the micros produce, so a missing one is a zero only
        once a report newer than it is proven published (the window's meta); the publishing lag
        varies, so a missing newest interval proves nothing by itself.
        """
        if micro.meta is None or micro.end_at is None:
            return
        reported = _newest((micro.meta.last_report_at, micro.meta.last_energy_at))
        if reported is None:
            return
        grid = DEFAULT_REPORT_CADENCE.total_seconds()
        proven = min(reported, micro.end_at).timestamp() // grid * grid
        newest = max((i.end_at for i in micro.intervals), default=micro.start_at)
        if newest is not None and newest.timestamp() < proven:
            boundary = datetime.fromtimestamp(proven, UTC)
            self._show(Quantity.SOLAR, PowerReading(0.0, boundary, "production_micro"))

    def _apply_battery(self, battery: BatteryTelemetry, until: float) -> None:
        intervals = [i for i in battery.intervals if i.end_at.timestamp() <= until]
        charge = [(i.end_at, i.charge_wh) for i in intervals if i.charge_wh is not None]
        discharge = [(i.end_at, i.discharge_wh) for i in intervals if i.discharge_wh is not None]
        self._merge(Stream.BATTERY_CHARGE, Source.BATTERY, _METER_LENGTH, battery, charge)
        self._merge(Stream.BATTERY_DISCHARGE, Source.BATTERY, _METER_LENGTH, battery, discharge)
        for interval in intervals:
            if interval.soc_pct is not None:
                self.soc_history[int(interval.end_at.timestamp())] = interval.soc_pct
        newest = max(intervals, key=lambda i: i.end_at, default=None)
        percent = battery.last_reported_aggregate_soc_pct
        if newest is not None:
            percent = percent if percent is not None else newest.soc_pct
            if percent is not None and (self.soc is None or newest.end_at >= self.soc.measured_at):
                self.soc = SocReading(percent, newest.end_at)

    def _apply_summary(self, summary: Summary) -> None:
        counter = self.counters[Stream.PRODUCTION]
        self._touched.add(Stream.PRODUCTION)
        if summary.energy_today_wh is not None and summary.summary_date is not None:
            counter.book_days([(summary.summary_date, summary.energy_today_wh)])
        if summary.energy_lifetime_wh is not None:
            counter.raise_floor(summary.energy_lifetime_wh + (summary.energy_today_wh or 0.0))
        if summary.current_power_w is not None and summary.last_report_at is not None:
            reading = PowerReading(summary.current_power_w, summary.last_report_at, "summary")
            self._show(Quantity.SOLAR, reading)
        self._see_report(summary.last_report_at, None)

    def _see_status(self, result: EndpointResult) -> None:
        """Keep the system status ("normal", "comm", ...) of the newest answer carrying one."""
        match result:
            case LatestTelemetry():
                return
            case Summary():
                status = result.status
            case _:
                status = None if result.meta is None else result.meta.status
        if status is not None:
            self.status = status

    def _book(self, stream: Stream, daily: DailySeries) -> None:
        """Book a lifetime series' reported days (its trailing zeros are not reported yet)."""
        self.counters[stream].book_days(daily.reported())
        self._touched.add(stream)

    # --- helpers ------------------------------------------------------------------------------

    def _merge(
        self,
        stream: Stream,
        source: Source,
        length: timedelta,
        window: _IntervalWindow,
        intervals: Iterable[tuple[datetime, float]],
    ) -> None:
        """Merge a window's intervals and note the span it covered."""
        series = self.counters[stream].series(source, length)
        if window.start_at is not None:
            series.cover(window.start_at)
        if series.merge(intervals, self.zone):
            self._touched.add(stream)

    def _show(self, quantity: Quantity, reading: PowerReading) -> None:
        """Show a reading unless an already shown one is newer."""
        current = self.power.get(quantity)
        if current is None or reading.measured_at >= current.measured_at:
            self.power[quantity] = reading

    def _powers_from_intervals(self) -> None:
        """Interval averages count as readings too (measured at the interval's end)."""
        pairs = (
            (Quantity.SOLAR, Stream.PRODUCTION, 1.0),
            (Quantity.CONSUMPTION, Stream.CONSUMPTION, 1.0),
        )
        for quantity, stream, sign in pairs:
            latest = _latest_of(self.counters[stream])
            if latest is not None:
                reading = PowerReading(sign * latest.average_w, latest.end, f"{stream}_intervals")
                self._show(quantity, reading)
        charge = _latest_of(self.counters[Stream.BATTERY_CHARGE])
        discharge = _latest_of(self.counters[Stream.BATTERY_DISCHARGE])
        if charge is not None and discharge is not None and charge.end == discharge.end:
            watts = discharge.average_w - charge.average_w
            self._show(Quantity.BATTERY, PowerReading(watts, charge.end, "battery_intervals"))
        imported = _latest_of(self.counters[Stream.GRID_IMPORT])
        exported = _latest_of(self.counters[Stream.GRID_EXPORT])
        if imported is not None and exported is not None and imported.end == exported.end:
            watts = imported.average_w - exported.average_w
            self._show(Quantity.GRID, PowerReading(watts, imported.end, "grid_intervals"))
        self._grid_from_powers()

    def _grid_from_powers(self) -> None:
        """Grid = load - solar - battery, when those were measured at about the same time."""
        parts = [self.power.get(Quantity.CONSUMPTION), self.power.get(Quantity.SOLAR)]
        if self.has_battery:
            parts.append(self.power.get(Quantity.BATTERY))
        if any(part is None for part in parts):
            return
        readings = [part for part in parts if part is not None]
        times = [reading.measured_at for reading in readings]
        if max(times) - min(times) > _SAME_MOMENT:
            return
        watts = readings[0].watts - sum(reading.watts for reading in readings[1:])
        current = self.power.get(Quantity.GRID)
        if current is None or min(times) > current.measured_at:
            self.power[Quantity.GRID] = PowerReading(watts, min(times), "derived")

    def _derive_grid(self) -> None:
        """Split each 15-minute net flow into import and export where grid is not measured.

        A micro interval missing inside data known complete was a zero (micros send nothing
        while dark); before the first production window it is unknown, so those intervals are
        never derived. Netting inside an interval makes derived import/export a lower bound.
        Intervals are derived in order, each once, as soon as all their parts are in.
        """
        if not self.has_consumption:
            return
        consumption = self.counters[Stream.CONSUMPTION].sources.get(Source.METER)
        production = self._production_source()
        if consumption is None or production is None:
            return
        source, produced_from, produced_through = production
        imports = self.counters[Stream.GRID_IMPORT].series(Source.DERIVED, _METER_LENGTH)
        exports = self.counters[Stream.GRID_EXPORT].series(Source.DERIVED, _METER_LENGTH)
        done = imports.newest_key or 0
        found_import: list[tuple[datetime, float]] = []
        found_export: list[tuple[datetime, float]] = []
        first = max(done, produced_from + int(_METER_LENGTH.total_seconds()) - 1)
        for key in sorted(k for k in consumption.values if k > first):
            battery = self._battery_net_wh(key)
            if key > produced_through or battery is None:
                break
            net = consumption.values[key] - self._production_wh(source, key) - battery
            end = datetime.fromtimestamp(key, UTC)
            # 0.0 first: on a tie max() keeps it, so a balanced slot is 0.0, never -0.0.
            found_import.append((end, max(0.0, net)))
            found_export.append((end, max(0.0, -net)))
        if found_import:
            imports.merge(found_import, self.zone)
            exports.merge(found_export, self.zone)
            self._touched.update((Stream.GRID_IMPORT, Stream.GRID_EXPORT))

    def _production_source(self) -> tuple[Source, int, int] | None:
        """Return the production source in use, and the span its data is complete for (epochs)."""
        for source, endpoint in (
            (Source.MICRO, Endpoint.PRODUCTION_MICRO),
            (Source.METER, Endpoint.PRODUCTION_METER),
        ):
            known = self._progress(endpoint).known_through(self._settled_lag())
            series = self.counters[Stream.PRODUCTION].sources.get(source)
            if series is not None and series.covered_from is not None and known is not None:
                return source, series.covered_from, int(known.timestamp())
        return None

    def _production_wh(self, source: Source, key: int) -> float:
        series = self.counters[Stream.PRODUCTION].sources[source]
        step = int(series.length.total_seconds())
        return sum(series.values.get(end, 0.0) for end in range(key - 900 + step, key + 1, step))

    def _battery_net_wh(self, key: int) -> float | None:
        """Discharge minus charge in the interval (0 without a battery; None if not yet in)."""
        if not self.has_battery:
            return 0.0
        charge = self.counters[Stream.BATTERY_CHARGE].sources.get(Source.BATTERY)
        discharge = self.counters[Stream.BATTERY_DISCHARGE].sources.get(Source.BATTERY)
        if charge is None or discharge is None:
            return None
        if key not in charge.values or key not in discharge.values:
            return None
        return discharge.values[key] - charge.values[key]

    def _proven(self, endpoint: Endpoint, window: _IntervalWindow, at: datetime) -> float:
        """Return up to when (epoch) the intervals of an answer are proven published.

        Enphase may send intervals it has not published yet as zeros at the end of an answer
        ("trailing zeros"), and a zero proves nothing. What proves the data published up to an
        instant is the statistics' evidence (`history.feeds`): a non-zero value there, or
        `meta.last_energy_at`, in this answer or an earlier one. Later intervals are taken as
        not sent: they are not merged, and the cursor stays before them (see `_advance_cursor`).
        """
        evidence = read(Fetched(endpoint, window, at)).evidence
        proven = max((e for e in (self.published_through, evidence) if e is not None), default=None)
        self.published_through = proven
        return -inf if proven is None else proven

    def _advance_cursor(
        self, endpoint: Endpoint, window: _IntervalWindow, at: datetime, until: float
    ) -> None:
        """Move an interval endpoint's cursor past what this answer covered (up to `until`).

        A window cut short (at its one-day length) is covered to its end, unless intervals were
        held back as not yet published: then only to its newest proven interval, and it is not
        complete, so the next call asks for the held-back ones again. Nor is anything after the
        gateway's last report covered while it is silent (no report for longer than its usual
        lag): an offline gateway uploads its backlog later, and the next calls must ask for it.
        """
        progress = self._progress(endpoint)
        ends = [i.end_at for i in window.intervals if i.end_at.timestamp() <= until]
        held_back = len(ends) < len(window.intervals)
        cursor = max([progress.cursor, *ends], key=_sortable)
        reached = window.end_at is None or window.end_at >= at - _WINDOW_SLACK
        reported = self.last_report_at
        silent = (
            reported is not None and reported < at - self._settled_lag() - 2 * self.report_cadence
        )
        complete = reached and not held_back and not silent
        end = window.end_at
        past_report = silent and end is not None and reported is not None and end > reported
        if end is not None and not reached and not held_back and not past_report:
            cursor = max(cursor, end, key=_sortable)
        self.endpoints[endpoint] = replace(
            progress, last_success=at, cursor=cursor, complete=complete
        )

    def _see_report(self, report_at: datetime | None, asked_at: datetime | None) -> None:
        """Track the newest report and learn how often the gateway reports."""
        previous = self.last_report_at
        if report_at is None:
            return
        if previous is not None and asked_at is not None and report_at <= previous:
            due = previous + DEFAULT_REPORT_CADENCE + DEFAULT_VISIBLE_AFTER
            if asked_at >= due:
                self.slow_reporting = True
        # Reports follow the 15-minute interval boundaries by an upload delay; the smallest
        # offset seen is where the boundary lies.
        offset = report_at.timestamp() % DEFAULT_REPORT_CADENCE.total_seconds()
        if self.report_phase_s is None or offset < self.report_phase_s:
            self.report_phase_s = offset
        if previous is None or report_at > previous:
            if previous is not None:
                gap = round((report_at - previous) / DEFAULT_REPORT_CADENCE)
                step = gap * int(DEFAULT_REPORT_CADENCE.total_seconds())
                self.report_gcd_s = gcd(self.report_gcd_s, step)
                if step < _SLOW_REPORTING.total_seconds():
                    self.slow_reporting = False
            self.last_report_at = report_at

    def _settled_lag(self) -> timedelta:
        """How long after an instant this system's data for it is surely published."""
        return DEFAULT_VISIBLE_AFTER + self.report_cadence - DEFAULT_REPORT_CADENCE

    def _progress(self, endpoint: Endpoint) -> EndpointProgress:
        return self.endpoints.get(endpoint, EndpointProgress())

    def _resume_date(self, streams: Iterable[Stream]) -> date | None:
        """Re-read every day not yet folded into the base at a lifetime check."""
        folded = [self.counters[stream].base_through for stream in streams]
        if any(day is None for day in folded):
            return None
        return min(day for day in folded if day is not None) + timedelta(days=1)

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Serialise everything (JSON types only)."""
        return {
            "system_id": self.system_id,
            "timezone": self.timezone,
            "has_battery": self.has_battery,
            "has_consumption": self.has_consumption,
            "has_production_meter": self.has_production_meter,
            "forbidden": {
                endpoint.value: [_epoch(refusal.refused_at), _epoch(refusal.retry_at)]
                for endpoint, refusal in sorted(self.forbidden.items())
            },
            "power": {
                quantity.value: [reading.watts, _epoch(reading.measured_at), reading.source]
                for quantity, reading in self.power.items()
            },
            "soc": None if self.soc is None else [self.soc.percent, _epoch(self.soc.measured_at)],
            "battery_mode": self.battery_mode,
            "status": self.status,
            "counters": {stream.value: c.to_dict() for stream, c in self.counters.items()},
            "soc_history": [[key, pct] for key, pct in sorted(self.soc_history.items())],
            "last_report_at": _optional_epoch(self.last_report_at),
            "report_gcd_s": self.report_gcd_s,
            "report_phase_s": self.report_phase_s,
            "slow_reporting": self.slow_reporting,
            "last_live_at": _optional_epoch(self.last_live_at),
            "published_through": self.published_through,
            "endpoints": {
                endpoint.value: _progress_to_dict(progress)
                for endpoint, progress in self.endpoints.items()
            },
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "system") -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else)."""
        obj = Record(data, path)
        readings = cls(
            obj.get("system_id", integer),
            obj.opt("timezone", text),
            has_battery=obj.get("has_battery", flag),
            has_consumption=obj.get("has_consumption", flag),
            has_production_meter=obj.get("has_production_meter", flag),
        )
        readings.power = obj.get("power", entries(member(Quantity), _power_from_list))
        readings.soc = obj.opt("soc", _soc_from_list)
        readings.battery_mode = obj.opt("battery_mode", text)
        readings.status = obj.opt("status", text, may_be_absent=True)  # older stores lack it
        readings.counters.update(
            obj.get("counters", entries(member(Stream), EnergyCounter.from_dict))
        )
        readings.soc_history = dict(obj.get("soc_history", each(_soc_point)))
        readings.last_report_at = obj.opt("last_report_at", epoch_time)
        readings.report_gcd_s = obj.get("report_gcd_s", non_negative)
        readings.report_phase_s = obj.opt("report_phase_s", number)
        readings.slow_reporting = obj.get("slow_reporting", flag)
        readings.last_live_at = obj.opt("last_live_at", epoch_time)
        # Older stores lack it.
        readings.published_through = obj.opt("published_through", epoch, may_be_absent=True)
        readings.endpoints = obj.get("endpoints", entries(member(Endpoint), _progress_from_dict))
        readings.forbidden = _forbidden_from(obj, readings.endpoints)
        return readings


class ReadingsState:
    """The readings of every system of one config entry."""

    def __init__(self) -> None:
        self.systems: dict[int, SystemReadings] = {}

    def add_system(
        self,
        system_id: int,
        timezone: str | None,
        *,
        has_battery: bool = False,
        has_consumption: bool = False,
        has_production_meter: bool = False,
    ) -> SystemReadings:
        """Add a system, or update what it has (its data is kept)."""
        readings = self.systems.get(system_id)
        if readings is None:
            readings = self.systems[system_id] = SystemReadings(system_id, timezone)
        readings.timezone = timezone
        readings.zone = zone_or_utc(timezone)
        readings.has_battery = has_battery
        readings.has_consumption = has_consumption
        readings.has_production_meter = has_production_meter
        return readings

    def system(self, system_id: int) -> SystemReadings:
        """One system's readings."""
        return self.systems[system_id]

    def retry_forbidden(self, now: datetime) -> bool:
        """Let every system's refused endpoints be tried again from now; True if there are any."""
        return any([readings.retry_forbidden(now) for readings in self.systems.values()])

    def planned_systems(self) -> list[tuple[SystemProfile, SystemProgress]]:
        """Return the planner's input."""
        return [(s.profile(), s.progress()) for _, s in sorted(self.systems.items())]

    def to_dict(self) -> dict[str, Any]:
        """Serialise for Home Assistant's Store."""
        return {
            "version": _STORAGE_VERSION,
            "systems": [readings.to_dict() for _, readings in sorted(self.systems.items())],
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "readings") -> Self:
        """Restore what `to_dict` saved (`StoredDataError` for anything else or another version)."""
        obj = Record(data, path)
        if obj.get("version", integer) != _STORAGE_VERSION:
            raise StoredDataError(f"{path}.version: not a version this release reads")
        state = cls()
        for readings in obj.get("systems", each(SystemReadings.from_dict)):
            state.systems[readings.system_id] = readings
        return state


type _EnergyWindow = MicroTelemetry | MeterTelemetry | ImportTelemetry | ExportTelemetry
type _IntervalWindow = _EnergyWindow | BatteryTelemetry
INTERVAL_WINDOWS: Final = (
    MicroTelemetry,
    MeterTelemetry,
    BatteryTelemetry,
    ImportTelemetry,
    ExportTelemetry,
)


def _energies(window: _EnergyWindow, until: float) -> list[tuple[datetime, float]]:
    """(end, Wh) of every interval up to `until` (epoch) that carries an energy."""
    return [
        (i.end_at, i.energy_wh)
        for i in window.intervals
        if i.energy_wh is not None and i.end_at.timestamp() <= until
    ]


def _latest_of(counter: EnergyCounter) -> Interval | None:
    latest = [series.latest() for series in counter.sources.values()]
    return max((i for i in latest if i is not None), key=lambda i: i.end, default=None)


def _newest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def _sortable(moment: datetime | None) -> datetime:
    return moment or datetime.min.replace(tzinfo=UTC)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _optional_epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _forbidden_from(
    obj: Record, endpoints: Mapping[Endpoint, EndpointProgress]
) -> dict[Endpoint, Refusal]:
    """Restore the refusals; older stores kept only a list of the refused endpoints.

    For those, the refusal is dated by the endpoint's last attempt (the refused call: a refused
    endpoint is not called again), or, without one, long ago, so it is retried at once.
    """

    def read(value: object, path: str) -> dict[Endpoint, Refusal]:
        if isinstance(value, list):
            return {
                endpoint: Refusal.at(endpoints.get(endpoint, _NO_PROGRESS).last_attempt or _EPOCH)
                for endpoint in each(member(Endpoint))(value, path)
            }
        return entries(member(Endpoint), _refusal_from_list)(value, path)

    return obj.get("forbidden", read)


def _refusal_from_list(data: object, path: str) -> Refusal:
    refused_at, retry_at = array(data, path, 2)
    return Refusal(epoch_time(refused_at, f"{path}[0]"), epoch_time(retry_at, f"{path}[1]"))


def _progress_to_dict(progress: EndpointProgress) -> dict[str, Any]:
    return {
        "last_attempt": _optional_epoch(progress.last_attempt),
        "last_success": _optional_epoch(progress.last_success),
        "cursor": _optional_epoch(progress.cursor),
        "complete": progress.complete,
    }


def _progress_from_dict(data: object, path: str) -> EndpointProgress:
    obj = Record(data, path)
    return EndpointProgress(
        last_attempt=obj.opt("last_attempt", epoch_time),
        last_success=obj.opt("last_success", epoch_time),
        cursor=obj.opt("cursor", epoch_time),
        complete=obj.get("complete", flag),
    )


def _power_from_list(data: object, path: str) -> PowerReading:
    watts, at, source = array(data, path, 3)
    return PowerReading(
        number(watts, f"{path}[0]"), epoch_time(at, f"{path}[1]"), text(source, f"{path}[2]")
    )


def _soc_from_list(data: object, path: str) -> SocReading:
    percent, at = array(data, path, 2)
    return SocReading(number(percent, f"{path}[0]"), epoch_time(at, f"{path}[1]"))


def _soc_point(data: object, path: str) -> tuple[int, float]:
    at, percent = array(data, path, 2)
    return epoch(at, f"{path}[0]"), number(percent, f"{path}[1]")
