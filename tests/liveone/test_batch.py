"""Batches: labels, the outbox's stored form, splitting, and the request validator."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.liveone_enphase.liveone import (
    Batch,
    PowerSample,
    make_batches,
    power_readings,
    session_label,
    store_request,
    validate_batch,
    validate_request,
)
from custom_components.liveone_enphase.liveone.points import SOLAR_W, Point, Reading
from custom_components.liveone_enphase.stored import StoredDataError

from .helpers import sample_readings

AT = datetime(2026, 6, 1, 2, 30, tzinfo=UTC)
CUSTOM = Point("inverter_temp_c", "temperature", "C", "solar", "solar.inverter", "Inverter")
RENAMED_SOLAR = Point("solar_w", "power", "W", "solar", "solar.roof", "Roof solar")


def test_create_labels_by_creation_and_defaults_to_the_newest_reading() -> None:
    older = SOLAR_W.reading(100, AT - timedelta(minutes=15))
    newer = SOLAR_W.reading(200, AT)
    batch = Batch.create("site", [newer, older], created_at=AT + timedelta(seconds=5))

    assert batch.session_label == "liveone_enphase/1780281005000"
    assert batch.session_label == session_label(batch.created_at)
    assert batch.measurement_time == AT
    assert batch.readings == (newer, older)


def test_a_batch_needs_readings_and_aware_times() -> None:
    with pytest.raises(ValueError, match="at least one reading"):
        Batch.create("site", [], created_at=AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        Batch("site", "liveone_enphase/1", AT.replace(tzinfo=None), AT, (SOLAR_W.reading(1, AT),))
    with pytest.raises(ValueError, match="same point"):
        Batch.create("site", [SOLAR_W.reading(1, AT), RENAMED_SOLAR.reading(2, AT)], created_at=AT)


def test_wire_form_is_the_contract_body() -> None:
    batch = Batch.create("site", sample_readings(AT, 1), created_at=AT)
    body = store_request(batch, site_id="other-site", api_key="k")

    assert body["vendorSiteId"] == "other-site"
    assert (body["apiKey"], body["action"], body["sessionLabel"]) == (
        "k",
        "store",
        batch.session_label,
    )
    assert body["measurementTime"] == "2026-06-01T02:30:00Z"
    assert body["readings"] == [reading.to_wire() for reading in batch.readings]
    assert validate_batch(batch) == []


def test_stored_form_round_trips_through_json_compactly() -> None:
    readings = [
        *(r for r in sample_readings(AT, 3) if r.point.key != "solar_w"),
        CUSTOM.reading("hot", AT),
        RENAMED_SOLAR.reading(7, AT),
    ]
    batch = Batch.create("site", readings, created_at=AT)
    data = json.loads(json.dumps(batch.to_dict()))

    assert Batch.from_dict(data) == batch
    assert set(data["points"]) == {"inverter_temp_c", "solar_w"}
    plain = Batch.create("site", sample_readings(AT, 3), created_at=AT)
    assert "points" not in plain.to_dict()
    per_reading = len(json.dumps(plain.to_dict())) / len(plain.readings)
    assert per_reading < 70


def _good() -> dict[str, Any]:
    batch = Batch.create("site", [SOLAR_W.reading(1.5, AT)], created_at=AT)
    data: dict[str, Any] = json.loads(json.dumps(batch.to_dict()))
    return data


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: "not a dict",
        lambda data: data | {"points": []},
        lambda data: data | {"points": {"x": "no"}},
        lambda data: data | {"readings": []},
        lambda data: data | {"readings": "x"},
        lambda data: data | {"readings": [["solar_w", 1]]},
        lambda data: data | {"readings": ["abc"]},
        lambda data: data | {"readings": [["unknown_w", 1, "2026-06-01T00:00:00Z"]]},
        lambda data: data | {"readings": [[7, 1, "2026-06-01T00:00:00Z"]]},
        lambda data: data | {"readings": [["solar_w", None, "2026-06-01T00:00:00Z"]]},
        lambda data: data | {"readings": [["solar_w", True, "2026-06-01T00:00:00Z"]]},
        lambda data: data | {"readings": [["solar_w", 1, "yesterday"]]},
        lambda data: data | {"site_id": ""},
        lambda data: data | {"created_at": None},
        lambda data: data | {"points": {"x": {"type": "t"}}},
    ],
)
def test_anything_but_a_stored_batch_is_refused(corrupt: Callable[[Any], Any]) -> None:
    with pytest.raises(StoredDataError):
        Batch.from_dict(corrupt(_good()))


def test_a_stored_custom_point_may_omit_optional_fields() -> None:
    data = _good() | {
        "points": {"x": {"type": "t", "unit": "u"}},
        "readings": [["x", "v", "2026-06-01T00:00:00Z"]],
    }
    point = Batch.from_dict(data).readings[0].point
    assert point == Point("x", "t", "u")


def test_make_batches_splits_oldest_first_with_unique_labels() -> None:
    readings = [SOLAR_W.reading(i, AT + timedelta(minutes=i)) for i in reversed(range(7))]
    batches = make_batches("site", readings, created_at=AT, max_readings=3)

    assert [len(batch.readings) for batch in batches] == [3, 3, 1]
    assert [r.value for batch in batches for r in batch.readings] == list(range(7))
    assert len({batch.session_label for batch in batches}) == 3
    assert [batch.created_at for batch in batches] == [
        AT,
        AT + timedelta(milliseconds=1),
        AT + timedelta(milliseconds=2),
    ]
    assert make_batches("site", [], created_at=AT) == []


def _body() -> dict[str, Any]:
    batch = Batch.create("site", sample_readings(AT, 2), created_at=AT)
    body: dict[str, Any] = json.loads(
        json.dumps(store_request(batch, site_id="site", api_key="key"))
    )
    return body


def _reading(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in body["readings"] if r["physicalPathTail"] == key)


def _set(key: str, field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        _reading(body, key)[field] = value

    return mutate


def _drop(key: str, field: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        del _reading(body, key)[field]

    return mutate


def _top(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        body[field] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_top("vendorSiteId", ""), "vendorSiteId must be a non-empty string"),
        (_top("apiKey", None), "apiKey must be a non-empty string"),
        (_top("action", "delete"), "neither 'test' nor 'store'"),
        (_top("sessionLabel", "batch-1"), "is not 'liveone_enphase/<epoch ms>'"),
        (_top("measurementTime", "2026-06-01T02:30:00+00:00"), "ending in 'Z'"),
        (_top("readings", []), "readings must be a non-empty array"),
        (lambda body: body["readings"].append("x"), "reading 11 is not an object"),
        (_drop("solar_w", "physicalPathTail"), "physicalPathTail must be a non-empty string"),
        (_drop("solar_w", "measurementTime"), "solar_w measurementTime None"),
        (_set("solar_w", "measurementTime", "2026-06-01T02:30:00"), "ending in 'Z'"),
        (_set("solar_w", "value", None), "neither a finite number nor text"),
        (_set("solar_w", "value", True), "neither a finite number nor text"),
        (_drop("load_w", "metricUnit"), "load_w needs metricType and metricUnit"),
        (_set("load_w", "metricUnit", "kW"), "does not fit metricType"),
        (_set("solar_kwh_total", "metricUnit", "Wh"), "expected energy in kWh"),
        (_drop("solar_kwh_total", "transform"), "only *_total keys are cumulative"),
        (_set("solar_w", "transform", "d"), "only *_total keys are cumulative"),
        (_set("solar_w", "transform", "x"), "transform must be 'd' or absent"),
        (_set("solar_w", "value", -5), "solar_w: power -5.0 W is negative"),
        (_set("load_kwh_total", "value", -1), "energy -1.0 is negative"),
        (_set("battery_soc", "value", 101), "outside 0-100"),
        (_set("battery_w", "value", -400.0), "solar + grid - battery - load"),
        (lambda body: body["readings"].append(body["readings"][0]), "appears twice"),
    ],
)
def test_the_validator_names_each_contract_breach(
    mutate: Callable[[dict[str, Any]], None], problem: str
) -> None:
    body = _body()
    assert validate_request(body) == []
    mutate(body)
    problems = validate_request(body)
    assert any(problem in found for found in problems), problems


def test_the_balance_check_can_be_turned_off_and_tolerates_noise() -> None:
    body = _body()
    _reading(body, "battery_w")["value"] += 40
    assert validate_request(body) == []
    _reading(body, "battery_w")["value"] = -_reading(body, "battery_w")["value"]
    assert validate_request(body) != []
    assert validate_request(body, check_balance=False) == []


def test_a_flipped_battery_sign_is_caught_in_a_built_batch() -> None:
    sample = PowerSample(measured_at=AT, solar_w=3000, load_w=1000, battery_w=-1500, grid_w=-500)
    good = Batch.create("site", power_readings(sample), created_at=AT)
    assert validate_batch(good) == []
    flipped = [
        Reading(r.point, -r.value, r.measured_at) if r.point.key == "battery_w" else r
        for r in good.readings
        if isinstance(r.value, float | int)
    ]
    assert validate_batch(Batch.create("site", flipped, created_at=AT)) != []


def test_test_bodies_and_non_objects() -> None:
    assert validate_request({"vendorSiteId": "s", "apiKey": "k", "action": "test"}) == []
    assert validate_request([]) == ["the body is not a JSON object"]
    assert validate_request({"action": "store"})[:2] == [
        "vendorSiteId must be a non-empty string",
        "apiKey must be a non-empty string",
    ]


def test_text_points_and_unknown_types_are_allowed() -> None:
    batch = Batch.create("site", [CUSTOM.reading("hot", AT)], created_at=AT)
    assert validate_batch(batch) == []
