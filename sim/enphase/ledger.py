"""The record of every request the simulated cloud received, for tests and benchmarks."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request: when, to which endpoint template, by which application, and the answer.

    `status` is None when no answer was sent (the client gave up on a hanging request).
    """

    time: datetime
    method: str
    endpoint: str
    client_id: str | None
    status: int | None
    system_id: int | None = None


@dataclass(frozen=True, slots=True)
class TokenRequestRecord:
    """What one POST /oauth/token carried: the Basic client id and the NAMES of its parameters.

    Names only, so tests can prove where the client secret travelled without storing it.
    """

    time: datetime
    grant_type: str | None
    basic_client_id: str | None
    query_fields: tuple[str, ...]
    body_fields: tuple[str, ...]
