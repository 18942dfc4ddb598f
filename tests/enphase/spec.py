"""The official swagger file's own examples, so parsing is tested against Enphase's words."""

import json
from functools import cache
from pathlib import Path
from typing import Any

SWAGGER = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "enphase-monitoring-api-v4.swagger.json"
)


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SWAGGER.read_text())  # type: ignore[no-any-return]


def example(path: str, status: str = "200") -> Any:
    """A fresh copy of the documented example response of GET /api/v4/<path>."""
    responses = _spec()["paths"][f"/api/v4/{path}"]["get"]["responses"]
    return json.loads(json.dumps(responses[status]["examples"]["application/json"]))
