"""What can go wrong when pushing to LiveOne, as one hierarchy keyed to what the sender must do.

- `LiveOneBatchRejectedError` (400, 413, 422): drop that batch and record why; never retry it.
- `LiveOneAuthError` (401, 403): pause until the user fixes the API key.
- `LiveOneUnknownSiteError` (404 with a JSON body): pause until the user fixes the site id.
- `LiveOneInvalidUrlError` (unusable base URL, a redirect, a 4xx that is not LiveOne's):
  pause until the user fixes the URL.
- `LiveOneTransientError` (408, 425, 429, 5xx, timeouts, network errors, a 2xx without
  success): keep the batch and retry with backoff.

No message carries the API key: messages are built from the status and the receiver's short
error text, which the client scrubs.
"""


class LiveOneError(Exception):
    """Base of every failure to push to LiveOne; `status` is the HTTP status, if one came back."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LiveOneBatchRejectedError(LiveOneError):
    """LiveOne refused this batch for good (400/413/422): resending the same bytes cannot help."""


class LiveOneAuthError(LiveOneError):
    """The API key is wrong or unset for the site (401/403): stop until the user fixes it."""


class LiveOneUnknownSiteError(LiveOneError):
    """LiveOne does not know the vendor site id (404): stop until the user fixes it."""


class LiveOneInvalidUrlError(LiveOneError):
    """The base URL does not lead to a LiveOne receiver (bad URL, redirect, foreign 4xx)."""


class LiveOneTransientError(LiveOneError):
    """A failure that time may cure (429, 5xx, timeout, network); `retry_after` in seconds."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
