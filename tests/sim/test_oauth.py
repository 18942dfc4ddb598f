"""The simulated OAuth server, driven over loopback HTTP as a browser and a client would."""

import base64
import json
from datetime import timedelta
from typing import Any

import aiohttp
from yarl import URL

from sim.clock import ManualClock
from sim.enphase import EnphaseCloud, SiteConfig
from sim.server import SimServer
from tests.sim.conftest import basic

REDIRECT = "https://example.invalid/auth/external/callback"


async def approve(http: aiohttp.ClientSession, server: SimServer, cloud: EnphaseCloud) -> str:
    form = {
        "response_type": "code",
        "client_id": cloud.client_id,
        "redirect_uri": REDIRECT,
        "state": "s-1",
        "user_oauth_approval": "true",
    }
    async with http.post(
        f"{server.enphase_url}/oauth/authorize", data=form, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = URL(response.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["state"] == "s-1"
    return location.query["code"]


async def token_call(
    http: aiohttp.ClientSession,
    server: SimServer,
    cloud: EnphaseCloud,
    *,
    query: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    auth: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = basic(cloud.client_id, cloud.client_secret) if auth is None else auth
    async with http.post(
        f"{server.enphase_url}/oauth/token", params=query, data=form, headers=headers
    ) as response:
        return response.status, await response.json()


def code_grant(code: str, redirect: str = REDIRECT) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}


async def test_authorize_page_offers_approve_and_deny(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    url = enphase_cloud.authorize_url(sim_server.enphase_url, REDIRECT, "abc")
    async with http.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert 'action="/oauth/authorize"' in page
    assert 'name="user_oauth_approval" value="true"' in page
    assert 'name="user_oauth_approval" value="false"' in page
    assert f'value="{enphase_cloud.client_id}"' in page
    assert 'name="state" value="abc"' in page


async def test_authorize_rejects_unknown_client_and_missing_redirect(
    sim_server: SimServer, http: aiohttp.ClientSession
) -> None:
    base = f"{sim_server.enphase_url}/oauth/authorize"
    query = {"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT}
    async with http.get(base, params=query) as response:
        assert response.status == 400
        assert "invalid_client" in await response.text()
    query = {"response_type": "code", "client_id": "sim-client-id-0000-not-real"}
    async with http.get(base, params=query) as response:
        assert response.status == 400
        assert "redirect_uri" in await response.text()


async def test_authorize_wrong_response_type_redirects_with_error(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    query = {
        "response_type": "token",
        "client_id": enphase_cloud.client_id,
        "redirect_uri": REDIRECT,
        "state": "z",
    }
    async with http.get(
        f"{sim_server.enphase_url}/oauth/authorize", params=query, allow_redirects=False
    ) as response:
        location = URL(response.headers["Location"])
    assert location.query["error"] == "unsupported_response_type"
    assert location.query["state"] == "z"


async def test_deny_redirects_with_access_denied(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    form = {
        "response_type": "code",
        "client_id": enphase_cloud.client_id,
        "redirect_uri": REDIRECT,
        "state": "s-2",
        "user_oauth_approval": "false",
    }
    async with http.post(
        f"{sim_server.enphase_url}/oauth/authorize", data=form, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = URL(response.headers["Location"])
    assert location.query["error"] == "access_denied"
    assert location.query["state"] == "s-2"
    assert "code" not in location.query


async def test_code_exchange_with_query_params(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    status, body = await token_call(http, sim_server, enphase_cloud, query=code_grant(code))
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86_399
    assert body["scope"] == "read write"
    assert body["enl_uid"] == enphase_cloud.user_id
    expected = {"enl_cid", "enl_password_last_changed", "is_internal_app", "app_type", "jti"}
    assert expected <= body.keys()
    assert body["access_token"] != body["refresh_token"]
    claims = body["access_token"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["jti"] == body["jti"]
    record = enphase_cloud.token_requests[-1]
    assert record.grant_type == "authorization_code"
    assert record.basic_client_id == enphase_cloud.client_id
    assert set(record.query_fields) == {"grant_type", "code", "redirect_uri"}
    assert record.body_fields == ()


async def test_code_exchange_with_form_body(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    status, body = await token_call(http, sim_server, enphase_cloud, form=code_grant(code))
    assert status == 200
    assert body["refresh_token"]
    assert set(enphase_cloud.token_requests[-1].body_fields) == {
        "grant_type",
        "code",
        "redirect_uri",
    }


async def test_codes_are_single_use(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    assert (await token_call(http, sim_server, enphase_cloud, query=code_grant(code)))[0] == 200
    status, body = await token_call(http, sim_server, enphase_cloud, query=code_grant(code))
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert body["error_description"]


async def test_codes_expire(
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
    http: aiohttp.ClientSession,
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    sim_clock.advance(timedelta(minutes=6))
    status, body = await token_call(http, sim_server, enphase_cloud, query=code_grant(code))
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_redirect_uri_must_match(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    grant = code_grant(code, redirect="https://elsewhere.invalid/cb")
    status, body = await token_call(http, sim_server, enphase_cloud, query=grant)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_code_of_another_client_is_refused(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    other = enphase_cloud.add_application("Other")
    code = await approve(http, sim_server, enphase_cloud)
    auth = basic(other.client_id, other.client_secret)
    status, body = await token_call(
        http, sim_server, enphase_cloud, query=code_grant(code), auth=auth
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_basic_authentication_is_required(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    code = await approve(http, sim_server, enphase_cloud)
    in_body = {
        **code_grant(code),
        "client_id": enphase_cloud.client_id,
        "client_secret": enphase_cloud.client_secret,
    }
    bad = {"error": "unauthorized", "error_description": "Bad credentials"}
    assert await token_call(http, sim_server, enphase_cloud, form=in_body, auth={}) == (401, bad)
    assert await token_call(http, sim_server, enphase_cloud, query=in_body, auth={}) == (401, bad)
    wrong = basic(enphase_cloud.client_id, "not-the-secret")
    assert await token_call(
        http, sim_server, enphase_cloud, query=code_grant(code), auth=wrong
    ) == (401, bad)
    garbled = {"Authorization": "Basic !!!"}
    assert await token_call(
        http, sim_server, enphase_cloud, query=code_grant(code), auth=garbled
    ) == (401, bad)
    assert enphase_cloud.token_requests[0].basic_client_id is None
    assert "client_secret" in enphase_cloud.token_requests[0].body_fields
    # the code was never consumed by the refused attempts
    assert (await token_call(http, sim_server, enphase_cloud, query=code_grant(code)))[0] == 200


async def test_refresh_rotates_and_kills_the_old_token(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    first = enphase_cloud.issue_tokens()
    grant = {"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}
    status, second = await token_call(http, sim_server, enphase_cloud, query=grant)
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["enl_uid"] == enphase_cloud.user_id
    status, body = await token_call(http, sim_server, enphase_cloud, form=grant)
    assert (status, body["error"]) == (400, "invalid_grant")
    newer = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    assert (await token_call(http, sim_server, enphase_cloud, form=newer))[0] == 200


async def test_refresh_tokens_expire_after_30_days(
    sim_server: SimServer,
    enphase_cloud: EnphaseCloud,
    sim_clock: ManualClock,
    http: aiohttp.ClientSession,
) -> None:
    tokens = enphase_cloud.issue_tokens()
    grant = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    sim_clock.advance(timedelta(days=30, seconds=1))
    status, body = await token_call(http, sim_server, enphase_cloud, query=grant)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_revoked_refresh_token_is_invalid_grant(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    tokens = enphase_cloud.issue_tokens()
    enphase_cloud.faults.revoke_token(str(tokens["refresh_token"]))
    grant = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
    status, body = await token_call(http, sim_server, enphase_cloud, query=grant)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_grant_parameter_errors(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    cases = [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nonsense"}, "invalid_grant"),
    ]
    for query, error in cases:
        status, body = await token_call(http, sim_server, enphase_cloud, query=query)
        assert (status, body["error"]) == (400, error)


async def test_approve_helper_and_ledger(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> None:
    location = URL(enphase_cloud.approve_url(REDIRECT, "st"))
    assert location.query["state"] == "st"
    query = code_grant(location.query["code"])
    assert (await token_call(http, sim_server, enphase_cloud, query=query))[0] == 200
    endpoints = [(r.endpoint, r.client_id, r.status) for r in enphase_cloud.requests]
    assert endpoints == [("oauth/token", enphase_cloud.client_id, 200)]


async def test_my_home_assistant_redirect_goes_to_local_instance(
    sim_clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    cloud = EnphaseCloud(clock=sim_clock, my_redirect="http://127.0.0.1:8123")
    my_url = "https://my.home-assistant.io/redirect/oauth"
    found: dict[str, str] = {}
    async with SimServer(enphase=cloud) as server:
        for decision, key in (("true", "code"), ("false", "error")):
            form = {
                "response_type": "code",
                "client_id": cloud.client_id,
                "redirect_uri": my_url,
                "state": "st",
                "user_oauth_approval": decision,
            }
            async with http.post(
                f"{server.enphase_url}/oauth/authorize", data=form, allow_redirects=False
            ) as response:
                location = URL(response.headers["Location"])
            assert str(location.with_query(None)) == "http://127.0.0.1:8123/auth/external/callback"
            assert location.query["state"] == "st"
            found[key] = location.query[key]
        # the code stays bound to the redirect_uri the client used
        status, _ = await token_call(http, server, cloud, query=code_grant(found["code"], my_url))
    assert status == 200


async def test_distinctive_tokens_carry_their_marks_rotate_and_are_listed(
    sim_clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    cloud = EnphaseCloud(
        clock=sim_clock,
        sites=[SiteConfig.demo_solar_only()],
        token_prefixes=("ACCESS-MARK-", "REFRESH-MARK-"),
    )
    async with SimServer(enphase=cloud, host="127.0.0.1") as server:
        code = await approve(http, server, cloud)
        status, first = await token_call(http, server, cloud, form=code_grant(code))
        assert status == 200
        assert first["access_token"].startswith("ACCESS-MARK-0000-")
        assert first["refresh_token"].startswith("REFRESH-MARK-0000-")
        refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        status, second = await token_call(http, server, cloud, form=refresh)
        assert status == 200
        assert second["refresh_token"].startswith("REFRESH-MARK-0001-")
        status, _ = await token_call(http, server, cloud, form=refresh)
        assert status == 400  # the rotated refresh token is dead, as with JWTs
        headers = {"Authorization": f"Bearer {second['access_token']}", "key": cloud.api_key}
        async with http.get(f"{server.enphase_url}/api/v4/systems", headers=headers) as answer:
            assert answer.status == 200
    assert cloud.oauth.issued == [
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
    ]
