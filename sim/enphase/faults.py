"""Switches that make the simulated cloud misbehave the way the real one sometimes does."""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sim.clock import Clock
from sim.enphase.publishing import Outage

ERROR_CODE_7_BODY: dict[str, Any] = {
    "errorCode": 7,
    "errorMessages": ["Data is temporarily unavailable"],
}


class FaultKind(StrEnum):
    """How a matching request is answered."""

    ERROR = "error"
    HANG = "hang"
    MALFORMED_JSON = "malformed_json"
    HTML_ERROR = "html_error"
    NULLS = "nulls"
    FORBIDDEN = "forbidden"
    CUSTOM = "custom"


@dataclass(slots=True)
class FaultRule:
    """One switch: which endpoint it hits, for how many requests or until when, and how."""

    kind: FaultKind
    endpoint: str | None
    remaining: int | None
    start: datetime | None
    until: datetime | None
    status: int = 500
    body: dict[str, Any] | None = None
    keep: frozenset[str] = frozenset()
    system_id: int | None = None

    def applies(self, endpoint: str, now: datetime, system_id: int | None = None) -> bool:
        """Whether this rule catches a request to `endpoint` (of `system_id`) at `now`."""
        if self.endpoint is not None and self.endpoint != endpoint:
            return False
        if self.system_id is not None and self.system_id != system_id:
            return False
        if self.start is not None and now < self.start:
            return False
        return self.until is None or now < self.until


@dataclass
class Faults:
    """The mutable fault switchboard of one simulated cloud.

    `endpoint` is a path template such as "systems/{system_id}/summary" or "oauth/token"; None
    means every API endpoint and the token endpoint. `system_id` (where offered) limits a rule
    to one system's requests. `count` limits a rule to that many requests; `start`/`until` limit
    it to a window of simulated time. Rules are checked in the order set.
    `hanging` counts the requests a hang rule is holding right now.
    """

    clock: Clock
    rules: list[FaultRule] = field(default_factory=list)
    outages: dict[int, list[Outage]] = field(default_factory=dict)
    removed_systems: set[int] = field(default_factory=set)
    revoked_tokens: set[str] = field(default_factory=set)
    token_generation: int = 0
    hanging: int = field(default=0, init=False)
    _release: asyncio.Event | None = field(default=None, init=False, repr=False)

    def server_error(
        self,
        *,
        status: int = 500,
        endpoint: str | None = None,
        count: int | None = None,
        start: datetime | None = None,
        until: datetime | None = None,
        error_code_7: bool = False,
        system_id: int | None = None,
    ) -> FaultRule:
        """Answer with a 5xx (the documented body, or the `errorCode: 7` one)."""
        body = ERROR_CODE_7_BODY if error_code_7 else None
        rule = self._add(FaultKind.ERROR, endpoint, count, start, until, status=status, body=body)
        rule.system_id = system_id
        return rule

    def hang(
        self,
        *,
        endpoint: str | None = None,
        count: int | None = None,
        start: datetime | None = None,
        until: datetime | None = None,
    ) -> FaultRule:
        """Never answer: hold the request until the client gives up or the switch is cleared."""
        return self._add(FaultKind.HANG, endpoint, count, start, until)

    def malformed_json(self, *, endpoint: str | None = None, count: int | None = None) -> FaultRule:
        """Answer 200 with a JSON content type and a truncated body."""
        return self._add(FaultKind.MALFORMED_JSON, endpoint, count, None, None, status=200)

    def html_error(
        self, *, status: int = 502, endpoint: str | None = None, count: int | None = None
    ) -> FaultRule:
        """Answer with a proxy's HTML error page instead of JSON."""
        return self._add(FaultKind.HTML_ERROR, endpoint, count, None, None, status=status)

    def nulls(
        self,
        *,
        endpoint: str | None = None,
        count: int | None = None,
        keep: Iterable[str] = (),
    ) -> FaultRule:
        """Answer the normal payload with every value null, except under the keys in `keep`."""
        rule = self._add(FaultKind.NULLS, endpoint, count, None, None, status=200)
        rule.keep = frozenset(keep)
        return rule

    def forbid(self, endpoint: str, *, count: int | None = None) -> FaultRule:
        """Answer 403, as for an endpoint outside the plan or a system without access."""
        return self._add(FaultKind.FORBIDDEN, endpoint, count, None, None, status=403)

    def respond(
        self,
        body: dict[str, Any],
        *,
        status: int = 200,
        endpoint: str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        """Answer with this JSON body and status (e.g. a token response lacking a field)."""
        return self._add(FaultKind.CUSTOM, endpoint, count, None, None, status=status, body=body)

    def revoke_token(self, token: str) -> None:
        """Revoke one access or refresh token (the account holder removed the app's access)."""
        self.revoked_tokens.add(token)

    def revoke_all_tokens(self) -> None:
        """Revoke every token issued so far."""
        self.token_generation += 1

    def take_offline(
        self, system_id: int, *, start: datetime | None = None, until: datetime | None = None
    ) -> None:
        """Stop a system's gateway reporting from `start` (default now) to `until` (or for good).

        The first report after `until` brings the backlog.
        """
        begin = int((start or self.clock()).timestamp())
        end = int(until.timestamp()) if until is not None else 2**62
        self.outages.setdefault(system_id, []).append(Outage(begin, end))

    def remove_system(self, system_id: int) -> None:
        """Remove a system from the account: it vanishes from lists and answers 404."""
        self.removed_systems.add(system_id)

    def clear(self) -> None:
        """Turn every switch off and release every hanging request."""
        self.rules.clear()
        self.outages.clear()
        self.removed_systems.clear()
        self.release_hangs()

    def match(self, endpoint: str, now: datetime, system_id: int | None = None) -> FaultRule | None:
        """Find the rule that catches this request, counting it against the rule's budget."""
        for rule in self.rules:
            if rule.applies(endpoint, now, system_id):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    async def wait_released(self) -> None:
        """Block (cancellably) until `release_hangs` or `clear` is called."""
        if self._release is None:
            self._release = asyncio.Event()
        self.hanging += 1
        try:
            await self._release.wait()
        finally:
            self.hanging -= 1

    def release_hangs(self) -> None:
        """Let every request held by a hang rule finish."""
        if self._release is not None:
            self._release.set()
            self._release = None

    def _add(
        self,
        kind: FaultKind,
        endpoint: str | None,
        count: int | None,
        start: datetime | None,
        until: datetime | None,
        *,
        status: int = 500,
        body: dict[str, Any] | None = None,
    ) -> FaultRule:
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        rule = FaultRule(kind, endpoint, count, start, until, status, body)
        self.rules.append(rule)
        return rule
