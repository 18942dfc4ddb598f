"""The simulated LiveOne receiver: `/api/gush`, an idempotent store and fault switches.

Everything runs on the injected clock, so tests drive it without sleeping.
"""

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from sim.clock import Clock
from sim.liveone.contract import (
    DESCRIPTION,
    BadRequestError,
    StoreRequest,
    parse_credentials,
    parse_store,
)
from sim.liveone.faults import ERROR_MESSAGES, ForcedStatus, SlowGate
from sim.liveone.ledger import Ledger, StoredReading

PATH: Final = "/api/gush"
DEMO_SITE_ID: Final = "demo-enphase-site"
DEMO_API_KEY: Final = "lo_demo_key_not_a_secret_0000"
REDACTED: Final = "***"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the receiver saw it; `status` is None when the connection was dropped.

    `body` is the decoded JSON with the API key replaced by "***" (None if it was not JSON), so
    tests can validate exactly what was sent without the log holding a secret.
    """

    at: datetime
    method: str
    status: int | None
    body: Any = None
    site_id: str | None = None
    action: str | None = None
    session_label: str | None = None
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0


class LiveOneReceiver:
    """A LiveOne `/api/gush` endpoint for tests, the demo and benchmarks.

    `sites` maps each vendor site id to its API key (None: the site exists but its owner has not
    created a key, which answers 401). The default is the demo site and key.
    """

    def __init__(self, *, clock: Clock, sites: Mapping[str, str | None] | None = None) -> None:
        self._clock = clock
        self.sites: dict[str, str | None] = (
            dict(sites) if sites is not None else {DEMO_SITE_ID: DEMO_API_KEY}
        )
        self.ledger = Ledger()
        self.requests: list[RequestRecord] = []
        self._down = False
        self._forced: ForcedStatus | None = None
        self._slow = SlowGate(clock)

    def install(self, app: web.Application) -> None:
        """Add `GET`/`POST /api/gush` to `app`, and release held requests when it shuts down."""
        app.router.add_get(PATH, self._describe)
        app.router.add_post(PATH, self._receive)
        app.on_shutdown.append(self._on_shutdown)

    # Fault switches.

    def set_down(self, down: bool = True) -> None:
        """Drop every connection without an answer (the client sees it closed) while `down`."""
        self._down = down

    def force_status(
        self, status: int, *, count: int | None = None, retry_after: int | None = None
    ) -> None:
        """Answer POSTs with `status` (e.g. 401, 422, 429, 500, 503).

        For `count` requests, or until cleared; `retry_after` adds that header (seconds).
        """
        if status < 400:
            raise ValueError("a forced status must be an error status")
        self._forced = ForcedStatus(status, count, retry_after)

    def set_slow(self, *, until: datetime | None = None) -> None:
        """Hold requests until `release_slow()`, or until the clock reaches `until`."""
        self._slow.engage(until)

    def release_slow(self) -> None:
        """Answer every held request and stop holding new ones."""
        self._slow.release()

    def check_clock(self) -> None:
        """Release held requests whose `until` has passed (call after moving a manual clock)."""
        self._slow.check_clock()

    @property
    def waiting(self) -> int:
        """How many requests are being held by the slow switch."""
        return self._slow.waiting

    async def wait_for_waiting(self, count: int = 1) -> None:
        """Return once `count` requests are held."""
        await self._slow.wait_for_waiting(count)

    def clear_faults(self) -> None:
        """Turn every switch off and answer any held request."""
        self._down = False
        self._forced = None
        self._slow.release()

    # Queries.

    def posts(
        self, *, action: str | None = None, site_id: str | None = None
    ) -> list[RequestRecord]:
        """Return the POSTs received, optionally only one action's or one site's."""
        return [
            record
            for record in self.requests
            if record.method == "POST"
            and (action is None or record.action == action)
            and (site_id is None or record.site_id == site_id)
        ]

    # Handlers.

    async def _describe(self, request: web.Request) -> web.StreamResponse:
        self._slow.check_clock()
        if self._down:
            return self._drop(request, RequestRecord(self._clock(), "GET", None))
        self.requests.append(RequestRecord(self._clock(), "GET", 200))
        return web.json_response(DESCRIPTION)

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        self._slow.check_clock()
        record = RequestRecord(self._clock(), "POST", None)
        if self._down:
            return self._drop(request, record)
        body = _decode(await request.read())
        record = _describe_body(record, body)
        if self._slow.active and not await self._slow.hold():
            return self._drop(request, record)
        forced = self._take_forced()
        if forced is not None:
            return self._error(record, forced.status, retry_after=forced.retry_after)
        try:
            credentials = parse_credentials(body)
        except BadRequestError as err:
            return self._error(record, 400, str(err))
        if credentials.site_id not in self.sites:
            return self._error(record, 404)
        expected = self.sites[credentials.site_id]
        if expected is None or not hmac.compare_digest(
            expected.encode(), credentials.api_key.encode()
        ):
            return self._error(record, 401)
        if credentials.action == "test":
            return self._ok(record, {"action": "test", "vendorSiteId": credentials.site_id})
        try:
            store = parse_store(body)
        except BadRequestError as err:
            return self._error(record, 400, str(err))
        return self._store(record, credentials.site_id, store)

    def _store(self, record: RequestRecord, site_id: str, store: StoreRequest) -> web.Response:
        now = self._clock()
        new = 0
        for reading in store.readings:
            stored = StoredReading(
                site_id=site_id,
                key=reading.key,
                measured_at=reading.measured_at,
                value=reading.value,
                metric_type=reading.metric_type,
                metric_unit=reading.metric_unit,
                transform=reading.transform,
                subsystem=reading.subsystem,
                logical_path_stem=reading.logical_path_stem,
                default_name=reading.default_name,
                session_label=store.session_label,
                stored_at=now,
            )
            new += self.ledger.store(stored)
        duplicates = len(store.readings) - new
        counted = replace(record, stored=new, duplicates=duplicates, skipped=store.skipped)
        if not store.readings:
            return self._error(counted, 422)
        return self._ok(
            counted,
            {
                "action": "store",
                "sessionLabel": store.session_label,
                "pointsStored": new,
                "duplicates": duplicates,
                "skipped": store.skipped,
            },
        )

    def _take_forced(self) -> ForcedStatus | None:
        forced = self._forced
        if forced is not None and forced.remaining is not None:
            forced.remaining -= 1
            if forced.remaining <= 0:
                self._forced = None
        return forced

    def _ok(self, record: RequestRecord, payload: dict[str, Any]) -> web.Response:
        self.requests.append(replace(record, status=200))
        return web.json_response({"success": True, **payload})

    def _error(
        self,
        record: RequestRecord,
        status: int,
        message: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> web.Response:
        self.requests.append(replace(record, status=status))
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        text = message or ERROR_MESSAGES.get(status, "error")
        return web.json_response({"success": False, "error": text}, status=status, headers=headers)

    def _drop(self, request: web.Request, record: RequestRecord) -> web.Response:
        self.requests.append(record)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._slow.abort()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _describe_body(record: RequestRecord, body: Any) -> RequestRecord:
    """Note who sent what, with the key redacted, before deciding the answer."""
    if not isinstance(body, dict):
        return record
    readings = body.get("readings")
    label = body.get("sessionLabel")
    site_id = body.get("vendorSiteId")
    action = body.get("action")
    return replace(
        record,
        body={**body, "apiKey": REDACTED} if "apiKey" in body else body,
        site_id=site_id if isinstance(site_id, str) else None,
        action=action if isinstance(action, str) else None,
        session_label=label if isinstance(label, str) else None,
        received=len(readings) if isinstance(readings, list) else 0,
    )
