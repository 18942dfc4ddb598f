"""The hook through which a budget ledger sees, and may veto, every request the client makes."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class RequestOutcome(StrEnum):
    """How a sent request ended, one value per error class (plus `ok`)."""

    OK = "ok"
    AUTH = "auth"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    INVALID = "invalid"
    TRANSIENT = "transient"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request that left the client.

    `endpoint` is the template (e.g. "systems/{system_id}/summary"); `status` is None when no
    HTTP response arrived (timeout, connection error, or the caller was cancelled mid-request:
    such a request may still have been counted by Enphase, so it is recorded as `transient`).
    """

    endpoint: str
    started_at: datetime
    status: int | None
    outcome: RequestOutcome


class RequestGuard(Protocol):
    """Implemented by whoever keeps the call budget (the client only calls it).

    The client first obtains its access token, then calls `before_request`, sends, and calls
    `after_request` exactly once per request sent. A refused request, or one whose token could
    not be obtained, never reaches `after_request`.
    """

    async def before_request(self, endpoint: str) -> None:
        """Raise `EnphaseRequestRefused` to stop the request; then nothing is sent."""

    def after_request(self, record: RequestRecord) -> None:
        """Record one request that was sent, whatever its outcome (called for every one)."""
