"""Fixtures for the client tests: a real OAuth dance with the simulator, a recording guard.

Nothing here mocks HTTP: the client talks to `sim.server.SimServer` over loopback, and tokens
come from the simulator's own authorize and token endpoints.
"""

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import pytest
from yarl import URL

from custom_components.liveone_enphase.enphase import (
    EnphaseClient,
    EnphaseRequestRefused,
    RequestRecord,
)
from sim.clock import ManualClock
from sim.enphase import EnphaseCloud
from sim.server import SimServer

REDIRECT_URI = "https://my.home-assistant.io/redirect/oauth"


def _basic(client_id: str, client_secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


@dataclass
class SimOAuth:
    """A stand-in for Home Assistant's OAuth2 session: tokens from the simulator, refreshable."""

    http: aiohttp.ClientSession
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)

    async def token(self) -> str:
        """The token provider handed to the client."""
        return self.access_token

    async def refreshed_token(self) -> str:
        """A token provider that refreshes first, failing like HA's does (ClientResponseError)."""
        async with self.http.post(
            f"{self.base_url}/oauth/token",
            params={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
            headers=_basic(self.client_id, self.client_secret),
            raise_for_status=True,
        ) as response:
            body = await response.json()
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        return self.access_token


async def authorize(
    http: aiohttp.ClientSession, base_url: str, client_id: str, client_secret: str
) -> SimOAuth:
    """Approve access in the simulated consent page, then exchange the code for tokens."""
    form = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        "user_oauth_approval": "true",
    }
    async with http.post(
        f"{base_url}/oauth/authorize", data=form, allow_redirects=False
    ) as response:
        assert response.status == 302
        redirect = URL(response.headers["Location"])
    assert redirect.query["state"] == "xyz"
    async with http.post(
        f"{base_url}/oauth/token",
        params={
            "grant_type": "authorization_code",
            "code": redirect.query["code"],
            "redirect_uri": REDIRECT_URI,
        },
        headers=_basic(client_id, client_secret),
        raise_for_status=True,
    ) as response:
        body = await response.json()
    return SimOAuth(
        http, base_url, client_id, client_secret, body["access_token"], body["refresh_token"]
    )


class RecordingGuard:
    """A RequestGuard that remembers everything and refuses when told to."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.records: list[RequestRecord] = []
        self.refuse_until: datetime | None = None
        self.refusing = False
        self.consulted = asyncio.Event()

    async def before_request(self, endpoint: str) -> None:
        self.asked.append(endpoint)
        self.consulted.set()
        if self.refusing:
            raise EnphaseRequestRefused(
                f"{endpoint}: budget spent", endpoint=endpoint, retry_at=self.refuse_until
            )

    def after_request(self, record: RequestRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def http(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, as Home Assistant would share one."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def oauth(
    sim_server: SimServer, enphase_cloud: EnphaseCloud, http: aiohttp.ClientSession
) -> SimOAuth:
    """Tokens for the cloud's registered application, obtained through its OAuth endpoints."""
    return await authorize(
        http, sim_server.enphase_url, enphase_cloud.client_id, enphase_cloud.client_secret
    )


@pytest.fixture
def guard() -> RecordingGuard:
    """A guard that records every request."""
    return RecordingGuard()


@pytest.fixture
def client(
    *,
    http: aiohttp.ClientSession,
    oauth: SimOAuth,
    enphase_cloud: EnphaseCloud,
    sim_server: SimServer,
    guard: RecordingGuard,
    sim_clock: ManualClock,
) -> EnphaseClient:
    """The client under test, pointed at the simulator, stamping records with the sim clock."""
    return EnphaseClient(
        http,
        oauth.token,
        enphase_cloud.api_key,
        base_url=sim_server.enphase_url,
        guard=guard,
        clock=sim_clock,
    )
