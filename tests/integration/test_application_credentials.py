"""The authorization server, the Basic-auth token request, the dev-cloud switch and the strings."""

import base64
import json
import logging
import time

import pytest
from aiohttp import ClientResponseError, ClientTimeout
from homeassistant.components.application_credentials import ClientCredential
from homeassistant.core import HomeAssistant
from homeassistant.helpers.config_entry_oauth2_flow import LocalOAuth2Implementation

from custom_components.liveone_enphase.application_credentials import (
    EnphaseAuthImplementation,
    async_get_auth_implementation,
    async_get_description_placeholders,
    bind_to_cloud,
)
from custom_components.liveone_enphase.cloud import (
    DEV_CLOUD_ENV,
    ENPHASE_CLOUD,
    CloudEndpoints,
    cloud_for_entry,
    dev_cloud_url_from_env,
)
from custom_components.liveone_enphase.const import (
    CONF_DEV_CLOUD_URL,
    DOMAIN,
    TOKEN_REQUEST_OBSERVER,
)
from sim.enphase import EnphaseCloud
from sim.server import SimServer

from .conftest import STRINGS, strings


async def test_the_form_says_where_to_create_the_app_and_which_redirect_to_register(
    hass: HomeAssistant,
) -> None:
    placeholders = await async_get_description_placeholders(hass)
    assert placeholders == {
        "developer_portal_url": "https://developer-v4.enphase.com",
        "redirect_url": "https://my.home-assistant.io/redirect/oauth",
    }
    description = strings()["application_credentials"]["description"]
    for name in placeholders:
        assert f"{{{name}}}" in description


def test_strings_and_english_translation_are_identical() -> None:
    english = STRINGS.parent / "translations" / "en.json"
    assert json.loads(english.read_text(encoding="utf-8")) == strings()


async def test_the_implementation_talks_to_enphase_until_bound_to_another_cloud(
    hass: HomeAssistant,
) -> None:
    credential = ClientCredential("id", "secret", "My Enphase app")
    implementation = await async_get_auth_implementation(hass, DOMAIN, credential)
    assert implementation.name == "My Enphase app"
    assert implementation.domain == DOMAIN
    assert implementation.authorize_url == "https://api.enphaseenergy.com/oauth/authorize"
    assert implementation.token_url == "https://api.enphaseenergy.com/oauth/token"

    dev = bind_to_cloud(implementation, CloudEndpoints("http://127.0.0.1:9"))
    assert isinstance(dev, EnphaseAuthImplementation)
    assert dev.authorize_url == "http://127.0.0.1:9/oauth/authorize"
    assert dev.token_url == "http://127.0.0.1:9/oauth/token"
    assert (dev.name, dev.domain, dev.client_id) == ("My Enphase app", DOMAIN, "id")
    assert implementation.token_url == "https://api.enphaseenergy.com/oauth/token"


async def test_an_implementation_from_elsewhere_is_used_as_it_is(hass: HomeAssistant) -> None:
    foreign = LocalOAuth2Implementation(hass, "other", "id", "secret", "https://a", "https://t")
    assert bind_to_cloud(foreign, CloudEndpoints("http://127.0.0.1:9")) is foreign


async def test_refresh_sends_the_client_only_as_basic_and_logs_no_secret(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credential = ClientCredential(enphase_cloud.client_id, enphase_cloud.client_secret)
    implementation = (await async_get_auth_implementation(hass, DOMAIN, credential)).for_cloud(
        CloudEndpoints(sim_server.enphase_url)
    )
    token = dict(enphase_cloud.issue_tokens())

    with caplog.at_level(logging.DEBUG):
        refreshed = await implementation.async_refresh_token(token)
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["expires_at"] > time.time()
        # The old refresh token was retired by the rotation: using it again is refused.
        with pytest.raises(ClientResponseError) as refused:
            await implementation.async_refresh_token(token)

    assert refused.value.status == 400
    for record in enphase_cloud.token_requests:
        assert record.basic_client_id == enphase_cloud.client_id
        assert "client_secret" not in (*record.body_fields, *record.query_fields)
        assert "client_id" not in (*record.body_fields, *record.query_fields)
    basic = base64.b64encode(
        f"{enphase_cloud.client_id}:{enphase_cloud.client_secret}".encode()
    ).decode()
    for secret in (enphase_cloud.client_secret, basic, token["refresh_token"]):
        assert secret not in caplog.text
        assert secret not in str(refused.value)
        assert secret not in repr(refused.value)
        assert secret not in repr(refused.value.__cause__)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        (" https://127.3.2.1 ", "https://127.3.2.1"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_the_dev_cloud_accepts_only_loopback_urls(
    value: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert dev_cloud_url_from_env({DEV_CLOUD_ENV: value}) == expected
    assert f"this flow talks to {expected}, not to Enphase" in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        "http://localhost:8080",
        "http://192.168.1.10:8080",
        "https://api.enphaseenergy.com",
        "http://127.0.0.1.example.com",
        "http://127.0.0.1@example.com",
        "http://user:pw@127.0.0.1:8080",
        "ftp://127.0.0.1",
        "http://127.0.0.1:8080/api",
        "http://127.0.0.1:8080?x=1",
        "http://127.0.0.1:8080#x",
        "http://127.0.0.1:99999",
        "127.0.0.1:8080",
    ],
)
def test_any_other_dev_cloud_value_is_ignored_with_a_warning(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert dev_cloud_url_from_env({DEV_CLOUD_ENV: value}) is None
    assert f"Ignoring {DEV_CLOUD_ENV}" in caplog.text


def test_without_the_switch_everything_talks_to_enphase() -> None:
    assert dev_cloud_url_from_env({}) is None
    assert dev_cloud_url_from_env({DEV_CLOUD_ENV: ""}) is None
    assert cloud_for_entry({}) is ENPHASE_CLOUD
    assert ENPHASE_CLOUD.base_url == "https://api.enphaseenergy.com"
    dev = cloud_for_entry({CONF_DEV_CLOUD_URL: "http://127.0.0.1:9"})
    assert dev.token_url == "http://127.0.0.1:9/oauth/token"


async def test_every_token_request_is_reported_to_the_observer(
    hass: HomeAssistant,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, int | None]] = []
    hass.data[TOKEN_REQUEST_OBSERVER] = lambda client_id, status: seen.append((client_id, status))
    credential = ClientCredential(enphase_cloud.client_id, enphase_cloud.client_secret)
    implementation = (await async_get_auth_implementation(hass, DOMAIN, credential)).for_cloud(
        CloudEndpoints(sim_server.enphase_url)
    )
    token = dict(enphase_cloud.issue_tokens())

    fresh = await implementation.async_refresh_token(token)
    with pytest.raises(ClientResponseError):
        await implementation.async_refresh_token(token)  # retired by the rotation
    monkeypatch.setattr(
        "custom_components.liveone_enphase.application_credentials.TOKEN_REQUEST_TIMEOUT",
        ClientTimeout(total=0.05),
    )
    enphase_cloud.faults.hang(endpoint="oauth/token")
    with pytest.raises(TimeoutError):
        await implementation.async_refresh_token(fresh)

    client = enphase_cloud.client_id
    assert seen == [(client, 200), (client, 400), (client, None)]
