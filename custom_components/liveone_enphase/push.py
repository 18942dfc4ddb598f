"""LiveOne push for one config entry: every new reading queued durably, drained in the background.

Wiring (see `liveone/` for the delivery rules):
- One `Outbox` per entry, kept in a `Store` (`liveone_enphase.outbox.<entry_id>`) together with
  the cursor of what was queued (`push_readings.PushCursor`), written in the same save as the
  batches, so a reading is neither lost nor queued twice across restarts.
- After every coordinator update, each pushed system's new readings become one batch (more if
  it holds over `MAX_READINGS_PER_BATCH`), queued under the Enphase system id: the client of
  that system at send time decides the LiveOne site, so a corrected site id takes the backlog.
- Draining runs as a background task of the entry, never before Home Assistant has started, and
  again at `status.next_attempt_at` (a timer); unloading cancels both.
- Repairs: a paused outbox (LiveOne refused the key, does not know the site, or the URL is not a
  LiveOne receiver) raises one issue; while paused the outbox probes at most once an hour, and
  saving the options resumes it. Readings dropped by the outbox (rejected by LiveOne, or past
  its age or size bound) raise an issue per reason with the count, until the options are saved.

Options (`entry.options`): `liveone_push` (on/off), `liveone_url`, `liveone_api_key` (never
shown back), `liveone_sites` ({Enphase system id: LiveOne site id}; a system without one is
not pushed). Turning pushing on or off reloads the entry (the diagnostic sensors come or go);
any other change is applied in place, keeping the backlog.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .liveone import (
    Batch,
    DropReason,
    LiveOneBatchRejectedError,
    LiveOneClient,
    LiveOneError,
    Outbox,
    OutboxLimits,
    OutboxState,
    OutboxStatus,
    StoreResult,
    make_batches,
)
from .push_readings import PushCursor
from .store import warn_unreadable
from .stored import StoredDataError

if TYPE_CHECKING:
    import aiohttp

    from . import LiveOneEnphaseConfigEntry
    from .coordinator import LiveOneEnphaseCoordinator

CONF_PUSH: Final = "liveone_push"
CONF_URL: Final = "liveone_url"
CONF_API_KEY: Final = "liveone_api_key"
CONF_SITES: Final = "liveone_sites"
DEFAULT_URL: Final = "https://liveone.vercel.app"

STORAGE_VERSION: Final = 1
OUTBOX_LIMITS: Final = OutboxLimits()

# The keys of the diagnostic sensors (see `push_entities`); unique ids are `<entry_id>_<key>`.
SENSOR_PENDING: Final = "liveone_pending"
SENSOR_LAST_PUSH: Final = "liveone_last_push"

# The issue raised while the outbox is paused, per pause.
_PAUSE_ISSUES: Final[Mapping[OutboxState, str]] = {
    OutboxState.PAUSED_AUTH: "liveone_auth_failed",
    OutboxState.PAUSED_UNKNOWN_SITE: "liveone_unknown_site",
    OutboxState.PAUSED_INVALID_URL: "liveone_invalid_url",
}


@dataclass(frozen=True, slots=True)
class PushOptions:
    """The entry's LiveOne options, read from `entry.options`."""

    enabled: bool = False
    base_url: str = DEFAULT_URL
    api_key: str = field(default="", repr=False)
    sites: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PushOptions:
        """Read the options (missing or malformed values count as not set)."""
        raw_sites = options.get(CONF_SITES)
        sites: dict[int, str] = {}
        if isinstance(raw_sites, Mapping):
            for system_id, site_id in raw_sites.items():
                if str(system_id).isdigit() and isinstance(site_id, str) and site_id.strip():
                    sites[int(system_id)] = site_id.strip()
        return cls(
            enabled=options.get(CONF_PUSH) is True,
            base_url=str(options.get(CONF_URL) or DEFAULT_URL),
            api_key=str(options.get(CONF_API_KEY) or ""),
            sites=sites,
        )

    def as_options(self) -> dict[str, Any]:
        """Return the options as the entry stores them."""
        return {
            CONF_PUSH: self.enabled,
            CONF_URL: self.base_url,
            CONF_API_KEY: self.api_key,
            CONF_SITES: {str(system_id): site for system_id, site in sorted(self.sites.items())},
        }

    @property
    def active(self) -> bool:
        """Whether anything is to be pushed."""
        return self.enabled and bool(self.sites)

    def client(self, session: aiohttp.ClientSession, system_id: int) -> LiveOneClient:
        """Return the client of one system's site (`LiveOneError` if the settings are unusable)."""
        return LiveOneClient(session, self.base_url, self.sites[system_id], self.api_key)


async def async_test_options(
    hass: HomeAssistant, options: PushOptions
) -> tuple[int, LiveOneError] | None:
    """Run LiveOne's `test` action for each site; return the first failure and its system."""
    session = async_get_clientsession(hass)
    for system_id in sorted(options.sites):
        try:
            await options.client(session, system_id).test()
        except LiveOneError as err:
            return system_id, err
    return None


def storage_key(entry_id: str) -> str:
    """Name the entry's outbox store."""
    return f"{DOMAIN}.outbox.{entry_id}"


class PushStore:
    """The outbox's storage: its data and the push cursor, written together in one file.

    Drops already shown to the user and acknowledged (by saving the options) are kept here too,
    so their issue does not come back after a restart.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, storage_key(entry_id))
        self.cursor = PushCursor()
        self.acknowledged: dict[str, int] = {}
        self._outbox: Mapping[str, object] | None = None

    async def load(self) -> Mapping[str, object] | None:
        """Read everything; return the outbox's part (the outbox calls this once).

        What cannot be read is logged and left out: an unreadable cursor only means readings
        may be queued again (LiveOne stores each once); unreadable batches are the outbox's to
        count as dropped, for its repair issue.
        """
        data: object = await self._store.async_load()
        if data is None:
            return None
        if not isinstance(data, Mapping):
            warn_unreadable(
                self._store.key, StoredDataError("outbox: not an object"), "nothing to push"
            )
            return None
        try:
            self.cursor = PushCursor.from_dict(data.get("pushed"))
        except StoredDataError as err:
            warn_unreadable(
                self._store.key, err, "readings already queued may be sent to LiveOne again"
            )
        acknowledged = data.get("acknowledged")
        if isinstance(acknowledged, Mapping):
            self.acknowledged = {
                str(reason): count
                for reason, count in acknowledged.items()
                if isinstance(count, int) and not isinstance(count, bool)
            }
        outbox = data.get("outbox")
        if outbox is not None and not isinstance(outbox, Mapping):
            warn_unreadable(
                self._store.key, StoredDataError("outbox.outbox: not an object"), "nothing to push"
            )
        self._outbox = outbox if isinstance(outbox, Mapping) else None
        return self._outbox

    async def save(self, data: dict[str, object]) -> None:
        """Write the outbox's data with the cursor as it is now."""
        self._outbox = data
        await self.async_save()

    async def async_save(self) -> None:
        """Write the last outbox data, the cursor and the acknowledgements."""
        await self._store.async_save(
            {
                "outbox": self._outbox,
                "pushed": self.cursor.to_dict(),
                "acknowledged": self.acknowledged,
            }
        )

    async def async_remove(self) -> None:
        """Delete the file (the entry was deleted)."""
        await self._store.async_remove()


class SiteRouter:
    """Sends each batch to the LiveOne site its Enphase system is configured for right now."""

    def __init__(self, session: aiohttp.ClientSession, options: PushOptions) -> None:
        self._session = session
        self._options = options
        self.failed_site: str | None = None

    def configure(self, options: PushOptions) -> None:
        """Use new options from the next batch on."""
        self._options = options
        self.failed_site = None

    async def store(self, batch: Batch) -> StoreResult:
        """Send `batch` as its system's site; a system no longer pushed rejects it."""
        system_id = int(batch.site_id) if batch.site_id.isdigit() else None
        site_id = None if system_id is None else self._options.sites.get(system_id)
        if system_id is None or site_id is None:
            raise LiveOneBatchRejectedError(f"Enphase system {batch.site_id} is no longer pushed")
        try:
            return await self._options.client(self._session, system_id).store(batch)
        except LiveOneError as err:
            if not isinstance(err, LiveOneBatchRejectedError):
                self.failed_site = site_id
            raise


class LiveOnePush:
    """Queues each new reading of the entry's pushed systems and drains the queue to LiveOne."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: LiveOneEnphaseConfigEntry,
        coordinator: LiveOneEnphaseCoordinator,
        options: PushOptions,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self.options = options
        self._store = PushStore(hass, entry.entry_id)
        self._router = SiteRouter(async_get_clientsession(hass), options)
        self._limits = OUTBOX_LIMITS
        self.outbox = Outbox(self._router, self._store, clock=dt_util.utcnow, limits=self._limits)
        self._collect_lock = asyncio.Lock()
        self._last_created: datetime | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsubs: list[CALLBACK_TYPE] = []
        self._timer: CALLBACK_TYPE | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False

    @property
    def status(self) -> OutboxStatus:
        """The outbox's state, depth and timings."""
        return self.outbox.status

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` after every change of status; return a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_start(self) -> None:
        """Load the backlog, queue what is new, and drain once Home Assistant has started."""
        await self.outbox.load()
        self._store.cursor.keep_only(self._coordinator.system_ids)
        self._unsubs += [
            self.outbox.add_listener(self._on_status),
            self._coordinator.async_add_listener(self._on_coordinator_update),
            async_at_started(self._hass, self._on_started),
        ]
        self._on_status()
        await self._async_collect()

    @callback
    def async_stop(self) -> None:
        """Stop listening and draining (the running drain is cancelled with the entry)."""
        self._stopped = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._cancel_timer()

    async def async_apply_options(self, options: PushOptions) -> None:
        """Take new sites, URL or key: resume, clear the repairs, push newly added systems."""
        self.options = options
        self._router.configure(options)
        self._store.acknowledged = {
            str(reason): count for reason, count in self.status.dropped_readings.items()
        }
        await self._store.async_save()
        self.outbox.resume()
        await self._async_collect()

    # --- queueing -----------------------------------------------------------------------------

    @callback
    def _on_coordinator_update(self) -> None:
        self._entry.async_create_task(
            self._hass, self._async_collect(), f"{DOMAIN} queue LiveOne readings"
        )

    async def _async_collect(self) -> None:
        """Queue each pushed system's new readings; the cursor moves with each batch's save."""
        async with self._collect_lock:
            report = self._coordinator.last_report
            polled_at = None if report is None else report.started_at
            systems = self._coordinator.readings.systems
            for system_id in self.options.sites:
                if (readings := systems.get(system_id)) is None:
                    continue
                found = self._store.cursor.new_readings(readings, polled_at=polled_at)
                if not found:
                    continue
                batches = make_batches(str(system_id), found, created_at=self._created_at())
                self._last_created = batches[-1].created_at
                for batch in batches:
                    self._store.cursor.system(system_id).advance(batch.readings)
                    await self.outbox.enqueue(batch)

    def _created_at(self) -> datetime:
        """Now, or just after the last batch made, so every session label is unique."""
        now = dt_util.utcnow()
        last = self._last_created
        return now if last is None or now > last else last + timedelta(milliseconds=1)

    # --- draining -----------------------------------------------------------------------------

    @callback
    def _on_started(self, _hass: HomeAssistant) -> None:
        self._started = True
        self._schedule()

    @callback
    def _on_status(self) -> None:
        status = self.status
        self._update_issues(status)
        for listener in list(self._listeners):
            listener()
        self._schedule()

    @callback
    def _schedule(self) -> None:
        """Drain now or set the timer for the next attempt (a running drain reschedules itself)."""
        self._cancel_timer()
        if not self._started or self._stopped or self._drain_task is not None:
            return
        at = self.status.next_attempt_at
        if at is None:
            return
        if at > dt_util.utcnow():
            self._timer = async_track_point_in_utc_time(self._hass, self._on_timer, at)
            return
        self._drain_task = self._entry.async_create_background_task(
            self._hass, self._async_drain(), f"{DOMAIN} drain LiveOne outbox", eager_start=False
        )

    @callback
    def _on_timer(self, _now: datetime) -> None:
        self._timer = None
        self._schedule()

    async def _async_drain(self) -> None:
        try:
            await self.outbox.drain()
        finally:
            self._drain_task = None
        self._schedule()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    # --- repairs ------------------------------------------------------------------------------

    def _update_issues(self, status: OutboxStatus) -> None:
        """Mirror the pause and the unacknowledged drops as repair issues."""
        entry = self._entry
        for state, translation_key in _PAUSE_ISSUES.items():
            issue_id = f"{translation_key}_{entry.entry_id}"
            if status.state is not state:
                ir.async_delete_issue(self._hass, DOMAIN, issue_id)
                continue
            where = (
                {"url": self.options.base_url}
                if state is OutboxState.PAUSED_INVALID_URL
                else {"site_id": self._router.failed_site or ""}
            )
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=translation_key,
                translation_placeholders={"name": entry.title, **where},
            )
        for reason in DropReason:
            issue_id = f"liveone_dropped_{reason}_{entry.entry_id}"
            unseen = status.dropped_readings.get(reason, 0) - self._store.acknowledged.get(
                str(reason), 0
            )
            if unseen <= 0:
                ir.async_delete_issue(self._hass, DOMAIN, issue_id)
                continue
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=f"liveone_dropped_{reason}",
                translation_placeholders={
                    "name": entry.title,
                    "readings": str(unseen),
                    **self._bound(reason),
                },
            )

    def _bound(self, reason: DropReason) -> dict[str, str]:
        """Name the bound that dropped the readings, for the drop issue."""
        match reason:
            case DropReason.MAX_AGE:
                return {"days": str(self._limits.max_age.days)}
            case DropReason.MAX_READINGS:
                return {"limit": str(self._limits.max_readings)}
        return {}


async def async_setup_push(
    hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry, coordinator: LiveOneEnphaseCoordinator
) -> LiveOnePush | None:
    """Start pushing if the options say so, and follow changes of the options.

    Returns the entry's push (None while pushing is off). Call after the first refresh; the
    entry's unload stops everything this starts.
    """
    options = PushOptions.from_options(entry.options)
    push = LiveOnePush(hass, entry, coordinator, options) if options.active else None

    async def options_updated(hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry) -> None:
        new = PushOptions.from_options(entry.options)
        if push is None or not new.active:
            if new.active != (push is not None):
                hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        if new != push.options:
            await push.async_apply_options(new)

    entry.async_on_unload(entry.add_update_listener(options_updated))
    if push is None:
        _async_remove_sensors(hass, entry.entry_id)
        async_delete_push_issues(hass, entry.entry_id)
        return None
    entry.async_on_unload(push.async_stop)
    await push.async_start()
    return push


@callback
def async_delete_push_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Forget the entry's LiveOne issues (pushing is off, or the entry is gone)."""
    keys = [*_PAUSE_ISSUES.values(), *(f"liveone_dropped_{reason}" for reason in DropReason)]
    for key in keys:
        ir.async_delete_issue(hass, DOMAIN, f"{key}_{entry_id}")


@callback
def _async_remove_sensors(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the diagnostic sensors left from when pushing was on."""
    registry = er.async_get(hass)
    for key in (SENSOR_PENDING, SENSOR_LAST_PUSH):
        if entity_id := registry.async_get_entity_id("sensor", DOMAIN, f"{entry_id}_{key}"):
            registry.async_remove(entity_id)


async def async_remove_push(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the entry's outbox and its issues (the entry was deleted)."""
    await PushStore(hass, entry_id).async_remove()
    async_delete_push_issues(hass, entry_id)
