"""The HTTP face of the simulated cloud: OAuth pages and endpoints, and the /api/v4 routes.

OAuth, as a browser or a test drives it:
- GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=… shows a consent page
  (the simulated user is signed in). Its form POSTs to /oauth/authorize with the same fields as
  hidden inputs plus `user_oauth_approval` = "true" (Approve) or "false" (Deny). The answer is a
  302 whose Location is redirect_uri with `code` and `state`, or `error=access_denied` and
  `state`. An unknown client_id or a missing redirect_uri gives an HTML error page (400).
  With `my_redirect` set (e.g. "http://127.0.0.1:8123"), a redirect_uri of My Home Assistant
  goes straight to `<my_redirect>/auth/external/callback` with the same query, as My does.
- POST /oauth/token with HTTP Basic client authentication (nothing else is accepted); grant
  parameters in the query string or a form body.

Every application request passes the same gate, in the real service's order: credentials, then
the plan (429 over a limit, 403 outside it), then the fault switches, then the handler. Token
requests pass it too, once the client is authenticated: they are requests by the application,
so they count against its per-minute and per-month limits (an assumption: Enphase documents no
exemption). Requests refused for credentials or limits are not counted.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from html import escape
from http import HTTPStatus
from typing import Any

from aiohttp import web
from yarl import URL

from sim.clock import Clock
from sim.enphase import payloads
from sim.enphase.errors import ApiError, error_body, not_found
from sim.enphase.faults import FaultKind, FaultRule, Faults
from sim.enphase.ledger import RequestRecord, TokenRequestRecord
from sim.enphase.oauth import Application, OAuthError, OAuthServer
from sim.enphase.params import page_params
from sim.enphase.system import SimSystem, SystemView

type Json = dict[str, Any]
type Outcome = tuple[int, Json]
type Builder = Callable[[SystemView, Mapping[str, str]], Json]

API_PREFIX = "/api/v4/"
TOKEN_ENDPOINT = "oauth/token"
AUTHORIZE_ENDPOINT = "oauth/authorize"
MY_HOME_ASSISTANT_REDIRECT = "https://my.home-assistant.io/redirect/oauth"

SYSTEM_ENDPOINTS: dict[str, Builder] = {
    "systems/{system_id}": lambda view, _: payloads.system_details(view),
    "systems/{system_id}/summary": payloads.summary,
    "systems/{system_id}/devices": lambda view, _: payloads.devices(view),
    "systems/{system_id}/latest_telemetry": lambda view, _: payloads.latest_telemetry(view),
    "systems/{system_id}/telemetry/production_micro": payloads.production_micro,
    "systems/{system_id}/telemetry/production_meter": payloads.production_meter,
    "systems/{system_id}/telemetry/consumption_meter": payloads.consumption_meter,
    "systems/{system_id}/telemetry/battery": payloads.battery,
    "systems/{system_id}/energy_import_telemetry": payloads.energy_import_telemetry,
    "systems/{system_id}/energy_export_telemetry": payloads.energy_export_telemetry,
    "systems/{system_id}/energy_lifetime": payloads.energy_lifetime,
    "systems/{system_id}/consumption_lifetime": payloads.consumption_lifetime,
    "systems/{system_id}/battery_lifetime": payloads.battery_lifetime,
    "systems/{system_id}/energy_import_lifetime": payloads.energy_import_lifetime,
    "systems/{system_id}/energy_export_lifetime": payloads.energy_export_lifetime,
}

_HTML_ERROR = (
    "<html><head><title>{status} {reason}</title></head><body>"
    "<center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
)


def nullify(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """Return the same structure with every leaf null, except the values under `keep` keys."""
    if isinstance(value, dict):
        return {k: v if k in keep else nullify(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [nullify(item, keep) for item in value]
    return None


class EnphaseRoutes:
    """Handlers bound to one simulated cloud's state."""

    def __init__(
        self,
        clock: Clock,
        *,
        oauth: OAuthServer,
        faults: Faults,
        systems: Mapping[int, SimSystem],
        ledger: list[RequestRecord],
        token_ledger: list[TokenRequestRecord],
        my_redirect: str | None = None,
    ) -> None:
        self.clock = clock
        self.oauth = oauth
        self.faults = faults
        self.systems = systems
        self.ledger = ledger
        self.token_ledger = token_ledger
        self.my_redirect = my_redirect

    def install(self, app: web.Application) -> None:
        """Add the OAuth and API routes (and JSON bodies for unknown API paths) to `app`."""
        app.middlewares.append(self._json_http_errors)
        app.on_shutdown.append(self._release_hangs)
        app.router.add_get("/oauth/authorize", self.authorize_page)
        app.router.add_post("/oauth/authorize", self.authorize_decision)
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get(API_PREFIX + "systems", self.systems_list)
        for template, builder in SYSTEM_ENDPOINTS.items():
            app.router.add_get(
                API_PREFIX + template, partial(self.system_endpoint, template, builder)
            )

    async def _release_hangs(self, _app: web.Application) -> None:
        """Let held requests finish so the server can stop promptly."""
        self.faults.release_hangs()

    # --- OAuth -----------------------------------------------------------------------------

    async def authorize_page(self, request: web.Request) -> web.StreamResponse:
        """Show the consent page (the simulated user is already signed in)."""
        return self._authorize(request, dict(request.query), decision=None)

    async def authorize_decision(self, request: web.Request) -> web.StreamResponse:
        """Handle the Approve / Deny form submission."""
        form = {key: str(value) for key, value in (await request.post()).items()}
        params = {**request.query, **form}
        return self._authorize(request, params, decision=params.get("user_oauth_approval"))

    def _authorize(
        self, request: web.Request, params: dict[str, str], decision: str | None
    ) -> web.StreamResponse:
        client_id = params.get("client_id", "")
        response = self._authorize_response(params, decision)
        self._record(request, AUTHORIZE_ENDPOINT, client_id or None, response.status)
        return response

    def _authorize_response(self, params: dict[str, str], decision: str | None) -> web.Response:
        application = self.oauth.applications.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if application is None:
            return _html_page(400, "OAuth Error", 'error="invalid_client", Bad client credentials')
        if not redirect_uri:
            return _html_page(400, "OAuth Error", 'error="invalid_request", redirect_uri missing')
        state = {"state": params["state"]} if "state" in params else {}
        target = self._browser_target(redirect_uri)
        if params.get("response_type") != "code":
            return _redirect(target, {"error": "unsupported_response_type", **state})
        if decision is None:
            return _consent_page(application, params)
        if decision == "true":
            code = self.oauth.issue_code(application.client_id, redirect_uri)
            return _redirect(target, {"code": code, **state})
        denied = {"error": "access_denied", "error_description": "User denied access"}
        return _redirect(target, {**denied, **state})

    def _browser_target(self, redirect_uri: str) -> URL:
        """Where the browser goes back to: My Home Assistant forwards to the local instance."""
        if self.my_redirect is not None and redirect_uri == MY_HOME_ASSISTANT_REDIRECT:
            return URL(self.my_redirect).with_path("/auth/external/callback")
        return URL(redirect_uri)

    async def token(self, request: web.Request) -> web.StreamResponse:
        """POST /oauth/token: Basic client authentication, parameters in query or form body."""
        query = dict(request.query)
        body = {k: str(v) for k, v in (await request.post()).items()}
        params = {**query, **body}
        authorization = request.headers.get("Authorization")
        self.token_ledger.append(
            TokenRequestRecord(
                self.clock(),
                params.get("grant_type"),
                self.oauth.basic_client_id(authorization),
                tuple(query),
                tuple(body),
            )
        )
        try:
            application = self.oauth.authenticate_client(authorization)
        except OAuthError as error:
            response = web.json_response(error.body, status=error.status)
            self._record(request, TOKEN_ENDPOINT, None, response.status)
            return response

        async def grant() -> Outcome:
            try:
                return 200, self._grant(application, params)
            except OAuthError as error:
                return error.status, error.body

        return await self._gate(request, TOKEN_ENDPOINT, application, grant)

    def _grant(self, application: Application, params: dict[str, str]) -> Json:
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            if "code" not in params:
                raise OAuthError(400, "invalid_request", "An authorization code must be supplied.")
            return self.oauth.exchange_code(application, params["code"], params.get("redirect_uri"))
        if grant_type == "refresh_token":
            if "refresh_token" not in params:
                raise OAuthError(400, "invalid_request", "A refresh token must be supplied.")
            return self.oauth.refresh(application, params["refresh_token"])
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")

    # --- API -------------------------------------------------------------------------------

    async def systems_list(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v4/systems, paginated."""

        async def build() -> Outcome:
            page, size, descending = page_params(request.query)
            now = self.clock()
            visible = sorted(
                (sid for sid in self.systems if sid not in self.faults.removed_systems),
                reverse=descending,
            )
            chosen = visible[(page - 1) * size : page * size]
            items = [payloads.system_details(self._view(sid, now)) for sid in chosen]
            body = {
                "total": len(visible),
                "current_page": page,
                "size": size,
                "count": len(items),
                "items": "systems",
                "systems": items,
            }
            return 200, body

        return await self._api(request, "systems", None, build)

    async def system_endpoint(
        self, template: str, builder: Builder, request: web.Request
    ) -> web.StreamResponse:
        """Any GET /api/v4/systems/{system_id}/…: find the system, then build its payload."""
        raw_id = request.match_info["system_id"]
        system_id = int(raw_id) if raw_id.isdigit() else None

        async def build() -> Outcome:
            if (
                system_id is None
                or system_id not in self.systems
                or system_id in self.faults.removed_systems
            ):
                raise not_found(raw_id)
            return 200, builder(self._view(system_id, self.clock()), request.query)

        return await self._api(request, template, system_id, build)

    def _view(self, system_id: int, now: Any) -> SystemView:
        return self.systems[system_id].view(now, self.faults.outages.get(system_id, []))

    async def _api(
        self,
        request: web.Request,
        endpoint: str,
        system_id: int | None,
        build: Callable[[], Awaitable[Outcome]],
    ) -> web.StreamResponse:
        try:
            application = self._authenticate(request)
        except ApiError as error:
            response = web.json_response(error.body, status=error.status)
            self._record(request, endpoint, None, response.status, system_id)
            return response

        async def guarded() -> Outcome:
            try:
                return await build()
            except ApiError as error:
                return error.status, error.body

        return await self._gate(request, endpoint, application, guarded, system_id)

    def _authenticate(self, request: web.Request) -> Application:
        key = request.headers.get("key") or request.query.get("key")
        if not key:
            raise ApiError(401, "API Key missing in url/headers!")
        application = self.oauth.application_by_key(key)
        if application is None:
            raise ApiError(401, "Invalid API key")
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        owner = self.oauth.check_access_token(token) if scheme.lower() == "bearer" else None
        if owner is None:
            raise ApiError(401, "User is not authorized")
        if owner is not application:
            raise ApiError(401, "API Key -Client mismatch")
        return application

    # --- the shared gate -------------------------------------------------------------------

    async def _gate(
        self,
        request: web.Request,
        endpoint: str,
        application: Application,
        produce: Callable[[], Awaitable[Outcome]],
        system_id: int | None = None,
    ) -> web.StreamResponse:
        status: int | None = None
        try:
            response = await self._admit(endpoint, application, produce, system_id)
            status = response.status
            return response
        finally:
            self._record(request, endpoint, application.client_id, status, system_id)

    async def _admit(
        self,
        endpoint: str,
        application: Application,
        produce: Callable[[], Awaitable[Outcome]],
        system_id: int | None,
    ) -> web.StreamResponse:
        now = self.clock()
        refused = application.limiter.admit(now)
        if refused is not None:
            return web.json_response(refused, status=429)
        if endpoint in application.plan.excluded_endpoints:
            return _error(403, "Not authorized to access this resource")
        rule = self.faults.match(endpoint, now, system_id)
        if rule is not None and rule.kind not in {FaultKind.NULLS, FaultKind.MALFORMED_JSON}:
            return await self._fault_response(rule)
        status, body = await produce()
        if rule is None or status != 200:
            return web.json_response(body, status=status)
        if rule.kind is FaultKind.NULLS:
            return web.json_response(nullify(body, rule.keep))
        text = json.dumps(body)
        return web.Response(text=text[: len(text) // 2], content_type="application/json")

    async def _fault_response(self, rule: FaultRule) -> web.StreamResponse:
        match rule.kind:
            case FaultKind.HANG:
                await self.faults.wait_released()
                return _error(504, "The upstream server did not answer in time")
            case FaultKind.HTML_ERROR:
                reason = HTTPStatus(rule.status).phrase
                page = _HTML_ERROR.format(status=rule.status, reason=reason)
                return web.Response(text=page, status=rule.status, content_type="text/html")
            case FaultKind.FORBIDDEN:
                return _error(403, "Not authorized to access this resource")
            case FaultKind.CUSTOM:
                return web.json_response(rule.body, status=rule.status)
            case _:
                body = rule.body or error_body(rule.status, "unable to fetch data")
                return web.json_response(body, status=rule.status)

    def _record(
        self,
        request: web.Request,
        endpoint: str,
        client_id: str | None,
        status: int | None,
        system_id: int | None = None,
    ) -> None:
        record = RequestRecord(self.clock(), request.method, endpoint, client_id, status, system_id)
        self.ledger.append(record)

    @web.middleware
    async def _json_http_errors(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Unknown API paths and wrong methods answer with the API's JSON bodies."""
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed:
            if not request.path.startswith(API_PREFIX):
                raise
            return web.json_response(
                {"reason": "405", "message": ["Method not allowed"]}, status=405
            )
        except web.HTTPNotFound:
            if not request.path.startswith(API_PREFIX):
                raise
            return _error(404, "Not Found")


def _error(status: int, details: str) -> web.Response:
    return web.json_response(error_body(status, details), status=status)


def _redirect(target: URL, query: dict[str, str]) -> web.Response:
    return web.Response(status=302, headers={"Location": str(target.update_query(query))})


def _html_page(status: int, title: str, text: str) -> web.Response:
    page = (
        f"<!DOCTYPE html><html><head><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>"
    )
    return web.Response(text=page, status=status, content_type="text/html")


def _consent_page(application: Application, params: Mapping[str, str]) -> web.Response:
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(params[name])}">'
        for name in ("response_type", "client_id", "redirect_uri", "state", "scope")
        if name in params
    )
    page = (
        "<!DOCTYPE html><html><head><title>Enlighten: authorize access</title></head><body>"
        f"<h1>Allow {escape(application.name)} to access your Enlighten systems?</h1>"
        f'<form method="post" action="/oauth/authorize">{hidden}'
        '<button type="submit" name="user_oauth_approval" value="true">Approve</button>'
        '<button type="submit" name="user_oauth_approval" value="false">Deny</button>'
        "</form></body></html>"
    )
    return web.Response(text=page, content_type="text/html")
