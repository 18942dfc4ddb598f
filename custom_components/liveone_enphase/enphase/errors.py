"""The one error hierarchy of the Enphase client.

Callers catch `EnphaseError` and branch on the subclass; nothing from aiohttp, asyncio or json
escapes the client. Messages name the endpoint template, the HTTP status and Enphase's own
`message`/`details`, and never a token, API key or client secret.
"""

from datetime import datetime


class EnphaseError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class EnphaseAuthError(EnphaseError):
    """401, or the token provider could not produce a token: the user must act.

    `key_mismatch`: the API key belongs to another application than the OAuth client
    ("API Key -Client mismatch"). `key_missing_or_invalid`: Enphase rejected the API key itself.
    Either way (`key_rejected`) the user must enter another key; otherwise, log in again.
    `refresh_failed`: the token provider failed with 400/401/403 (refresh token dead or revoked).
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        key_mismatch: bool = False,
        key_missing_or_invalid: bool = False,
        refresh_failed: bool = False,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.key_mismatch = key_mismatch
        self.key_missing_or_invalid = key_missing_or_invalid
        self.refresh_failed = refresh_failed

    @property
    def key_rejected(self) -> bool:
        """Whether it is the API key Enphase refused, not the login."""
        return self.key_mismatch or self.key_missing_or_invalid


class EnphaseForbiddenError(EnphaseError):
    """403: the endpoint is outside the application's plan, or the user has no access."""


class EnphaseNotFoundError(EnphaseError):
    """404: unknown system (or endpoint)."""


class EnphaseRateLimitError(EnphaseError):
    """429: a plan limit was hit.

    `period` is "minute" or "month" (None when the body did not say), `period_end` is when the
    limit resets (when to try again), `limit` the number of requests allowed in the period.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        period: str | None = None,
        period_end: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.period = period
        self.period_end = period_end
        self.limit = limit


class EnphaseInvalidRequestError(EnphaseError):
    """400/422 (and other 4xx): the request itself was wrong, retrying it unchanged is pointless."""


class EnphaseTransientError(EnphaseError):
    """5xx, timeout, connection failure, or a token provider failure that may heal by itself."""


class EnphaseMalformedResponseError(EnphaseError):
    """The response was not JSON, or not shaped as the API documents."""


class EnphaseRequestRefused(EnphaseError):  # noqa: N818 - the name is part of the contract
    """A `RequestGuard` refused the request before anything was sent.

    `retry_at` is when the guard expects to allow it again, if it knows.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.retry_at = retry_at
