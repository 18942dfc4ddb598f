"""Property: whatever JSON arrives, `from_dict` gives a model or raises Malformed, nothing else."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.enphase import (
    BatteryLifetime,
    BatteryTelemetry,
    ConsumptionLifetime,
    Devices,
    EnergyLifetime,
    EnphaseMalformedResponseError,
    ExportLifetime,
    ExportTelemetry,
    ImportLifetime,
    ImportTelemetry,
    LatestTelemetry,
    MeterTelemetry,
    MicroTelemetry,
    Summary,
    System,
    SystemsPage,
)

from .spec import example

# Model, and the swagger example it is documented with.
MODELS: list[tuple[Any, str]] = [
    (SystemsPage, "systems"),
    (System, "systems/{system_id}"),
    (Summary, "systems/{system_id}/summary"),
    (Devices, "systems/{system_id}/devices"),
    (LatestTelemetry, "systems/{system_id}/latest_telemetry"),
    (MicroTelemetry, "systems/{system_id}/telemetry/production_micro"),
    (MeterTelemetry, "systems/{system_id}/telemetry/production_meter"),
    (MeterTelemetry, "systems/{system_id}/telemetry/consumption_meter"),
    (BatteryTelemetry, "systems/{system_id}/telemetry/battery"),
    (ImportTelemetry, "systems/{system_id}/energy_import_telemetry"),
    (ExportTelemetry, "systems/{system_id}/energy_export_telemetry"),
    (EnergyLifetime, "systems/{system_id}/energy_lifetime"),
    (ConsumptionLifetime, "systems/{system_id}/consumption_lifetime"),
    (BatteryLifetime, "systems/{system_id}/battery_lifetime"),
    (ImportLifetime, "systems/{system_id}/energy_import_lifetime"),
    (ExportLifetime, "systems/{system_id}/energy_export_lifetime"),
]

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "true", "97%", "2024-02-29", "US/Eastern", "-1", "nan%"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def _mutate(value: Any, data: st.DataObject) -> Any:
    """Replace some values anywhere in a documented payload with arbitrary JSON."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(JSON)
    if isinstance(value, dict):
        return {key: _mutate(item, data) for key, item in value.items()}
    if isinstance(value, list):
        return [_mutate(item, data) for item in value]
    return value


def _parse_or_malformed(model: Any, payload: Any) -> None:
    try:
        parsed = model.from_dict(payload)
    except EnphaseMalformedResponseError:
        return
    assert isinstance(parsed, model)


@pytest.mark.parametrize(("model", "_path"), MODELS)
@settings(max_examples=40)
@given(payload=JSON)
def test_arbitrary_json_gives_a_model_or_malformed(model: Any, _path: str, payload: Any) -> None:
    _parse_or_malformed(model, payload)


@pytest.mark.parametrize(("model", "path"), MODELS)
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(data=st.data())
def test_mutated_spec_examples_give_a_model_or_malformed(
    model: Any, path: str, data: st.DataObject
) -> None:
    _parse_or_malformed(model, _mutate(example(path), data))


@pytest.mark.parametrize(("model", "path"), MODELS)
def test_every_spec_example_parses(model: Any, path: str) -> None:
    assert isinstance(model.from_dict(example(path)), model)
