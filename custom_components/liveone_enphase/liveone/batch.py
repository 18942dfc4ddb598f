"""Batches of readings: what one store request carries, how the outbox keeps it, and a validator.

A batch is a site id, a session label (`liveone_enphase/<epoch ms>` of its creation), a default
measurement time (the newest reading's) and at least one reading, each with its own time.

`to_dict`/`from_dict` give the outbox a compact JSON form (about 65 bytes a reading): readings are
`[key, value, time]` triples, and a point's metadata is written out only when it differs from
the registry in `points.POINTS`, so a batch still sends exactly what was decided when it was made.

`validate_request` checks a request body against the receiver's contract and this integration's
conventions (units, counters marked cumulative, signs where they can be checked); tests use it.
"""

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeGuard

from ..stored import StoredDataError
from .points import CUMULATIVE_TRANSFORM, POINTS, Point, Reading, Value
from .times import epoch_ms, iso_utc, parse_iso_utc

SESSION_PREFIX: Final = "liveone_enphase"
MAX_READINGS_PER_BATCH: Final = 500
UNITS_BY_TYPE: Final[Mapping[str, frozenset[str]]] = {
    "power": frozenset({"W"}),
    "energy": frozenset({"Wh", "kWh"}),
    "soc": frozenset({"%"}),
}
BALANCE_FLOOR_W: Final = 50.0
BALANCE_SHARE: Final = 0.05

_LABEL = re.compile(rf"^{SESSION_PREFIX}/\d+$")


def session_label(created_at: datetime) -> str:
    """Return the label of a batch created at `created_at`."""
    return f"{SESSION_PREFIX}/{epoch_ms(created_at)}"


@dataclass(frozen=True, slots=True)
class Batch:
    """One store request's worth of readings, immutable so a retry sends the same bytes."""

    site_id: str
    session_label: str
    created_at: datetime
    measurement_time: datetime
    readings: tuple[Reading, ...]

    def __post_init__(self) -> None:
        """Refuse batches the receiver would answer with 400."""
        if not self.readings:
            raise ValueError("a batch needs at least one reading")
        if self.created_at.tzinfo is None or self.measurement_time.tzinfo is None:
            raise ValueError("batch times must be timezone-aware")
        if len({reading.point for reading in self.readings}) != len(
            {reading.point.key for reading in self.readings}
        ):
            raise ValueError("a key must name the same point throughout a batch")

    @classmethod
    def create(cls, site_id: str, readings: Iterable[Reading], *, created_at: datetime) -> Batch:
        """Build a batch labelled by its creation time, defaulting to its newest reading's time."""
        ordered = tuple(readings)
        newest = max((reading.measured_at for reading in ordered), default=created_at)
        return cls(site_id, session_label(created_at), created_at, newest, ordered)

    def to_wire(self) -> dict[str, object]:
        """Return the batch's part of a store request body (everything but credentials)."""
        return {
            "sessionLabel": self.session_label,
            "measurementTime": iso_utc(self.measurement_time),
            "readings": [reading.to_wire() for reading in self.readings],
        }

    def to_dict(self) -> dict[str, object]:
        """Return the compact JSON-able form the outbox persists."""
        custom = {
            reading.point.key: _point_to_dict(reading.point)
            for reading in self.readings
            if POINTS.get(reading.point.key) != reading.point
        }
        data: dict[str, object] = {
            "site_id": self.site_id,
            "session_label": self.session_label,
            "created_at": iso_utc(self.created_at),
            "measurement_time": iso_utc(self.measurement_time),
            "readings": [
                [reading.point.key, reading.value, iso_utc(reading.measured_at)]
                for reading in self.readings
            ],
        }
        if custom:
            data["points"] = custom
        return data

    @classmethod
    def from_dict(cls, data: object) -> Batch:
        """Rebuild a batch from `to_dict` output; `StoredDataError` if it is not one."""
        if not isinstance(data, Mapping):
            raise StoredDataError("a stored batch must be an object")
        raw_points = data.get("points", {})
        if not isinstance(raw_points, Mapping):
            raise StoredDataError("stored points must be an object")
        custom = {str(key): _point_from_dict(str(key), raw) for key, raw in raw_points.items()}
        raw_readings = data.get("readings")
        if not isinstance(raw_readings, list) or not raw_readings:
            raise StoredDataError("stored readings must be a non-empty list")
        readings = tuple(_reading_from_list(raw, custom) for raw in raw_readings)
        return cls(
            site_id=_text(data.get("site_id"), "site_id"),
            session_label=_text(data.get("session_label"), "session_label"),
            created_at=_time(data.get("created_at"), "created_at"),
            measurement_time=_time(data.get("measurement_time"), "measurement_time"),
            readings=readings,
        )


def make_batches(
    site_id: str,
    readings: Iterable[Reading],
    *,
    created_at: datetime,
    max_readings: int = MAX_READINGS_PER_BATCH,
) -> list[Batch]:
    """Split readings (oldest first) into batches of at most `max_readings`.

    Each batch is labelled one millisecond after the previous one, so labels stay unique.
    """
    ordered = sorted(readings, key=lambda reading: reading.measured_at)
    return [
        Batch.create(
            site_id,
            ordered[start : start + max_readings],
            created_at=created_at + timedelta(milliseconds=index),
        )
        for index, start in enumerate(range(0, len(ordered), max_readings))
    ]


def store_request(batch: Batch, *, site_id: str, api_key: str) -> dict[str, object]:
    """Return the full store request body for `batch`, sent as the given site."""
    return {"vendorSiteId": site_id, "apiKey": api_key, "action": "store", **batch.to_wire()}


def validate_batch(batch: Batch, *, check_balance: bool = True) -> list[str]:
    """Return what is wrong with the request `batch` would be sent as (empty: nothing)."""
    body = store_request(batch, site_id=batch.site_id, api_key="not-checked")
    return validate_request(body, check_balance=check_balance)


def validate_request(body: object, *, check_balance: bool = True) -> list[str]:
    """Return what is wrong with a request body, checked against the contract (empty: nothing).

    With `check_balance`, powers measured at the same instant must balance in LiveOne's signs:
    solar + grid - battery = load, within 5 % of the flows or 50 W, which catches a flipped sign.
    """
    if not isinstance(body, Mapping):
        return ["the body is not a JSON object"]
    problems = [
        f"{name} must be a non-empty string"
        for name in ("vendorSiteId", "apiKey")
        if not _is_text(body.get(name))
    ]
    action = body.get("action")
    if action == "test":
        return problems
    if action != "store":
        return [*problems, f"action {action!r} is neither 'test' nor 'store'"]
    label = body.get("sessionLabel")
    if not isinstance(label, str) or not _LABEL.match(label):
        problems.append(f"sessionLabel {label!r} is not '{SESSION_PREFIX}/<epoch ms>'")
    problems += _time_problems("measurementTime", body.get("measurementTime"))
    readings = body.get("readings")
    if not isinstance(readings, list) or not readings:
        return [*problems, "readings must be a non-empty array"]
    seen: set[tuple[str, str]] = set()
    powers: dict[str, dict[str, float]] = defaultdict(dict)
    for index, reading in enumerate(readings):
        if not isinstance(reading, Mapping):
            problems.append(f"reading {index} is not an object")
            continue
        problems += [f"reading {index}: {problem}" for problem in _reading_problems(reading)]
        key, when, value = (
            reading.get("physicalPathTail"),
            reading.get("measurementTime"),
            reading.get("value"),
        )
        if isinstance(key, str) and isinstance(when, str):
            if (key, when) in seen:
                problems.append(f"reading {index}: {key} at {when} appears twice")
            seen.add((key, when))
            if _is_number(value) and key in _BALANCE_KEYS:
                powers[when][key] = float(value)
    if check_balance:
        problems += _balance_problems(powers)
    return problems


_BALANCE_KEYS: Final = frozenset({"solar_w", "load_w", "battery_w", "grid_w"})
_NON_NEGATIVE_POWER: Final = frozenset({"solar_w", "load_w"})


def _reading_problems(reading: Mapping[str, object]) -> list[str]:
    key = reading.get("physicalPathTail")
    if not _is_text(key):
        return ["physicalPathTail must be a non-empty string"]
    value = reading.get("value")
    metric_type = reading.get("metricType")
    unit = reading.get("metricUnit")
    cumulative = reading.get("transform") == CUMULATIVE_TRANSFORM
    problems = _time_problems(f"{key} measurementTime", reading.get("measurementTime"))
    if not _is_number(value) and not isinstance(value, str):
        problems.append(f"{key} value {value!r} is neither a finite number nor text")
    if not _is_text(metric_type) or not _is_text(unit):
        return [*problems, f"{key} needs metricType and metricUnit"]
    if unit not in UNITS_BY_TYPE.get(metric_type, frozenset({unit})):
        problems.append(f"{key}: unit {unit!r} does not fit metricType {metric_type!r}")
    if "transform" in reading and not cumulative:
        problems.append(f"{key}: transform must be 'd' or absent")
    if cumulative != key.endswith("_total"):
        problems.append(f"{key}: only *_total keys are cumulative, and they must be")
    known = POINTS.get(key)
    if known is not None and (known.metric_type, known.metric_unit) != (metric_type, unit):
        problems.append(f"{key}: expected {known.metric_type} in {known.metric_unit}")
    if _is_number(value):
        problems += _sign_problems(key, metric_type, float(value))
    return problems


def _sign_problems(key: str, metric_type: str, value: float) -> list[str]:
    if metric_type == "energy" and value < 0:
        return [f"{key}: energy {value} is negative"]
    if key in _NON_NEGATIVE_POWER and value < 0:
        return [f"{key}: power {value} W is negative"]
    if metric_type == "soc" and not 0 <= value <= 100:
        return [f"{key}: state of charge {value} % is outside 0-100"]
    return []


def _balance_problems(powers: Mapping[str, Mapping[str, float]]) -> list[str]:
    problems = []
    for when, flows in powers.items():
        if set(flows) != _BALANCE_KEYS:
            continue
        residual = flows["solar_w"] + flows["grid_w"] - flows["battery_w"] - flows["load_w"]
        tolerance = max(BALANCE_FLOOR_W, BALANCE_SHARE * sum(abs(v) for v in flows.values()))
        if abs(residual) > tolerance:
            problems.append(
                f"at {when}: solar + grid - battery - load = {residual:.0f} W "
                "(battery_w must be + charging, grid_w + importing)"
            )
    return problems


def _time_problems(name: str, raw: object) -> list[str]:
    if not isinstance(raw, str) or not raw.endswith("Z") or parse_iso_utc(raw) is None:
        return [f"{name} {raw!r} is not ISO 8601 UTC ending in 'Z'"]
    return []


def _is_text(raw: object) -> TypeGuard[str]:
    return isinstance(raw, str) and bool(raw)


def _is_number(raw: object) -> TypeGuard[int | float]:
    return isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)


def _point_to_dict(point: Point) -> dict[str, object]:
    return {
        "type": point.metric_type,
        "unit": point.metric_unit,
        "subsystem": point.subsystem,
        "stem": point.logical_path_stem,
        "name": point.default_name,
        "cumulative": point.cumulative,
    }


def _point_from_dict(key: str, raw: object) -> Point:
    if not isinstance(raw, Mapping):
        raise StoredDataError(f"stored point {key} must be an object")
    return Point(
        key=key,
        metric_type=_text(raw.get("type"), "type"),
        metric_unit=_text(raw.get("unit"), "unit"),
        subsystem=_optional_text(raw.get("subsystem")),
        logical_path_stem=_optional_text(raw.get("stem")),
        default_name=_optional_text(raw.get("name")),
        cumulative=raw.get("cumulative") is True,
    )


def _reading_from_list(raw: object, custom: Mapping[str, Point]) -> Reading:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 3:
        raise StoredDataError("a stored reading must be [key, value, time]")
    key, value, when = raw
    point = (custom.get(key) or POINTS.get(key)) if isinstance(key, str) else None
    if point is None:
        raise StoredDataError(f"stored reading of unknown point {key!r}")
    if not (_is_number(value) or isinstance(value, str)):
        raise StoredDataError(f"stored value of {key} is not storable")
    stored: Value = value
    return Reading(point, stored, _time(when, "reading time"))


def _text(raw: object, name: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise StoredDataError(f"stored {name} must be a non-empty string")
    return raw


def _optional_text(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


def _time(raw: object, name: str) -> datetime:
    moment = parse_iso_utc(raw)
    if moment is None:
        raise StoredDataError(f"stored {name} is not an ISO 8601 time")
    return moment
