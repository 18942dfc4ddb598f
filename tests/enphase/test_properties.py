"""Property: whatever JSON arrives, `from_dict` gives a model or raises Malformed, nothing else.

Every model with a `from_dict` is fed arbitrary JSON, randomly damaged copies of the swagger
example it is documented with, and every copy of that example with one value made null or one
key dropped. The error-body reader of the transport is held to the same rule.
"""

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.enphase import (
    Address,
    ApplianceReading,
    BatteryInterval,
    BatteryLifetime,
    BatteryReading,
    BatteryTelemetry,
    ConsumptionLifetime,
    Device,
    Devices,
    EnergyLifetime,
    EnphaseError,
    EnphaseMalformedResponseError,
    ExportInterval,
    ExportLifetime,
    ExportTelemetry,
    ImportInterval,
    ImportLifetime,
    ImportTelemetry,
    LatestTelemetry,
    MeterChannelReading,
    MeterInterval,
    MeterTelemetry,
    MicroInterval,
    MicroTelemetry,
    Summary,
    System,
    SystemMeta,
    SystemsPage,
    models,
)
from custom_components.liveone_enphase.enphase.transport import Transport, _ErrorBody

from ..json_values import JSON, damaged, mutate
from .spec import example

SYSTEM = "systems/{system_id}"


def _part(path: str, *steps: str | int) -> Callable[[], Any]:
    """A piece of a documented example (e.g. one interval), for the models of the pieces."""

    def pick() -> Any:
        value = example(path)
        for step in steps:
            value = value[step]
        return value

    return pick


def _whole(path: str) -> Callable[[], Any]:
    return lambda: example(path)


# Model, and the documented example (or the piece of one) it parses.
MODELS: list[tuple[Any, Callable[[], Any]]] = [
    (SystemsPage, _whole("systems")),
    (System, _whole(SYSTEM)),
    (Address, _part("systems", "systems", 0, "address")),
    (Summary, _whole(f"{SYSTEM}/summary")),
    (SystemMeta, _part(f"{SYSTEM}/telemetry/production_micro", "meta")),
    (Devices, _whole(f"{SYSTEM}/devices")),
    (Device, _part(f"{SYSTEM}/devices", "devices", "micros", 0)),
    (LatestTelemetry, _whole(f"{SYSTEM}/latest_telemetry")),
    (MeterChannelReading, _part(f"{SYSTEM}/latest_telemetry", "devices", "meters", 0)),
    (BatteryReading, _part(f"{SYSTEM}/latest_telemetry", "devices", "encharges", 0)),
    (ApplianceReading, _part(f"{SYSTEM}/latest_telemetry", "devices", "evse", 0)),
    (MicroTelemetry, _whole(f"{SYSTEM}/telemetry/production_micro")),
    (MicroInterval, _part(f"{SYSTEM}/telemetry/production_micro", "intervals", 0)),
    (MeterTelemetry, _whole(f"{SYSTEM}/telemetry/production_meter")),
    (MeterTelemetry, _whole(f"{SYSTEM}/telemetry/consumption_meter")),
    (MeterInterval, _part(f"{SYSTEM}/telemetry/production_meter", "intervals", 0)),
    (BatteryTelemetry, _whole(f"{SYSTEM}/telemetry/battery")),
    (BatteryInterval, _part(f"{SYSTEM}/telemetry/battery", "intervals", 0)),
    (ImportTelemetry, _whole(f"{SYSTEM}/energy_import_telemetry")),
    (ImportInterval, _part(f"{SYSTEM}/energy_import_telemetry", "intervals", 0, 0)),
    (ExportTelemetry, _whole(f"{SYSTEM}/energy_export_telemetry")),
    (ExportInterval, _part(f"{SYSTEM}/energy_export_telemetry", "intervals", 0, 0)),
    (EnergyLifetime, _whole(f"{SYSTEM}/energy_lifetime")),
    (ConsumptionLifetime, _whole(f"{SYSTEM}/consumption_lifetime")),
    (BatteryLifetime, _whole(f"{SYSTEM}/battery_lifetime")),
    (ImportLifetime, _whole(f"{SYSTEM}/energy_import_lifetime")),
    (ExportLifetime, _whole(f"{SYSTEM}/energy_export_lifetime")),
]
IDS = [model.__name__ for model, _ in MODELS]


def _parse_or_malformed(model: Any, payload: Any) -> None:
    try:
        parsed = model.from_dict(payload)
    except EnphaseMalformedResponseError:
        return
    assert isinstance(parsed, model)


def test_every_model_with_from_dict_is_covered() -> None:
    modules = (models.devices, models.intervals, models.latest, models.lifetime, models.systems)
    parsers = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if "from_dict" in vars(cls)
    }
    assert parsers == {model for model, _ in MODELS}


@pytest.mark.parametrize(("model", "_document"), MODELS, ids=IDS)
@settings(max_examples=40)
@given(payload=JSON)
def test_arbitrary_json_gives_a_model_or_malformed(
    model: Any, _document: Callable[[], Any], payload: Any
) -> None:
    _parse_or_malformed(model, payload)


@pytest.mark.parametrize(("model", "document"), MODELS, ids=IDS)
@settings(max_examples=40)
@given(data=st.data())
def test_damaged_spec_examples_give_a_model_or_malformed(
    model: Any, document: Callable[[], Any], data: st.DataObject
) -> None:
    _parse_or_malformed(model, mutate(document(), data))


@pytest.mark.parametrize(("model", "document"), MODELS, ids=IDS)
def test_a_null_or_a_missing_key_anywhere_gives_a_model_or_malformed(
    model: Any, document: Callable[[], Any]
) -> None:
    for where, payload in damaged(document()):
        try:
            _parse_or_malformed(model, payload)
        except Exception as err:
            pytest.fail(f"{where}: {err!r}")


@pytest.mark.parametrize(("model", "document"), MODELS, ids=IDS)
def test_every_spec_example_parses(model: Any, document: Callable[[], Any]) -> None:
    assert isinstance(model.from_dict(document()), model)


@settings(max_examples=200)
@given(body=JSON.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=40))
def test_any_error_body_is_read_without_raising(body: bytes) -> None:
    info = _ErrorBody.parse(body)
    assert isinstance(info.text, str)
    assert info.period is None or isinstance(info.period, str)


@pytest.mark.parametrize("status", [200, 204, 301, 400, 401, 403, 404, 422, 429, 500, 503, 600])
@settings(max_examples=25)
@given(body=JSON.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=40))
def test_any_answer_is_a_model_or_an_enphase_error(status: int, body: bytes) -> None:
    """What the transport makes of any status and body: the model, or one of our errors."""
    transport = _transport()
    try:
        parsed = transport._interpret("systems/{system_id}", status, body, System.from_dict, "t")
    except EnphaseError:
        return
    assert isinstance(parsed, System)


async def _no_token() -> str:
    raise AssertionError("interpreting an answer needs no token")


def _transport() -> Transport:
    """A transport that only interprets answers (it never sends, so it needs no session)."""
    return Transport(
        None,
        _no_token,
        "key",
        base_url="http://127.0.0.1",
        guard=None,
        timeout=1.0,
        clock=lambda: datetime.now(UTC),
    )
