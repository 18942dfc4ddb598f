"""What survives a restart: each application's call ledger and each entry's readings.

- One ledger per Enphase application (OAuth client id), shared by every entry that logs in with
  it, since Enphase counts the application's calls together. It lives in `ApplicationBudgets`
  (hass.data), is loaded by the first entry that needs it and saved and dropped after the last.
  Its limits are not stored: each loaded entry names its plan (the plan option), and the ledger
  follows the strictest of them (`PlanLimits.strictest`), re-evaluated whenever an entry joins,
  leaves or changes its option.
- One store per entry: its systems' readings (counters, latest values, what each endpoint has
  delivered) and their inventory (name, time zone, hardware).

When it is written: both right after every poll, awaited, so a crash loses at most the poll in
progress (its calls were counted in memory only). A token request, or a config flow's request
(`FlowGuard`), seen outside a poll is written `TOKEN_SAVE_DELAY` later; HA also flushes delayed
writes when it stops. Seen before its application's ledger is loaded (a new entry's flow), it
is kept and counted when the ledger loads.

A store that cannot be read does not stop the entry. HA's `Store` moves a file that is not JSON
aside (raising its own repair) and returns nothing; JSON of the wrong shape is caught here
(`StoredDataError`), logged once, and the store starts afresh: the readings and inventory are
read from Enphase again, and a lost ledger assumes the month's calls were used at an even pace
so far (`CallLedger.at_even_pace`), so the rest of the month keeps its share.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.config_entry_oauth2_flow import (
    AbstractOAuth2Implementation,
    LocalOAuth2Implementation,
)
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .budget.ledger import CallLedger
from .budget.limits import PlanLimits
from .const import DOMAIN, TOKEN_REQUEST_OBSERVER
from .enphase import EnphaseRequestRefused, RequestOutcome, RequestRecord
from .inventory import SystemInfo
from .readings.state import ReadingsState
from .stored import Record, StoredDataError, each

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
TOKEN_SAVE_DELAY: Final = 10.0
# Requests seen before their application's ledger was loaded (e.g. the code exchange and the
# systems list of a config flow) are kept to be counted then; more than this is a loop.
_MAX_PENDING: Final = 50
_MAX_REASON: Final = 200

DATA_BUDGETS: Final[HassKey[ApplicationBudgets]] = HassKey(f"{DOMAIN}_budgets")


def application_key(client_id: str) -> str:
    """Name an application shortly and stably, without spelling out its client id."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:12]


def token_outcome(status: int | None) -> RequestOutcome:
    """Classify a token request the way the client classifies API requests."""
    match status:
        case None:
            return RequestOutcome.TRANSIENT
        case 429:
            return RequestOutcome.RATE_LIMITED
        case 400 | 401 | 403:
            return RequestOutcome.AUTH
    if status < 400:
        return RequestOutcome.OK
    return RequestOutcome.TRANSIENT if status >= 500 else RequestOutcome.INVALID


class ApplicationBudget:
    """The call ledger of one Enphase application and where it is saved."""

    def __init__(self, client_id: str, ledger: CallLedger, store: Store[dict[str, Any]]) -> None:
        self.client_id = client_id
        self.key = application_key(client_id)
        self.ledger = ledger
        self.plans: dict[str, PlanLimits] = {}
        """The plan each loaded entry names (entry id → limits)."""
        self._store = store

    @property
    def entry_ids(self) -> set[str]:
        """The loaded entries that use the application."""
        return set(self.plans)

    def set_plan(self, entry_id: str, limits: PlanLimits) -> None:
        """Take an entry's plan; the ledger keeps its counts and honours the strictest plan."""
        self.plans[entry_id] = limits
        self.ledger.limits = PlanLimits.strictest(self.plans.values())

    def drop_plan(self, entry_id: str) -> None:
        """Forget an unloaded entry's plan (the others' still apply)."""
        self.plans.pop(entry_id, None)
        if self.plans:
            self.ledger.limits = PlanLimits.strictest(self.plans.values())

    async def async_save(self) -> None:
        """Write the ledger now (after every poll)."""
        await self._store.async_save(self.ledger.to_dict())

    @callback
    def record_token_request(self, at: datetime, status: int | None) -> None:
        """Count a token request and have it written soon."""
        self.ledger.record_token_request(at, status=status, outcome=token_outcome(status))
        self._store.async_delay_save(self.ledger.to_dict, TOKEN_SAVE_DELAY)

    @callback
    def record_request(self, record: RequestRecord) -> None:
        """Count a request made outside a poll (a config flow's) and have it written soon."""
        self.ledger.after_request(record)
        self._store.async_delay_save(self.ledger.to_dict, TOKEN_SAVE_DELAY)


@dataclass(slots=True)
class ApplicationBudgets:
    """Every loaded application's budget, keyed by client id."""

    hass: HomeAssistant
    loaded: dict[str, ApplicationBudget] = field(default_factory=dict)
    pending: dict[str, list[Callable[[ApplicationBudget], None]]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def async_acquire(
        self, client_id: str, entry_id: str, limits: PlanLimits
    ) -> ApplicationBudget:
        """Return the application's budget, loading its ledger on first use.

        `limits` is the plan the entry names; the ledger honours the strictest plan of the
        entries that use the application.
        """
        async with self.lock:
            budget = self.loaded.get(client_id)
            if budget is None:
                budget = await self._async_load(client_id, limits)
                self.loaded[client_id] = budget
            budget.set_plan(entry_id, limits)
            for count in self.pending.pop(client_id, []):
                count(budget)
            return budget

    async def async_release(self, client_id: str, entry_id: str) -> None:
        """Save the ledger; forget it once no entry uses the application."""
        async with self.lock:
            budget = self.loaded[client_id]
            budget.drop_plan(entry_id)
            await budget.async_save()
            if not budget.plans:
                del self.loaded[client_id]

    @callback
    def observe_token_request(self, client_id: str, status: int | None) -> None:
        """Count a token request of any application (called by the OAuth implementation)."""
        now = dt_util.utcnow()
        self._count(client_id, lambda budget: budget.record_token_request(now, status))

    @callback
    def observe_request(self, client_id: str, record: RequestRecord) -> None:
        """Count a request a config flow made for an application."""
        self._count(client_id, lambda budget: budget.record_request(record))

    def flow_guard(self, client_id: str) -> FlowGuard:
        """Return the guard for a config flow's client of this application."""
        return FlowGuard(self, client_id)

    def _count(self, client_id: str, count: Callable[[ApplicationBudget], None]) -> None:
        """Count now if the ledger is loaded, else when it is."""
        budget = self.loaded.get(client_id)
        if budget is not None:
            count(budget)
            return
        waiting = self.pending.setdefault(client_id, [])
        if len(waiting) < _MAX_PENDING:
            waiting.append(count)

    async def _async_load(self, client_id: str, limits: PlanLimits) -> ApplicationBudget:
        key = application_key(client_id)
        store: Store[dict[str, Any]] = Store(self.hass, STORAGE_VERSION, f"{DOMAIN}.ledger.{key}")
        saved = await store.async_load()
        clock = dt_util.utcnow
        try:
            ledger = (
                CallLedger(limits, clock)
                if saved is None
                else CallLedger.from_dict(saved, limits, clock)
            )
        except StoredDataError as err:
            ledger = CallLedger.at_even_pace(limits, clock)
            warn_unreadable(
                store.key, err, f"assuming {ledger.used} calls were used this month so far"
            )
        _LOGGER.debug("Application %s: %s calls counted this month", key, ledger.used)
        return ApplicationBudget(client_id, ledger, store)


@dataclass(frozen=True, slots=True)
class FlowGuard:
    """The `RequestGuard` of a config flow's client: the application's ledger sees its calls.

    A flow makes a call or two when the user asks; it is refused only when the loaded ledger
    says Enphase would refuse it (a 429 in force, or the month used up), and counted either way.
    """

    budgets: ApplicationBudgets
    client_id: str

    async def before_request(self, endpoint: str) -> None:
        """Refuse what the application's ledger, if loaded, would not allow now."""
        budget = self.budgets.loaded.get(self.client_id)
        if budget is None or (retry_at := budget.ledger.refusal(endpoint)) is None:
            return
        raise EnphaseRequestRefused(
            f"{endpoint}: refused by the call budget until {retry_at.isoformat()}",
            endpoint=endpoint,
            retry_at=retry_at,
        )

    def after_request(self, record: RequestRecord) -> None:
        """Count the request in the application's ledger."""
        self.budgets.observe_request(self.client_id, record)


def client_id_of(implementation: AbstractOAuth2Implementation) -> str:
    """Name the application whose ledger counts an implementation's calls."""
    if isinstance(implementation, LocalOAuth2Implementation):
        return implementation.client_id
    return implementation.domain


@callback
def async_get_budgets(hass: HomeAssistant) -> ApplicationBudgets:
    """Return the registry of application budgets (created, with its observer, on first use)."""
    budgets = hass.data.get(DATA_BUDGETS)
    if budgets is None:
        budgets = hass.data[DATA_BUDGETS] = ApplicationBudgets(hass)
        hass.data[TOKEN_REQUEST_OBSERVER] = budgets.observe_token_request
    return budgets


@dataclass(slots=True)
class EntryData:
    """What one entry keeps between restarts."""

    readings: ReadingsState
    inventory: dict[int, SystemInfo]


class EntryStore:
    """The readings and inventory of one config entry's systems."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.readings.{entry_id}"
        )

    async def async_load(self) -> EntryData:
        """Return what was saved, or an empty state for a new entry (or an unreadable store)."""
        saved = await async_load_stored(
            self._store, _entry_data, "reading the systems from Enphase again"
        )
        return EntryData(ReadingsState(), {}) if saved is None else saved

    async def async_save(self, data: EntryData) -> None:
        """Write everything now (after every poll)."""
        await self._store.async_save(
            {
                "readings": data.readings.to_dict(),
                "inventory": [info.to_dict() for _, info in sorted(data.inventory.items())],
            }
        )

    async def async_remove(self) -> None:
        """Delete the file when the entry is deleted."""
        await self._store.async_remove()


def _entry_data(data: object) -> EntryData:
    """Read what `EntryStore.async_save` wrote (`StoredDataError` for anything else)."""
    obj = Record(data, "entry")
    readings = obj.get("readings", ReadingsState.from_dict)
    systems = obj.get("inventory", each(SystemInfo.from_dict))
    inventory = {info.system_id: info for info in systems}
    if not readings.systems.keys() <= inventory.keys():
        raise StoredDataError("entry.readings: a system without its inventory")
    return EntryData(readings, inventory)


def warn_unreadable(key: str, err: StoredDataError, consequence: str) -> None:
    """Log, once per store, that its data cannot be read and what happens instead.

    The error names a path of keys, and stored keys can be anything: it is shortened.
    """
    reason = str(err)
    if len(reason) > _MAX_REASON:
        reason = f"{reason[:_MAX_REASON]}…"
    _LOGGER.warning("The stored data %s cannot be read (%s); %s", key, reason, consequence)


async def async_load_stored[T](
    store: Store[Any], parse: Callable[[object], T], consequence: str
) -> T | None:
    """Load a store and parse it; None if nothing was saved or what was saved cannot be read.

    `consequence` tells the log what happens instead of reading it.
    """
    saved = await store.async_load()
    if saved is None:
        return None
    try:
        return parse(saved)
    except StoredDataError as err:
        warn_unreadable(store.key, err, consequence)
        return None
