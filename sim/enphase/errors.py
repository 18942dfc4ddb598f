"""The error bodies the API answers with, shaped as the specification documents them."""

from typing import Any

_MESSAGES = {
    400: "Bad Request",
    401: "Not Authorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """Raised by a handler to answer with a documented error body."""

    def __init__(self, status: int, details: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(details)
        self.status = status
        self.body = body if body is not None else error_body(status, details)


def error_body(status: int, details: str) -> dict[str, Any]:
    """`{"message","details","code"}`, the shape shared by the API's errors."""
    return {"message": _MESSAGES.get(status, "Error"), "details": details, "code": status}


def not_found(system_id: int | str) -> ApiError:
    """Build the 404 for a system the account cannot see."""
    return ApiError(404, f'System not found for {{:id=>"{system_id}"}}')


def unprocessable(details: str) -> ApiError:
    """Build a 422 for parameters the API refuses."""
    return ApiError(422, details)
