"""The manifest and hacs.json are what HACS and hassfest read first."""

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_custom_components

from custom_components.liveone_enphase.const import DOMAIN

ROOT = Path(__file__).parents[2]


def test_manifest_keys_in_hassfest_order() -> None:
    manifest = json.loads(
        (ROOT / "custom_components" / DOMAIN / "manifest.json").read_text(encoding="utf-8")
    )
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == DOMAIN
    assert manifest["iot_class"] == "cloud_polling"


async def test_home_assistant_finds_the_integration(hass: HomeAssistant) -> None:
    integrations = await async_get_custom_components(hass)
    assert DOMAIN in integrations
    assert integrations[DOMAIN].version is not None
