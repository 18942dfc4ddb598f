"""The OAuth 2 authorization server: applications, authorization codes, access and refresh tokens.

Behaves like Enphase's Spring-based server: HTTP Basic client authentication only, single-use
codes, JWT-shaped access tokens that expire after a day, refresh tokens that rotate on every use
and expire after 30 days. With `token_prefixes` it issues opaque tokens that start with the given
marks instead (`<access prefix><serial>-<random>`), so a test can look for any trace of them.
"""

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sim.clock import Clock
from sim.enphase.config import Plan
from sim.enphase.faults import Faults
from sim.enphase.limits import RateLimiter


@dataclass(slots=True)
class Application:
    """A registered developer application (one plan, one key, one client)."""

    name: str
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str = field(repr=False)
    limiter: RateLimiter

    @property
    def plan(self) -> Plan:
        """The application's API plan."""
        return self.limiter.plan


class OAuthError(Exception):
    """A token-endpoint refusal: `{"error","error_description"}` with an HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


def bad_credentials() -> OAuthError:
    """Build the 401 for a missing or wrong client authentication."""
    return OAuthError(401, "unauthorized", "Bad credentials")


def invalid_grant(description: str) -> OAuthError:
    """Build the 400 for an unusable code or refresh token."""
    return OAuthError(400, "invalid_grant", description)


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """Split a Basic header into client id and secret; (None, None) when it is not one."""
    if not authorization or not authorization.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:], validate=True).decode()
    except ValueError:
        return None, None
    client_id, separator, secret = decoded.partition(":")
    return (client_id, secret) if separator else (None, None)


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass(slots=True)
class _Token:
    client_id: str
    expires_at: datetime
    generation: int
    live: bool = True


class OAuthServer:
    """Issues and checks credentials; time comes from the injected clock."""

    def __init__(
        self,
        clock: Clock,
        faults: Faults,
        user_id: str,
        *,
        seed: int = 0,
        code_ttl: timedelta = timedelta(minutes=5),
        access_ttl: timedelta = timedelta(days=1),
        refresh_ttl: timedelta = timedelta(days=30),
        token_prefixes: tuple[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.token_prefixes = token_prefixes
        self.issued: list[str] = []
        """Every access and refresh token issued, oldest first."""
        self.faults = faults
        self.user_id = user_id
        self.code_ttl = code_ttl
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.applications: dict[str, Application] = {}
        self._rng = random.Random(seed)
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}

    def register(self, application: Application) -> None:
        """Add an application that may obtain tokens."""
        self.applications[application.client_id] = application

    def application_by_key(self, api_key: str) -> Application | None:
        """Find the application an API key belongs to."""
        return next((a for a in self.applications.values() if a.api_key == api_key), None)

    def authenticate_client(self, authorization: str | None) -> Application:
        """Check an `Authorization: Basic` header; nothing else authenticates a client."""
        client_id, secret = _basic_credentials(authorization)
        application = self.applications.get(client_id or "")
        if application is None or application.client_secret != secret:
            raise bad_credentials()
        return application

    @staticmethod
    def basic_client_id(authorization: str | None) -> str | None:
        """Return the client id an `Authorization: Basic` header names, if it is one."""
        return _basic_credentials(authorization)[0]

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """Issue a fresh single-use authorization code (the user approved)."""
        code = self._random_text(6)
        self._codes[code] = _Code(client_id, redirect_uri, self.clock() + self.code_ttl)
        return code

    def exchange_code(
        self, application: Application, code: str, redirect_uri: str | None
    ) -> dict[str, Any]:
        """Run the authorization_code grant."""
        grant = self._codes.get(code)
        if grant is None or grant.used or grant.client_id != application.client_id:
            raise invalid_grant("Invalid authorization code")
        grant.used = True
        if self.clock() >= grant.expires_at:
            raise invalid_grant("Authorization code expired")
        if redirect_uri != grant.redirect_uri:
            raise invalid_grant("Redirect URI mismatch.")
        return self.issue_tokens(application)

    def refresh(self, application: Application, refresh_token: str) -> dict[str, Any]:
        """Run the refresh_token grant: the old refresh token dies, a new one is issued."""
        token = self._refresh.get(refresh_token)
        if (
            token is None
            or token.client_id != application.client_id
            or not self._valid(refresh_token, token)
        ):
            raise invalid_grant("Invalid refresh token")
        token.live = False
        return self.issue_tokens(application)

    def issue_tokens(self, application: Application) -> dict[str, Any]:
        """Issue tokens and return the response the token endpoint gives."""
        now = self.clock()
        jti = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        access_exp = now + self.access_ttl
        claims = {
            "app_type": "partner",
            "user_name": f"user{self.user_id}@example.invalid",
            "enl_cid": "",
            "enl_password_last_changed": "1700000000",
            "authorities": ["ROLE_USER"],
            "client_id": application.client_id,
            "aud": ["oauth2-resource"],
            "is_internal_app": False,
            "scope": ["read", "write"],
            "exp": int(access_exp.timestamp()),
            "enl_uid": self.user_id,
            "jti": jti,
        }
        if self.token_prefixes is None:
            access = self._jwt(claims)
            refresh = self._jwt(
                {**claims, "ati": jti, "exp": int((now + self.refresh_ttl).timestamp())}
            )
        else:
            serial = len(self.issued) // 2
            access, refresh = (
                f"{prefix}{serial:04d}-{self._rng.randbytes(12).hex()}"
                for prefix in self.token_prefixes
            )
        self.issued += [access, refresh]
        generation = self.faults.token_generation
        self._access[access] = _Token(application.client_id, access_exp, generation)
        self._refresh[refresh] = _Token(application.client_id, now + self.refresh_ttl, generation)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": int(self.access_ttl.total_seconds()) - 1,
            "scope": "read write",
            "enl_uid": self.user_id,
            "enl_cid": "",
            "enl_password_last_changed": "1700000000",
            "is_internal_app": False,
            "app_type": "partner",
            "jti": jti,
        }

    def check_access_token(self, access_token: str) -> Application | None:
        """Return the application a live access token was issued to, or None."""
        token = self._access.get(access_token)
        if token is None or not self._valid(access_token, token):
            return None
        return self.applications.get(token.client_id)

    def _valid(self, text: str, token: _Token) -> bool:
        return (
            token.live
            and self.clock() < token.expires_at
            and token.generation == self.faults.token_generation
            and text not in self.faults.revoked_tokens
        )

    def _random_text(self, size: int) -> str:
        return base64.urlsafe_b64encode(self._rng.randbytes(size)).decode().rstrip("=")

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT"}
        parts = [
            base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode())
            .decode()
            .rstrip("=")
            for part in (header, claims)
        ]
        return ".".join([*parts, self._random_text(32)])
