"""Async client for LiveOne's generic receiver, `POST {base_url}/api/gush` (aiohttp only).

Every failure becomes one of the errors in `errors.py`, chosen by what the sender must do next.
Redirects are not followed: aiohttp would turn a redirected POST into a GET, whose answer (the
contract's description) could pass for an acknowledgement, so a redirect is an invalid URL.
"""

import ipaddress
import json
import math
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from .batch import Batch, store_request
from .errors import (
    LiveOneAuthError,
    LiveOneBatchRejectedError,
    LiveOneInvalidUrlError,
    LiveOneTransientError,
    LiveOneUnknownSiteError,
)

GUSH_PATH: Final = "/api/gush"
DEFAULT_TIMEOUT: Final = 15.0
_REASON_LIMIT: Final = 200
_TRANSIENT_4XX: Final = frozenset({408, 425, 429})
_BATCH_REJECTED: Final = frozenset({400, 413, 422})
_AUTH: Final = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class StoreResult:
    """LiveOne's acknowledgement of one batch (`points_stored` as it reported it, if it did)."""

    session_label: str
    readings_sent: int
    points_stored: int | None


def gush_url(base_url: str) -> str:
    """Return the receiver URL for a LiveOne base URL (a pasted `.../api/gush` is accepted too).

    Raises `LiveOneInvalidUrlError` for anything but a plain http(s) URL with a host; user
    info is refused so no credential can end up in a message or a repr.
    """
    try:
        parts = urlsplit(base_url.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise LiveOneInvalidUrlError("the LiveOne URL cannot be read") from None
    host = parts.hostname or ""
    if (
        parts.scheme not in {"http", "https"}
        or not host
        or not all(char.isalnum() or char in ".-_:" for char in host)
        or not port_ok
        or not _plausible_ipv4(host)
    ):
        raise LiveOneInvalidUrlError("the LiveOne URL must be an http(s) address with a host")
    if parts.username is not None or parts.query or parts.fragment:
        raise LiveOneInvalidUrlError("the LiveOne URL must not carry user info, query or fragment")
    path = parts.path.rstrip("/")
    if not path.endswith(GUSH_PATH):
        path += GUSH_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class LiveOneClient:
    """Pushes batches to one LiveOne site; shares the caller's aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        site_id: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Check the settings up front, so an options form can report them field by field."""
        self._url = gush_url(base_url)
        if not site_id.strip():
            raise LiveOneUnknownSiteError("the LiveOne site id is empty")
        if not api_key.strip():
            raise LiveOneAuthError("the LiveOne API key is empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._session = session
        self._site_id = site_id.strip()
        self._api_key = api_key.strip()
        self._timeout_s = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:
        """Name the endpoint and site, never the key."""
        return f"LiveOneClient(url={self._url!r}, site_id={self._site_id!r})"

    @property
    def url(self) -> str:
        """The receiver URL requests go to."""
        return self._url

    @property
    def site_id(self) -> str:
        """The vendor site id every request is sent as."""
        return self._site_id

    async def test(self) -> None:
        """Check the URL, site id and key with LiveOne's `test` action (stores nothing)."""
        await self._post({"vendorSiteId": self._site_id, "apiKey": self._api_key, "action": "test"})

    async def store(self, batch: Batch) -> StoreResult:
        """Send one batch as this client's site; return once LiveOne has stored it durably.

        The configured site id wins over `batch.site_id`, so a backlog queued under a mistyped
        site id reaches the corrected one after the user fixes the options.
        """
        body = store_request(batch, site_id=self._site_id, api_key=self._api_key)
        answer = await self._post(body)
        stored = answer.get("pointsStored")
        return StoreResult(
            session_label=batch.session_label,
            readings_sent=len(batch.readings),
            points_stored=stored
            if isinstance(stored, int) and not isinstance(stored, bool)
            else None,
        )

    async def _post(self, body: dict[str, object]) -> dict[str, object]:
        try:
            async with self._session.post(
                self._url,
                json=body,
                timeout=self._timeout,
                allow_redirects=False,
                raise_for_status=False,
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError as err:
            raise LiveOneTransientError(
                f"LiveOne did not answer within {self._timeout_s:g} s"
            ) from err
        except aiohttp.InvalidURL as err:
            raise LiveOneInvalidUrlError("the LiveOne URL is not valid") from err
        except aiohttp.ClientError as err:
            raise LiveOneTransientError(f"cannot reach LiveOne ({type(err).__name__})") from err
        return self._interpret(status, text, retry_after)

    def _interpret(self, status: int, text: str, retry_after: float | None) -> dict[str, object]:
        """Map a status to an answer or to the error that says what the sender must do."""
        data = _json_object(text)
        if 200 <= status < 300:
            if data is not None and data.get("success") is True:
                return data
            raise LiveOneTransientError(
                f"LiveOne answered HTTP {status} without success", status=status
            )
        reason = self._reason(data)
        if 300 <= status < 400:
            raise LiveOneInvalidUrlError(
                f"the LiveOne URL redirects (HTTP {status}); enter the final address",
                status=status,
            )
        if status in _TRANSIENT_4XX or status >= 500:
            raise LiveOneTransientError(
                f"LiveOne is unavailable (HTTP {status}{reason})",
                status=status,
                retry_after=retry_after,
            )
        if data is None:
            raise LiveOneInvalidUrlError(
                f"HTTP {status} from something that is not a LiveOne receiver", status=status
            )
        if status in _BATCH_REJECTED:
            raise LiveOneBatchRejectedError(
                f"LiveOne rejected the batch (HTTP {status}{reason})", status=status
            )
        if status in _AUTH:
            raise LiveOneAuthError(
                f"LiveOne refused the API key (HTTP {status}{reason})", status=status
            )
        if status == 404:
            raise LiveOneUnknownSiteError(
                f"LiveOne does not know site {self._site_id!r} (HTTP 404{reason})", status=status
            )
        raise LiveOneInvalidUrlError(
            f"unexpected HTTP {status} from LiveOne{reason}", status=status
        )

    def _reason(self, data: dict[str, object] | None) -> str:
        """Return LiveOne's short error text as ': text', scrubbed of the key and shortened."""
        if data is None:
            return ""
        text = data.get("error") or data.get("message")
        if not isinstance(text, str) or not text.strip():
            return ""
        clean = " ".join(text.replace(self._api_key, "***").split())
        return f": {clean[:_REASON_LIMIT]}"


def _plausible_ipv4(host: str) -> bool:
    """Refuse a numeric host that is not a dotted-quad IPv4 address, such as `1.2.3.4.5`.

    Newer aiohttp refuses such a URL and older aiohttp sends it to DNS, so checking here keeps
    the answer the same on every aiohttp release Home Assistant ships.
    """
    if not all(char.isdigit() or char == "." for char in host):
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _json_object(text: str) -> dict[str, object] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _retry_after(header: str | None) -> float | None:
    """Read a Retry-After in seconds; an HTTP date or garbage counts as absent."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
