"""Serve the simulators over loopback HTTP, in-process (tests) or from `python -m sim serve`."""

from types import TracebackType
from typing import Protocol, Self

from aiohttp import web

from sim.enphase import EnphaseCloud


class Installable(Protocol):
    """Anything that can add its routes to an aiohttp application (e.g. the LiveOne receiver)."""

    def install(self, app: web.Application) -> None:
        """Add routes (and middlewares) to `app`."""


class SimServer:
    """Runs the Enphase cloud and, optionally, a LiveOne receiver, each on its own port.

    Port 0 picks a free port; the chosen URLs are `enphase_url` and `liveone_url`.
    """

    def __init__(
        self,
        enphase: EnphaseCloud | None = None,
        liveone: Installable | None = None,
        *,
        host: str = "127.0.0.1",
        enphase_port: int = 0,
        liveone_port: int = 0,
    ) -> None:
        self.enphase = enphase
        self.liveone = liveone
        self.host = host
        self._ports = (enphase_port, liveone_port)
        self._runners: list[web.AppRunner] = []
        self._urls: dict[str, str] = {}

    @property
    def enphase_url(self) -> str:
        """Base URL of the Enphase cloud (no trailing slash)."""
        return self._urls["enphase"]

    @property
    def liveone_url(self) -> str:
        """Base URL of the LiveOne receiver (no trailing slash)."""
        return self._urls["liveone"]

    async def start(self) -> None:
        """Bind and start serving."""
        parts = (
            ("enphase", self.enphase, self._ports[0]),
            ("liveone", self.liveone, self._ports[1]),
        )
        for name, service, port in parts:
            if service is not None:
                self._urls[name] = await self._serve(service, port)

    async def stop(self) -> None:
        """Stop serving (each service releases its held requests on shutdown)."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def _serve(self, service: Installable, port: int) -> str:
        app = web.Application()
        service.install(app)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[-1][:2]
        return f"http://{bound_host}:{bound_port}"

    async def __aenter__(self) -> Self:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()
