"""EnphaseClient: one typed async method per Enphase Monitoring API v4 endpoint we use."""

from collections.abc import Callable
from datetime import date, datetime

import aiohttp

from .const import DEFAULT_BASE_URL, SYSTEMS_PAGE_SIZE, Endpoint, Granularity
from .guard import RequestGuard
from .models import (
    BatteryLifetime,
    BatteryTelemetry,
    ConsumptionLifetime,
    Devices,
    EnergyLifetime,
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
from .transport import Clock, QueryParams, TokenProvider, Transport, utc_now


def _telemetry_params(start_at: datetime | None, granularity: Granularity | None) -> QueryParams:
    params: dict[str, str | int] = {}
    if start_at is not None:
        if start_at.utcoffset() is None:
            raise ValueError("start_at must be timezone-aware")
        params["start_at"] = int(start_at.timestamp())
    if granularity is not None:
        params["granularity"] = Granularity(granularity).value
    return params


def _lifetime_params(start_date: date | None, end_date: date | None) -> QueryParams:
    params: dict[str, str | int] = {}
    if start_date is not None:
        params["start_date"] = start_date.isoformat()
    if end_date is not None:
        params["end_date"] = end_date.isoformat()
    return params


class EnphaseClient:
    """Async client for the Enphase Monitoring API v4.

    `token_provider` returns a valid OAuth access token for each request (HA's OAuth2 session
    refreshes it); the API key travels in the `key` header, never in the URL. Every method
    raises only `EnphaseError` subclasses. A `guard` sees every request (see `RequestGuard`).
    `clock` stamps `RequestRecord.started_at`.
    """

    __slots__ = ("_transport",)

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_provider: TokenProvider,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        guard: RequestGuard | None = None,
        timeout: float = 30.0,
        clock: Clock = utc_now,
    ) -> None:
        self._transport = Transport(
            session,
            token_provider,
            api_key,
            base_url=base_url,
            guard=guard,
            timeout=timeout,
            clock=clock,
        )

    async def systems(self) -> tuple[System, ...]:
        """Every system the user granted access to, following all pages (one call per page).

        Paging stops when `total` systems were collected, or when a page adds nothing new, so a
        server that ignores `page` cannot make it loop.
        """
        found: dict[int, System] = {}
        page_number = 1
        while True:
            page = await self._transport.get(
                Endpoint.SYSTEMS,
                SystemsPage.from_dict,
                params={"page": page_number, "size": SYSTEMS_PAGE_SIZE},
            )
            before = len(found)
            found.update((system.system_id, system) for system in page.systems)
            complete = page.total is None or len(found) >= page.total
            if complete or len(found) == before:
                return tuple(found.values())
            page_number += 1

    async def system(self, system_id: int) -> System:
        """One system's details."""
        return await self._transport.get(Endpoint.SYSTEM, System.from_dict, system_id=system_id)

    async def summary(self, system_id: int) -> Summary:
        """Today's summary: current power, energy today and lifetime, battery capacity."""
        return await self._transport.get(Endpoint.SUMMARY, Summary.from_dict, system_id=system_id)

    async def devices(self, system_id: int) -> Devices:
        """List the site's active devices, for the device registry."""
        return await self._transport.get(Endpoint.DEVICES, Devices.from_dict, system_id=system_id)

    async def latest_telemetry(self, system_id: int) -> LatestTelemetry:
        """Last reported power per device (production, consumption, battery)."""
        return await self._transport.get(
            Endpoint.LATEST_TELEMETRY, LatestTelemetry.from_dict, system_id=system_id
        )

    async def _telemetry[T](
        self,
        endpoint: Endpoint,
        parse: Callable[[object], T],
        system_id: int,
        start_at: datetime | None,
        granularity: Granularity | None,
    ) -> T:
        return await self._transport.get(
            endpoint,
            parse,
            system_id=system_id,
            params=_telemetry_params(start_at, granularity),
        )

    async def production_micro(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> MicroTelemetry:
        """5-minute microinverter intervals from `start_at` (default: local midnight)."""
        return await self._telemetry(
            Endpoint.PRODUCTION_MICRO, MicroTelemetry.from_dict, system_id, start_at, granularity
        )

    async def production_meter(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> MeterTelemetry:
        """15-minute production meter intervals."""
        return await self._telemetry(
            Endpoint.PRODUCTION_METER, MeterTelemetry.from_dict, system_id, start_at, granularity
        )

    async def consumption_meter(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> MeterTelemetry:
        """15-minute consumption meter intervals."""
        return await self._telemetry(
            Endpoint.CONSUMPTION_METER, MeterTelemetry.from_dict, system_id, start_at, granularity
        )

    async def battery_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> BatteryTelemetry:
        """15-minute battery intervals plus the last aggregate state of charge."""
        return await self._telemetry(
            Endpoint.BATTERY_TELEMETRY, BatteryTelemetry.from_dict, system_id, start_at, granularity
        )

    async def energy_import_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> ImportTelemetry:
        """15-minute intervals of energy imported from the grid."""
        return await self._telemetry(
            Endpoint.ENERGY_IMPORT_TELEMETRY,
            ImportTelemetry.from_dict,
            system_id,
            start_at,
            granularity,
        )

    async def energy_export_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity | None = None,
    ) -> ExportTelemetry:
        """15-minute intervals of energy exported to the grid."""
        return await self._telemetry(
            Endpoint.ENERGY_EXPORT_TELEMETRY,
            ExportTelemetry.from_dict,
            system_id,
            start_at,
            granularity,
        )

    async def _lifetime[T](
        self,
        endpoint: Endpoint,
        parse: Callable[[object], T],
        system_id: int,
        start_date: date | None,
        end_date: date | None,
    ) -> T:
        return await self._transport.get(
            endpoint, parse, system_id=system_id, params=_lifetime_params(start_date, end_date)
        )

    async def energy_lifetime(
        self, system_id: int, *, start_date: date | None = None, end_date: date | None = None
    ) -> EnergyLifetime:
        """Daily production (Wh) over the given dates (default: the whole lifetime)."""
        return await self._lifetime(
            Endpoint.ENERGY_LIFETIME, EnergyLifetime.from_dict, system_id, start_date, end_date
        )

    async def consumption_lifetime(
        self, system_id: int, *, start_date: date | None = None, end_date: date | None = None
    ) -> ConsumptionLifetime:
        """Daily consumption (Wh)."""
        return await self._lifetime(
            Endpoint.CONSUMPTION_LIFETIME,
            ConsumptionLifetime.from_dict,
            system_id,
            start_date,
            end_date,
        )

    async def battery_lifetime(
        self, system_id: int, *, start_date: date | None = None, end_date: date | None = None
    ) -> BatteryLifetime:
        """Daily battery charge and discharge (Wh)."""
        return await self._lifetime(
            Endpoint.BATTERY_LIFETIME, BatteryLifetime.from_dict, system_id, start_date, end_date
        )

    async def energy_import_lifetime(
        self, system_id: int, *, start_date: date | None = None, end_date: date | None = None
    ) -> ImportLifetime:
        """Daily grid import (Wh)."""
        return await self._lifetime(
            Endpoint.ENERGY_IMPORT_LIFETIME,
            ImportLifetime.from_dict,
            system_id,
            start_date,
            end_date,
        )

    async def energy_export_lifetime(
        self, system_id: int, *, start_date: date | None = None, end_date: date | None = None
    ) -> ExportLifetime:
        """Daily grid export (Wh)."""
        return await self._lifetime(
            Endpoint.ENERGY_EXPORT_LIFETIME,
            ExportLifetime.from_dict,
            system_id,
            start_date,
            end_date,
        )
