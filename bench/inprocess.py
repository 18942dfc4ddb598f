"""An aiohttp-shaped session that hands each request straight to the simulator's web app.

A year of polling at six places is about half a million requests; over loopback TCP each costs
~3 ms (measured), in-process ~0.4 ms. The client under test is the real one and the simulator
runs its real routes and middleware; only the socket and the HTTP framing are skipped.
Requests are built with aiohttp's `make_mocked_request` (with light stand-ins instead of mock
objects, which would dominate the cost) and dispatched through the application's own handler.
"""

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from yarl import URL


class _Transport:
    """The little of an asyncio transport that a request reads."""

    def get_extra_info(self, key: str, default: object = None) -> object:
        return ("127.0.0.1", 80) if key in {"peername", "sockname"} else default

    def is_closing(self) -> bool:
        return False


class _Protocol:
    """The little of aiohttp's server protocol that a request reads."""

    max_field_size = 8190
    max_line_length = 8190
    max_headers = 128
    peername = ("127.0.0.1", 80)
    sockname = ("127.0.0.1", 80)
    ssl_context = None

    def __init__(self, transport: _Transport) -> None:
        self.transport = transport


class Answer:
    """What a response offers the client: a status and the body bytes."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def json(self) -> Any:
        return json.loads(self._body)


class _Exchange:
    """`async with session.get(...) as response:` support."""

    def __init__(
        self, session: InProcessSession, method: str, url: URL, headers: Mapping[str, str]
    ):
        self._session = session
        self._method = method
        self._url = url
        self._headers = headers

    async def __aenter__(self) -> Answer:
        return await self._session.send(self._method, self._url, self._headers)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


class InProcessSession:
    """Enough of `aiohttp.ClientSession` for the Enphase client and a token refresher."""

    def __init__(self, app: web.Application) -> None:
        app.freeze()
        self._app = app
        self._transport = _Transport()
        self._protocol = _Protocol(self._transport)
        self._writer = object()
        self.requests = 0

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        **_: object,
    ) -> _Exchange:
        return _Exchange(self, "GET", _with_query(url, params), headers or {})

    def post(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        **_: object,
    ) -> _Exchange:
        return _Exchange(self, "POST", _with_query(url, params), headers or {})

    async def send(self, method: str, url: URL, headers: Mapping[str, str]) -> Answer:
        self.requests += 1
        request = make_mocked_request(
            method,
            str(url.relative()),
            headers=CIMultiDict(headers),
            app=self._app,
            protocol=self._protocol,
            transport=self._transport,
            writer=self._writer,
        )
        try:
            # The application's own entry point (what its server would call), middleware included.
            response = await self._app._handle(request)
        except web.HTTPException as error:
            response = error
        body = response.body if isinstance(response, web.Response) else b""
        return Answer(response.status, body if isinstance(body, bytes) else b"")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


def _with_query(url: str, params: Mapping[str, str | int] | None) -> URL:
    parsed = URL(url)
    return parsed.update_query({k: str(v) for k, v in params.items()}) if params else parsed
