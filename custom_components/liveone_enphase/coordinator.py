"""The coordinator of one config entry: it polls Enphase when the planner says, not on a timer.

Every refresh asks the planner for the next poll, a pure function of the saved readings, the
application's call ledger and the clock. When that poll is due the runner executes it, the
entry's store and the ledger are saved, and `update_interval` is set to reach the next plan's
time; when it is not due, nothing is called and the refresh only reschedules. `_async_setup`
restores the readings and the ledger before the first refresh, so after a restart the first
refresh plans exactly what the planner would have planned without the restart: no extra call.

Errors: an authentication failure (401, or the token refresh refused) raises
`ConfigEntryAuthFailed`; a refused API key raises `ConfigEntryError`, stops polling and raises
the `api_key_rejected` repair (only reconfiguring with another key helps); a 429 blocks the
whole application in the ledger until Enphase's `period_end`; 5xx and timeouts are retried by
the planner within the budget. None of them makes the sensors unavailable: they keep their
values while these are fresh (see `Freshness`).

Freshness: a measurement is shown while it describes a moment at most
- `LIVE_STALE_AFTER` (3 h) ago for power and battery mode. On the free plan live polls come every
  30-45 minutes by day and Enphase publishes a report 15-25 minutes after it is measured, so a
  value is normally under an hour old; 3 h tolerates two or three failed polls. The free plan
  does not poll at night, so these sensors turn unavailable about 3 h after the last evening
  poll and come back with the morning's first one: a battery's power at midnight is not what it
  was at sunset.
- `SOC_STALE_AFTER` (4 h) ago for the state of charge, which the free plan refreshes every 3 h.
- and in both cases at least two report intervals of the gateway (a cellular gateway reports
  every 6 h, so 12 h).
Lifetime counters, today's production and the diagnostic sensors do not go stale: a counter is
a lower bound that stays true. The coordinator re-evaluates at each moment a value turns stale
(and at each local midnight, when today's production restarts) and logs once per system when
its live values become unavailable and once when they are back.

Hourly statistics (only when the recorder is loaded): after every poll the interval answers of
each system go to `EntryHistory.async_import` in one call (one answer's evidence of publication
proves the zeros of the others), and the past days it still misses feed the planner as history
calls. A failed import is logged and retried with the next answers: it never fails a poll.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Final, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
from sqlalchemy.exc import SQLAlchemyError

from .budget.ledger import BudgetStatus
from .budget.limits import PlanLimits
from .budget.model import EndpointCall, PollPlan, Role, SystemProfile, SystemProgress
from .budget.planner import PollPlanner
from .budget.sun import SunCalendar
from .const import DOMAIN
from .enphase import (
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseForbiddenError,
    System,
)
from .inventory import INVENTORY_MAX_AGE, SystemInfo
from .issues import (
    async_delete_system_issues,
    async_update_api_key_issue,
    async_update_budget_issues,
    async_update_forbidden_issue,
)
from .readings.runner import CallStatus, PollReport, PollRunner
from .readings.state import ReadingsState, SystemReadings
from .statistics import EntryHistory
from .store import ApplicationBudget, EntryData, EntryStore

if TYPE_CHECKING:
    from . import LiveOneEnphaseConfigEntry

_LOGGER = logging.getLogger(__name__)

LIVE_STALE_AFTER: Final = timedelta(hours=3)
SOC_STALE_AFTER: Final = timedelta(hours=4)
# The coordinator's timer may fire a little early (it rounds to loop seconds): a poll planned
# within this is run rather than rescheduled for a moment later.
DUE_TOLERANCE: Final = timedelta(seconds=2)
# Never reschedule sooner than this, whatever the plan says, so no bug can spin.
MIN_INTERVAL: Final = timedelta(seconds=5)
_BACKOFFS: Final[HassKey[dict[str, InventoryBackoff]]] = HassKey(f"{DOMAIN}_inventory_backoff")


@dataclass(slots=True)
class InventoryBackoff:
    """When to read the hardware again after a failure: 5 minutes, doubling up to 6 hours.

    Systems the account no longer lists are not asked for again until the next regular read
    (`INVENTORY_MAX_AGE`). Kept per entry in hass.data, so HA's quick setup retries and
    reloads do not each spend a call.
    """

    FIRST: ClassVar[timedelta] = timedelta(minutes=5)
    LONGEST: ClassVar[timedelta] = timedelta(hours=6)

    failures: int = 0
    next_at: datetime | None = None
    missing_since: dict[int, datetime] = field(default_factory=dict)

    def allows(self, now: datetime) -> bool:
        """Whether a read may be tried now."""
        return self.next_at is None or now >= self.next_at

    def failed(self, now: datetime) -> None:
        """Note a failed read."""
        self.next_at = now + min(self.FIRST * 2**self.failures, self.LONGEST)
        self.failures += 1

    def succeeded(self, now: datetime, missing: list[int]) -> None:
        """Note a read that worked, and the systems it did not find."""
        self.failures = 0
        self.next_at = None
        self.missing_since.update(dict.fromkeys(missing, now))

    def recently_missing(self, system_id: int, now: datetime) -> bool:
        """Whether the account lacked the system at a read not long ago."""
        since = self.missing_since.get(system_id)
        return since is not None and now - since < INVENTORY_MAX_AGE


class Freshness(StrEnum):
    """How long a kind of measurement stays true (see the module docstring)."""

    LIVE = "live"
    SOC = "soc"


@dataclass(frozen=True, slots=True)
class SystemView:
    """One system as the entities read it."""

    info: SystemInfo
    readings: SystemReadings
    now: datetime

    @property
    def today_start(self) -> datetime:
        """The start of the system's local day (when today's production restarted)."""
        return _local_midnight(self.readings.today(self.now), self.readings.zone)


class LiveOneEnphaseCoordinator(DataUpdateCoordinator[ReadingsState]):
    """Polls the entry's systems as planned and keeps their readings."""

    config_entry: LiveOneEnphaseConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: LiveOneEnphaseConfigEntry,
        client: EnphaseClient,
        budget: ApplicationBudget,
        system_ids: tuple[int, ...],
    ) -> None:
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN)
        self.client = client
        self.budget = budget
        self.system_ids = system_ids
        self.next_poll_at: datetime | None = None
        self.last_report: PollReport | None = None
        self._store = EntryStore(hass, entry.entry_id)
        self._saved = EntryData(ReadingsState(), {})
        self._runner = PollRunner(client, self._saved.readings, dt_util.utcnow, budget.ledger)
        self._planner = PollPlanner(
            SunCalendar(hass.config.latitude, hass.config.longitude, hass.config.time_zone),
            dt_util.utcnow,
        )
        self._backoff = hass.data.setdefault(_BACKOFFS, {}).setdefault(
            entry.entry_id, InventoryBackoff()
        )
        self._history: EntryHistory | None = None
        self._unreachable = False
        self._fresh: dict[int, bool] = {}
        self._unsub_edge: CALLBACK_TYPE | None = None
        self._unsub_freshness: CALLBACK_TYPE | None = None

    # --- what entities read -------------------------------------------------------------------

    @property
    def inventory(self) -> dict[int, SystemInfo]:
        """What each system is (only systems whose hardware is known)."""
        return self._saved.inventory

    @property
    def readings(self) -> ReadingsState:
        """What is known of each system."""
        return self._saved.readings

    def view(self, system_id: int) -> SystemView | None:
        """One system's info and readings, or None while its hardware is unknown."""
        info = self._saved.inventory.get(system_id)
        readings = self._saved.readings.systems.get(system_id)
        if info is None or readings is None:
            return None
        return SystemView(info, readings, dt_util.utcnow())

    def budget_status(self) -> BudgetStatus:
        """Return the application's ledger as of now."""
        return self.budget.ledger.status()

    def stale_after(self, readings: SystemReadings, freshness: Freshness) -> timedelta:
        """How long a measurement of this kind stays true for this system."""
        floor = LIVE_STALE_AFTER if freshness is Freshness.LIVE else SOC_STALE_AFTER
        return max(floor, 2 * readings.report_cadence)

    def is_fresh(
        self, readings: SystemReadings, freshness: Freshness, measured_at: datetime | None
    ) -> bool:
        """Whether a measurement taken at `measured_at` may still be shown."""
        if measured_at is None:
            return False
        return dt_util.utcnow() - measured_at <= self.stale_after(readings, freshness)

    # --- lifecycle ----------------------------------------------------------------------------

    @override
    async def _async_setup(self) -> None:
        """Restore the readings and inventory saved before the restart (the ledger is loaded)."""
        saved = await self._store.async_load()
        wanted = set(self.system_ids)
        gone = [sid for sid in saved.readings.systems if sid not in wanted]
        for system_id in gone:
            del saved.readings.systems[system_id]
        async_delete_system_issues(self.hass, gone)
        if "recorder" in self.hass.config.components:
            self._history = EntryHistory(self.hass, self.config_entry.entry_id)
            await self._history.async_load()
            for system_id in self._history.system_ids - wanted:
                await self._history.async_forget(system_id)
        self._saved.readings.systems.update(saved.readings.systems)
        for info in saved.inventory.values():
            if info.system_id in wanted:
                self._register(info)
        self._unsub_freshness = self.async_add_listener(self._log_freshness)

    @override
    async def async_shutdown(self) -> None:
        """Stop the freshness timer too."""
        await super().async_shutdown()
        for unsub in (self._unsub_edge, self._unsub_freshness):
            if unsub is not None:
                unsub()
        self._unsub_edge = self._unsub_freshness = None

    @override
    async def _async_update_data(self) -> ReadingsState:
        """Poll if the planner says it is time; then plan the next refresh."""
        read_inventory = await self._async_refresh_inventory()
        report = None
        plan = self._plan()
        if plan.calls and plan.at <= dt_util.utcnow() + DUE_TOLERANCE:
            _LOGGER.debug("Polling %s calls: %s", plan.call_count, plan.reason)
            report = self.last_report = await self._runner.run(plan)
            self._log_report(report)
            await self._async_import_history(report)
        if read_inventory or report is not None:
            await self._async_save()
        if report is not None and report.key_rejected:
            raise self._api_key_rejected()
        if report is not None and report.auth_failed:
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="login_expired")
        self._schedule_next()
        self._update_issues()
        self._schedule_edge()
        return self._saved.readings

    # --- inventory ----------------------------------------------------------------------------

    async def _async_refresh_inventory(self) -> bool:
        """Read the hardware of systems never read or read too long ago; True if calls were made.

        Without any inventory nothing can be polled, so a failure then fails the refresh (the
        first one: setup is retried). Otherwise the old inventory serves until a retry. Retries
        back off (see `InventoryBackoff`) across setup retries too, which HA makes every 80 s.
        """
        now = dt_util.utcnow()
        inventory = self._saved.inventory
        due = [
            sid
            for sid in self.system_ids
            if (sid not in inventory or inventory[sid].is_due(now))
            and not self._backoff.recently_missing(sid, now)
        ]
        if not due:
            return False
        if not self._backoff.allows(now):
            if not inventory:
                raise UpdateFailed(translation_domain=DOMAIN, translation_key="inventory_failed")
            return False
        try:
            missing = await self._async_read_inventory(due, now)
        except EnphaseAuthError as err:
            await self.budget.async_save()
            if err.key_rejected:
                raise self._api_key_rejected() from err
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="login_expired"
            ) from err
        except EnphaseError as err:
            self._backoff.failed(now)
            if not inventory:
                await self.budget.async_save()
                async_update_budget_issues(self.hass, self.budget.key, self.budget_status())
                raise UpdateFailed(
                    translation_domain=DOMAIN, translation_key="inventory_failed"
                ) from err
            _LOGGER.debug("Reading the systems' hardware failed, retrying later: %s", err)
        else:
            self._backoff.succeeded(now, missing)
        return True

    async def _async_read_inventory(self, due: list[int], now: datetime) -> list[int]:
        """Read the systems list and each due system's hardware; return the ids not listed."""
        systems = {system.system_id: system for system in await self.client.systems()}
        missing = [system_id for system_id in due if system_id not in systems]
        for system_id in missing:
            _LOGGER.warning("Enphase no longer lists system %s on the account", system_id)
        for system_id in due:
            if system_id in systems:
                info = await self._async_read_hardware(systems[system_id], now)
                self._register(info)
                dr.async_get(self.hass).async_get_or_create(
                    config_entry_id=self.config_entry.entry_id, **info.device_info
                )
        return missing

    async def _async_read_hardware(self, system: System, now: datetime) -> SystemInfo:
        """Read the hardware from the device list (outside the plan: from latest telemetry)."""
        try:
            devices = await self.client.devices(system.system_id)
        except EnphaseForbiddenError:
            latest = await self.client.latest_telemetry(system.system_id)
            return SystemInfo.from_latest(system, latest, now)
        return SystemInfo.from_api(system, devices, now)

    def _register(self, info: SystemInfo) -> None:
        """Take a system's inventory; the planner then knows which endpoints apply."""
        self._saved.inventory[info.system_id] = info
        self._saved.readings.add_system(
            info.system_id,
            info.timezone,
            has_battery=info.has_battery,
            has_consumption=info.has_consumption,
            has_production_meter=info.has_production_meter,
        )

    # --- planning -----------------------------------------------------------------------------

    async def async_set_plan(self, limits: PlanLimits) -> None:
        """Take the entry's changed plan option and plan with it at once.

        The shared ledger keeps its counts and honours the strictest plan of its entries; this
        entry's next poll is recomputed now (the others' at their next refresh, as when an
        entry joins or leaves). A plan with more calls a month is an upgrade: endpoints Enphase
        refused may be in it, so each is tried once more with the next poll.
        """
        entry_id = self.config_entry.entry_id
        previous = self.budget.plans[entry_id]
        if previous == limits:
            return
        self.budget.set_plan(entry_id, limits)
        upgraded = limits.per_month > previous.per_month
        if upgraded and self._saved.readings.retry_forbidden(dt_util.utcnow()):
            await self._store.async_save(self._saved)
        await self.async_refresh()

    def _plan(self) -> PollPlan:
        """Ask the planner, with this entry's share of an application used by several entries."""
        share = 1 / max(1, len(self.budget.entry_ids))
        if self._planner.settings.budget_share != share:
            self._planner.settings = replace(self._planner.settings, budget_share=share)
        return self._planner.plan(self._planned_systems(), self.budget_status())

    def _planned_systems(self) -> list[tuple[SystemProfile, SystemProgress]]:
        """Return the readings' planner input, with the past days the statistics still miss."""
        systems = self._saved.readings.planned_systems()
        if self._history is None:
            return systems
        now = dt_util.utcnow()
        return [
            (
                profile,
                replace(
                    progress,
                    history=tuple(
                        EndpointCall(need.endpoint, Role.HISTORY, start_at=need.start_at)
                        for need in self._history.catch_up(
                            profile.system_id, profile.history_endpoints, now
                        )
                    ),
                ),
            )
            for profile, progress in systems
        ]

    def _schedule_next(self) -> None:
        """Set the next refresh: the next plan, or earlier when a block or a retry ends."""
        now = dt_util.utcnow()
        plan = self._plan()
        at = plan.at
        if not plan.calls:
            status = self.budget_status()
            if status.blocked_until is not None:
                at = min(at, status.blocked_until)
        if self._backoff.next_at is not None:
            at = min(at, self._backoff.next_at)
        self.next_poll_at = max(at, now)
        self.update_interval = max(at - now, MIN_INTERVAL)
        _LOGGER.debug("Next refresh at %s (%s)", at.isoformat(), plan.reason)

    async def _async_import_history(self, report: PollReport) -> None:
        """Hand each system's interval answers of the poll to the statistics, in one import."""
        if self._history is None:
            return
        for system_id, fetched in report.interval_answers().items():
            info = self._saved.inventory[system_id]
            try:
                await self._history.async_import(system_id, info.name, info.timezone, fetched)
            except (HomeAssistantError, SQLAlchemyError) as err:
                _LOGGER.warning("Could not write the hourly statistics of %s: %s", info.name, err)

    async def _async_save(self) -> None:
        """Write the readings and the ledger (after every poll, see `store`)."""
        await self._store.async_save(self._saved)
        await self.budget.async_save()

    def _log_report(self, report: PollReport) -> None:
        """Log once when Enphase stops answering and once when it answers again."""
        answered = report.with_status(CallStatus.OK)
        failed = report.with_status(CallStatus.FAILED)
        for result in report.with_status(CallStatus.NOT_FOUND):
            _LOGGER.warning("Enphase does not know system %s any more", result.system_id)
        for result in report.with_status(CallStatus.RATE_LIMITED):
            blocked = self.budget_status().blocked_until
            _LOGGER.warning(
                "Enphase refused %s: the plan's limit is reached; no call until %s",
                result.endpoint.value,
                blocked.isoformat() if blocked else "it resets",
            )
        if failed and not answered and not self._unreachable:
            self._unreachable = True
            _LOGGER.warning(
                "Enphase did not answer (%s); sensors keep their values while they are fresh",
                failed[0].detail,
            )
        elif answered and self._unreachable:
            self._unreachable = False
            _LOGGER.info("Enphase answers again")

    def _api_key_rejected(self) -> ConfigEntryError:
        """Stop polling, and ask for another key: logging in again would not help.

        Unlike an auth failure, HA keeps refreshing after a `ConfigEntryError`; no interval
        stops that. Reconfiguring reloads the entry, which polls again.
        """
        self.update_interval = None
        entry = self.config_entry
        async_update_api_key_issue(self.hass, entry.entry_id, entry.title, rejected=True)
        return ConfigEntryError(translation_domain=DOMAIN, translation_key="api_key_rejected")

    def _update_issues(self) -> None:
        entry = self.config_entry
        async_update_api_key_issue(self.hass, entry.entry_id, entry.title, rejected=False)
        async_update_budget_issues(self.hass, self.budget.key, self.budget_status())
        for system_id, readings in self._saved.readings.systems.items():
            info = self._saved.inventory[system_id]
            async_update_forbidden_issue(self.hass, system_id, info.name, readings.forbidden)

    # --- freshness ----------------------------------------------------------------------------

    def _schedule_edge(self) -> None:
        """Wake the entities when a value turns stale or a local day starts."""
        if self._unsub_edge is not None:
            self._unsub_edge()
            self._unsub_edge = None
        now = dt_util.utcnow()
        edges: list[datetime] = []
        for readings in self._saved.readings.systems.values():
            live = self.stale_after(readings, Freshness.LIVE)
            edges += [reading.measured_at + live for reading in readings.power.values()]
            if readings.soc is not None:
                edges.append(readings.soc.measured_at + self.stale_after(readings, Freshness.SOC))
            tomorrow = readings.today(now) + timedelta(days=1)
            edges.append(_local_midnight(tomorrow, readings.zone))
        upcoming = [edge for edge in edges if edge > now]
        if upcoming:
            self._unsub_edge = async_track_point_in_utc_time(
                self.hass, self._on_edge, min(upcoming) + timedelta(seconds=1)
            )

    @callback
    def _on_edge(self, _now: datetime) -> None:
        self._unsub_edge = None
        self.async_update_listeners()
        self._schedule_edge()

    @callback
    def _log_freshness(self) -> None:
        """Log once per system when its live values turn unavailable, and once when back."""
        for system_id, readings in self._saved.readings.systems.items():
            newest = max((r.measured_at for r in readings.power.values()), default=None)
            if newest is None:
                continue
            fresh = self.is_fresh(readings, Freshness.LIVE, newest)
            before = self._fresh.get(system_id)
            self._fresh[system_id] = fresh
            name = self._saved.inventory[system_id].name
            if before is not False and not fresh:
                _LOGGER.info(
                    "The latest Enphase data of %s is from %s: its power sensors are "
                    "unavailable until Enphase reports again",
                    name,
                    dt_util.as_local(newest).isoformat(timespec="minutes"),
                )
            elif before is False and fresh:
                _LOGGER.info("Enphase data of %s is current again", name)


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    """Return the first instant of a local day, in UTC."""
    return dt_util.as_utc(datetime.combine(day, time(), tzinfo=zone))
