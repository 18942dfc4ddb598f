"""What HACS, hassfest and the Integration Quality Scale read: shape, order and completeness."""

import json
from pathlib import Path

import yaml
from awesomeversion import AwesomeVersion

from custom_components.liveone_enphase.const import DOMAIN

ROOT = Path(__file__).parents[2]
INTEGRATION = ROOT / "custom_components" / DOMAIN

QUALITY_RULES = {
    "bronze": (
        "action-setup appropriate-polling brands common-modules config-flow "
        "config-flow-test-coverage dependency-transparency docs-actions docs-conditions "
        "docs-high-level-description docs-installation-instructions docs-removal-instructions "
        "docs-triggers "
        "entity-event-setup entity-unique-id has-entity-name runtime-data test-before-configure "
        "test-before-setup unique-config-entry"
    ),
    "silver": (
        "action-exceptions config-entry-unloading docs-configuration-parameters "
        "docs-installation-parameters entity-unavailable integration-owner log-when-unavailable "
        "parallel-updates reauthentication-flow test-coverage"
    ),
    "gold": (
        "devices diagnostics discovery discovery-update-info docs-data-update docs-examples "
        "docs-known-limitations docs-supported-devices docs-supported-functions "
        "docs-troubleshooting docs-use-cases dynamic-devices entity-category entity-device-class "
        "entity-disabled-by-default entity-translations exception-translations icon-translations "
        "reconfiguration-flow repair-issues stale-devices"
    ),
    "platinum": "async-dependency inject-websession strict-typing",
}


def test_hacs_json_declares_name_minimum_version_and_readme() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"] == "LiveOne Enphase"
    assert hacs["render_readme"] is True
    assert AwesomeVersion(hacs["homeassistant"]).valid


def test_manifest_has_what_hacs_and_hassfest_require() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
    for key in ("codeowners", "config_flow", "documentation", "iot_class", "issue_tracker"):
        assert manifest[key], key
    assert "application_credentials" in manifest["dependencies"]
    assert AwesomeVersion(manifest["version"]).valid


def test_brand_images_are_there_at_the_right_size() -> None:
    header = (INTEGRATION / "brand" / "icon.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20]) == 256
    assert int.from_bytes(header[20:24]) == 256
    for name in ("icon@2x.png", "logo.png", "logo@2x.png"):
        assert (INTEGRATION / "brand" / name).stat().st_size > 0


def test_quality_scale_lists_every_rule_once_with_a_reason_for_each_exemption() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))[
        "rules"
    ]
    expected = {rule for tier in QUALITY_RULES.values() for rule in tier.split()}
    assert len(expected) == 54
    assert set(rules) == expected
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "todo", "exempt"}, rule
        if status == "exempt":
            assert value["comment"], rule


def test_translations_are_the_strings() -> None:
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    english = json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8"))
    assert strings == english
