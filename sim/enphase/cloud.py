"""The simulated Enphase cloud: one account, its systems, its applications, and the switches."""

from collections.abc import Sequence
from datetime import timedelta

from aiohttp import web
from yarl import URL

from sim.clock import Clock
from sim.enphase.config import Plan, SiteConfig
from sim.enphase.faults import Faults
from sim.enphase.ledger import RequestRecord, TokenRequestRecord
from sim.enphase.limits import RateLimiter, minute_window, month_window
from sim.enphase.oauth import Application, OAuthServer
from sim.enphase.routes import EnphaseRoutes
from sim.enphase.system import SimSystem
from sim.enphase.truth import Truth

DEMO_CLIENT_ID = "sim-client-id-0000-not-real"
DEMO_CLIENT_SECRET = "sim-client-secret-0000-not-real"
DEMO_API_KEY = "sim-api-key-0000-not-real"
DEMO_USER_ID = "4242001"


class EnphaseCloud:
    """Everything the real service holds for one Enlighten account, driven by an injected clock.

    `install(app)` serves it over HTTP; `faults` holds the misbehaviour switches; `requests` is
    the ledger of every request received (`token_requests` adds, for POST /oauth/token, the
    Basic client id and the names of the parameters sent); `truth` answers what physically
    happened. `token_prefixes` (access, refresh) makes it issue opaque tokens starting with
    those marks (`oauth.issued` lists every token issued), for tests that hunt for leaks.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        sites: Sequence[SiteConfig] = (),
        plan: Plan = Plan.WATT,
        seed: int = 0,
        user_id: str = DEMO_USER_ID,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        api_key: str = DEMO_API_KEY,
        code_ttl: timedelta = timedelta(minutes=5),
        access_ttl: timedelta = timedelta(days=1),
        refresh_ttl: timedelta = timedelta(days=30),
        my_redirect: str | None = None,
        token_prefixes: tuple[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.my_redirect = my_redirect
        self.faults = Faults(clock)
        self.requests: list[RequestRecord] = []
        self.token_requests: list[TokenRequestRecord] = []
        self.systems: dict[int, SimSystem] = {}
        for site in sites:
            self.add_site(site)
        self.oauth = OAuthServer(
            clock,
            self.faults,
            user_id,
            seed=seed,
            code_ttl=code_ttl,
            access_ttl=access_ttl,
            refresh_ttl=refresh_ttl,
            token_prefixes=token_prefixes,
        )
        self.application = self.add_application(
            "LiveOne Enphase (simulated)",
            plan=plan,
            client_id=client_id,
            client_secret=client_secret,
            api_key=api_key,
        )
        self.truth = Truth(self.systems, clock, self.faults)
        self._regenerated = 0

    @property
    def client_id(self) -> str:
        """The registered application's OAuth client id."""
        return self.application.client_id

    @property
    def client_secret(self) -> str:
        """The registered application's OAuth client secret."""
        return self.application.client_secret

    @property
    def api_key(self) -> str:
        """The registered application's API key."""
        return self.application.api_key

    @property
    def user_id(self) -> str:
        """The account's `enl_uid`."""
        return self.oauth.user_id

    @property
    def system_ids(self) -> list[int]:
        """The account's system ids, ascending."""
        return sorted(self.systems)

    def add_site(self, site: SiteConfig) -> None:
        """Add a system to the account."""
        if site.system_id in self.systems:
            raise ValueError(f"duplicate system id {site.system_id}")
        self.systems[site.system_id] = SimSystem(site)

    def add_application(
        self,
        name: str,
        *,
        plan: Plan = Plan.WATT,
        client_id: str | None = None,
        client_secret: str | None = None,
        api_key: str | None = None,
    ) -> Application:
        """Register another application (another client id, secret and API key)."""
        number = len(self.oauth.applications)
        application = Application(
            name=name,
            client_id=client_id or f"sim-client-id-{number:04d}-not-real",
            client_secret=client_secret or f"sim-client-secret-{number:04d}-not-real",
            api_key=api_key or f"sim-api-key-{number:04d}-not-real",
            limiter=RateLimiter(plan),
        )
        if application.client_id in self.oauth.applications:
            raise ValueError("duplicate client id")
        self.oauth.register(application)
        return application

    def regenerate_api_key(self, application: Application | None = None) -> str:
        """Give an application a new API key, as the developer portal does; the old one is dead.

        Requests with the old key are then answered 401 "Invalid API key".
        """
        chosen = application or self.application
        self._regenerated += 1
        chosen.api_key = f"sim-api-key-regenerated-{self._regenerated:04d}-not-real"
        return chosen.api_key

    def install(self, app: web.Application) -> None:
        """Serve the OAuth endpoints and /api/v4 from `app`."""
        routes = EnphaseRoutes(
            self.clock,
            oauth=self.oauth,
            faults=self.faults,
            systems=self.systems,
            ledger=self.requests,
            token_ledger=self.token_requests,
            my_redirect=self.my_redirect,
        )
        routes.install(app)

    def authorize_url(
        self, base_url: str, redirect_uri: str, state: str, client_id: str | None = None
    ) -> str:
        """Build the URL a client sends the user to, as a real integration would."""
        query = {
            "response_type": "code",
            "client_id": client_id or self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return str(URL(base_url).with_path("/oauth/authorize").with_query(query))

    def approve_url(self, redirect_uri: str, state: str, client_id: str | None = None) -> str:
        """Where the Approve button would send the browser (the code is issued now)."""
        code = self.oauth.issue_code(client_id or self.client_id, redirect_uri)
        return str(URL(redirect_uri).update_query({"code": code, "state": state}))

    def issue_tokens(self, application: Application | None = None) -> dict[str, object]:
        """Issue a token response without the browser dance, for tests that need a live token."""
        return self.oauth.issue_tokens(application or self.application)

    def usage(self, application: Application | None = None) -> tuple[int, int]:
        """Count the requests charged to the plan in the current minute and month."""
        limiter = (application or self.application).limiter
        now = self.clock()
        return limiter.used(minute_window(now)), limiter.used(month_window(now))
