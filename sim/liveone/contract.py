"""How the simulated receiver reads a request body: the contract's rules, written independently.

Nothing here comes from the integration: the simulator must catch the sender's mistakes, not
share them.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from sim.liveone.ledger import Value

ACTIONS = ("test", "store")

DESCRIPTION: dict[str, Any] = {
    "endpoint": "/api/gush",
    "method": "POST",
    "simulator": True,
    "body": {
        "vendorSiteId": "string, always",
        "apiKey": "string, always",
        "action": "'test' (check credentials) or 'store'",
        "sessionLabel": "string, store: unique label of the batch",
        "measurementTime": "ISO 8601 UTC, store: default time unless every reading has its own",
        "readings": "array, store: at least one reading",
    },
    "reading": {
        "physicalPathTail": "point key, unique within the site",
        "value": "number or string; null readings are skipped",
        "metricType": "required, e.g. power, energy, soc",
        "metricUnit": "required, e.g. W, Wh, %",
        "logicalPathStem": "optional dotted path",
        "defaultName": "optional",
        "subsystem": "optional",
        "transform": "'d' for a cumulative counter",
        "measurementTime": "optional ISO 8601 time overriding the batch time",
    },
    "idempotency": "(site, point, measurementTime): a resent reading is stored once",
    "responses": {
        "200": "stored (or credentials good for test)",
        "400": "missing field or invalid action",
        "401": "wrong or unset API key",
        "404": "unknown vendorSiteId",
        "422": "none of the readings could be stored",
        "429": "too many requests",
        "503": "datastore unavailable",
    },
}


class BadRequestError(Exception):
    """The body breaks the contract badly enough for a 400."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who is asking, and for what."""

    site_id: str
    api_key: str
    action: str


@dataclass(frozen=True, slots=True)
class AcceptedReading:
    """A reading that passed the receiver's checks, ready for the ledger."""

    key: str
    measured_at: datetime
    value: Value
    metric_type: str
    metric_unit: str
    transform: str | None
    subsystem: str | None
    logical_path_stem: str | None
    default_name: str | None


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """The store part of a body: its label, the usable readings and how many were skipped."""

    session_label: str
    readings: tuple[AcceptedReading, ...]
    skipped: int


def parse_credentials(body: object) -> Credentials:
    """Read the fields every request needs (400 when one is missing or the action is unknown)."""
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    site_id = body.get("vendorSiteId")
    api_key = body.get("apiKey")
    action = body.get("action")
    if not isinstance(site_id, str) or not site_id:
        raise BadRequestError("vendorSiteId is required")
    if not isinstance(api_key, str) or not api_key:
        raise BadRequestError("apiKey is required")
    if action not in ACTIONS:
        raise BadRequestError("action must be 'test' or 'store'")
    return Credentials(site_id, api_key, str(action))


def parse_store(body: dict[str, Any]) -> StoreRequest:
    """Read a store request's readings; unusable readings are counted, not fatal."""
    label = body.get("sessionLabel")
    if not isinstance(label, str) or not label:
        raise BadRequestError("sessionLabel is required")
    raw_readings = body.get("readings")
    if not isinstance(raw_readings, list) or not raw_readings:
        raise BadRequestError("readings must be a non-empty array")
    default_time: datetime | None = None
    if "measurementTime" in body:
        default_time = parse_time(body["measurementTime"])
        if default_time is None:
            raise BadRequestError("measurementTime is not an ISO 8601 UTC time")
    elif not all(isinstance(r, dict) and "measurementTime" in r for r in raw_readings):
        raise BadRequestError("measurementTime is required unless every reading has its own")
    accepted = [parse_reading(raw, default_time) for raw in raw_readings]
    usable = tuple(reading for reading in accepted if reading is not None)
    return StoreRequest(label, usable, len(accepted) - len(usable))


def parse_reading(raw: object, default_time: datetime | None) -> AcceptedReading | None:
    """Read one reading, or None when the contract says to skip it."""
    if not isinstance(raw, dict):
        return None
    key = raw.get("physicalPathTail")
    metric_type = raw.get("metricType")
    metric_unit = raw.get("metricUnit")
    value = raw.get("value")
    if not _text(key) or not _text(metric_type) or not _text(metric_unit):
        return None
    if not _usable_value(value):
        return None
    measured_at = parse_time(raw["measurementTime"]) if "measurementTime" in raw else default_time
    if measured_at is None:
        return None
    return AcceptedReading(
        key=key,
        measured_at=measured_at,
        value=value,
        metric_type=metric_type,
        metric_unit=metric_unit,
        transform=_optional_text(raw.get("transform")),
        subsystem=_optional_text(raw.get("subsystem")),
        logical_path_stem=_optional_text(raw.get("logicalPathStem")),
        default_name=_optional_text(raw.get("defaultName")),
    )


def parse_time(raw: object) -> datetime | None:
    """Read an ISO 8601 time with an explicit offset as UTC; anything else (naive too) is None."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def _text(raw: object) -> TypeGuard[str]:
    return isinstance(raw, str) and bool(raw)


def _optional_text(raw: object) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _usable_value(value: object) -> TypeGuard[Value]:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str)
