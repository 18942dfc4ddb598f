"""One GET against the Enphase API: credentials, guard, timeout, and error mapping.

The order matters: the token is fetched first (a refused request then costs nothing at
Enphase, and a failed refresh never touches the guard), the guard is asked right before sending,
and it is told about every request that left, whatever happened to it, so a budget ledger
counts exactly what Enphase counts.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import aiohttp

from .const import API_PATH
from .errors import (
    EnphaseAuthError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseMalformedResponseError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseTransientError,
)
from .guard import RequestGuard, RequestOutcome, RequestRecord
from .readers import JsonObject

type TokenProvider = Callable[[], Awaitable[str]]
type Clock = Callable[[], datetime]
type QueryParams = Mapping[str, str | int]

# Token endpoint answers that mean the grant is dead: only a new login helps.
_REFRESH_REJECTED: Final = frozenset({400, 401, 403})
# Enough of Enphase's own wording to be useful in a log line, not a whole HTML page.
_MAX_TEXT: Final = 200
_REDACTED: Final = "***"

_OUTCOMES: Final[Mapping[type[EnphaseError], RequestOutcome]] = {
    EnphaseAuthError: RequestOutcome.AUTH,
    EnphaseForbiddenError: RequestOutcome.FORBIDDEN,
    EnphaseNotFoundError: RequestOutcome.NOT_FOUND,
    EnphaseRateLimitError: RequestOutcome.RATE_LIMITED,
    EnphaseInvalidRequestError: RequestOutcome.INVALID,
    EnphaseTransientError: RequestOutcome.TRANSIENT,
    EnphaseMalformedResponseError: RequestOutcome.MALFORMED,
}


def utc_now() -> datetime:
    """Tell the real time; tests inject a manual clock instead."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    """What an error response says, in any of the shapes Enphase uses."""

    text: str
    period: str | None = None
    period_end: datetime | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, body: bytes) -> _ErrorBody:
        """Read any of the error shapes Enphase uses; anything else yields an empty text.

        Shapes: {message, details, code, period...}, {reason, message: [...]} and
        {errorCode, errorMessages: [...]}.
        """
        try:
            obj = JsonObject(json.loads(body), "error")
        except ValueError, RecursionError, EnphaseMalformedResponseError:
            return cls(text="")
        parts = [_words(obj, key) for key in ("message", "details", "errorMessages")]
        text = ": ".join(part for part in parts if part)
        try:
            period, period_end, limit = (
                obj.opt_str("period"),
                obj.opt_time("period_end"),
                obj.opt_int("limit"),
            )
        except EnphaseMalformedResponseError:
            period, period_end, limit = None, None, None
        return cls(text=text, period=period, period_end=period_end, limit=limit)


def _words(obj: JsonObject, key: str) -> str:
    """Join a field that is a string or a list of strings ("" if it is neither)."""
    try:
        return obj.opt_str(key) or ""
    except EnphaseMalformedResponseError:
        pass
    try:
        return "; ".join(obj.strings(key))
    except EnphaseMalformedResponseError:
        return ""


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else f"{text[:_MAX_TEXT]}…"


class Transport:
    """Sends the GETs of `EnphaseClient`.

    It holds the credentials, so it keeps the default repr, which shows none of them.
    """

    __slots__ = ("_api_key", "_base_url", "_clock", "_guard", "_session", "_timeout", "_token")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_provider: TokenProvider,
        api_key: str,
        *,
        base_url: str,
        guard: RequestGuard | None,
        timeout: float,
        clock: Clock,
    ) -> None:
        self._session = session
        self._token = token_provider
        self._api_key = api_key
        self._base_url = base_url.rstrip("/") + API_PATH
        self._guard = guard
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock

    async def get[T](
        self,
        endpoint: str,
        parse: Callable[[object], T],
        *,
        system_id: int | None = None,
        params: QueryParams | None = None,
    ) -> T:
        """GET the endpoint template (filled with `system_id`) and parse the JSON it returns."""
        url = self._base_url + endpoint.format(system_id=system_id)
        token = await self._access_token(endpoint)
        if self._guard is not None:
            await self._guard.before_request(endpoint)
        started_at = self._clock()
        status: int | None = None
        outcome = RequestOutcome.TRANSIENT
        try:
            try:
                async with self._session.get(
                    url,
                    params=params,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "key": self._api_key,
                        "Accept": "application/json",
                    },
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as err:
                detail = self._redact(str(err), token) or f"after {self._timeout.total} s"
                raise EnphaseTransientError(
                    _clip(f"{endpoint}: {type(err).__name__}: {detail}"),
                    endpoint=endpoint,
                    status=status,
                ) from None
            result = self._interpret(endpoint, status, body, parse, token)
        except EnphaseError as err:
            outcome = _OUTCOMES[type(err)]
            raise
        else:
            outcome = RequestOutcome.OK
            return result
        finally:
            if self._guard is not None:
                self._guard.after_request(RequestRecord(endpoint, started_at, status, outcome))

    async def _access_token(self, endpoint: str) -> str:
        """Ask the provider for a token, mapping its failures into our hierarchy."""
        try:
            return await self._token()
        except EnphaseError:
            raise
        except aiohttp.ClientResponseError as err:
            if err.status in _REFRESH_REJECTED:
                raise EnphaseAuthError(
                    f"{endpoint}: the token refresh was rejected (HTTP {err.status})",
                    endpoint=endpoint,
                    refresh_failed=True,
                ) from None
            raise EnphaseTransientError(
                f"{endpoint}: the token refresh failed (HTTP {err.status})", endpoint=endpoint
            ) from None
        except Exception as err:
            # Whatever else a provider raises (a network error, HA's connection error) may heal
            # by itself; only the type name is kept, as a provider's message may hold secrets.
            raise EnphaseTransientError(
                f"{endpoint}: the token provider failed ({type(err).__name__})", endpoint=endpoint
            ) from None

    def _interpret[T](
        self, endpoint: str, status: int, body: bytes, parse: Callable[[object], T], token: str
    ) -> T:
        if not 200 <= status < 300:
            raise self._error(endpoint, status, body, token)
        try:
            payload = json.loads(body)
        except ValueError, RecursionError:
            snippet = self._redact(body[:60].decode("utf-8", "replace"), token)
            raise EnphaseMalformedResponseError(
                f"{endpoint}: HTTP {status} body is not JSON: {snippet!r}",
                endpoint=endpoint,
                status=status,
            ) from None
        try:
            return parse(payload)
        except EnphaseMalformedResponseError as err:
            raise EnphaseMalformedResponseError(
                f"{endpoint}: {err}", endpoint=endpoint, status=status
            ) from None

    def _error(self, endpoint: str, status: int, body: bytes, token: str) -> EnphaseError:
        info = _ErrorBody.parse(body)
        said = _clip(self._redact(info.text, token))
        message = f"{endpoint}: HTTP {status}" + (f" ({said})" if said else "")
        lowered = info.text.lower()
        match status:
            case 401:
                mismatch = "mismatch" in lowered
                return EnphaseAuthError(
                    message,
                    endpoint=endpoint,
                    status=status,
                    key_mismatch=mismatch,
                    key_missing_or_invalid="key" in lowered and not mismatch,
                )
            case 403:
                return EnphaseForbiddenError(message, endpoint=endpoint, status=status)
            case 404:
                return EnphaseNotFoundError(message, endpoint=endpoint, status=status)
            case 429:
                return EnphaseRateLimitError(
                    message,
                    endpoint=endpoint,
                    status=status,
                    period=info.period,
                    period_end=info.period_end,
                    limit=info.limit,
                )
            case _ if 400 <= status < 500:
                return EnphaseInvalidRequestError(message, endpoint=endpoint, status=status)
            case _ if status >= 500:
                return EnphaseTransientError(message, endpoint=endpoint, status=status)
        return EnphaseMalformedResponseError(
            f"{message}: not a status the API answers with", endpoint=endpoint, status=status
        )

    def _redact(self, text: str, token: str) -> str:
        """Blank out the credentials, should a server or library ever echo one."""
        for secret in (token, self._api_key):
            if secret:
                text = text.replace(secret, _REDACTED)
        return text
