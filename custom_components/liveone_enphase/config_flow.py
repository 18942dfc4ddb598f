"""Connect an Enphase account: OAuth login, the application's API key, then the systems to add.

One entry per Enphase account (unique id: the `enl_uid` the token response carries). The API key
is checked, and the systems found, by listing the account's systems with the new token: the only
Enphase API call a flow makes.

The options are a menu of two forms. The Enphase API plan (see `plan`): Watt, Kilowatt or custom
limits, and the reserve; saving it applies at once, without a reload. Pushing to LiveOne (see
`push`): its address, the LiveOne site of each system and the site's API key, each site checked
with LiveOne's `test` action before they are saved. Each form keeps the other's options.
"""

import logging
from collections.abc import Mapping
from typing import Any, Final, override

import voluptuous as vol
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    AbstractOAuth2FlowHandler,
    async_get_config_entry_implementation,
)
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .application_credentials import AuthorizationCodeRejectedError, bind_to_cloud
from .auth import TokenProvider, async_entry_token_provider
from .cloud import CloudEndpoints, cloud_for, dev_cloud_url_from_env
from .const import CONF_DEV_CLOUD_URL, CONF_SYSTEM_IDS, DEVELOPER_PORTAL_URL, DOMAIN
from .enphase import (
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseMalformedResponseError,
    EnphaseRateLimitError,
    EnphaseRequestRefused,
    EnphaseTransientError,
    System,
)
from .liveone import (
    LiveOneAuthError,
    LiveOneError,
    LiveOneInvalidUrlError,
    LiveOneTransientError,
    LiveOneUnknownSiteError,
    gush_url,
)
from .plan import (
    CONF_PER_MINUTE,
    CONF_PER_MONTH,
    CONF_PLAN,
    CONF_RESERVE,
    MAX_RESERVE_PCT,
    PlanKind,
    PlanOptions,
)
from .push import CONF_API_KEY as CONF_LIVEONE_API_KEY
from .push import CONF_PUSH, CONF_URL, PushOptions, async_test_options
from .store import async_get_budgets, client_id_of

_LOGGER = logging.getLogger(__name__)

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_PLAN = SelectSelector(
    SelectSelectorConfig(
        options=[kind.value for kind in PlanKind],
        mode=SelectSelectorMode.LIST,
        translation_key=CONF_PLAN,
    )
)
_RESERVE = NumberSelector(
    NumberSelectorConfig(
        min=0,
        max=MAX_RESERVE_PCT,
        step=1,
        unit_of_measurement="%",
        mode=NumberSelectorMode.SLIDER,
    )
)
# No minimum in the form: a value below 1 gets the form's own explained error.
_LIMIT = NumberSelector(NumberSelectorConfig(step=1, mode=NumberSelectorMode.BOX))

# How long listing the systems may take before the form says "timeout".
VALIDATION_TIMEOUT_S: Final = 30.0


def _form(fields: Mapping[Any, Any]) -> Any:
    """Build a form schema.

    Typed loosely on purpose: HA 2026.10 annotates forms with probatio (to which it aliases
    `voluptuous` at run time), while older releases use voluptuous itself.
    """
    return vol.Schema(fields)


class LiveOneEnphaseFlowHandler(AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Add, reauthenticate and reconfigure an Enphase account."""

    DOMAIN = DOMAIN
    VERSION = 1

    def __init__(self) -> None:
        super().__init__()
        self._dev_cloud_url: str | None = None
        self._oauth_data: dict[str, Any] = {}
        self._api_key = ""
        self._systems: list[System] = []
        self._token_provider: TokenProvider | None = None
        self._client_id = ""

    @property
    @override
    def logger(self) -> logging.Logger:
        return _LOGGER

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Choose the Enphase API plan, or set up pushing to LiveOne."""
        return LiveOneEnphaseOptionsFlow()

    @property
    def _cloud(self) -> CloudEndpoints:
        return cloud_for(self._dev_cloud_url)

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Start adding an account; the development switch is read here, and only here."""
        self._dev_cloud_url = dev_cloud_url_from_env()
        return await super().async_step_user(user_input)

    @override
    async def async_step_auth(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Send the login, and later the code exchange (counted), to this flow's cloud."""
        async_get_budgets(self.hass)  # from now on, token requests are counted
        self.flow_impl = bind_to_cloud(self.flow_impl, self._cloud)
        return await super().async_step_auth(user_input)

    @override
    async def async_step_creation(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Exchange the code; a refused exchange gets its own message, not HA's generic one."""
        try:
            return await super().async_step_creation(user_input)
        except AuthorizationCodeRejectedError as err:
            return self.async_abort(reason=err.reason)

    @override
    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Identify the account that logged in, then finish reauth or ask for the API key."""
        account_id = data["token"].get("enl_uid")
        if account_id in (None, ""):
            return self.async_abort(reason="unexpected_response")
        await self.async_set_unique_id(str(account_id))
        if self.source == SOURCE_REAUTH:
            self._abort_if_unique_id_mismatch(reason="account_mismatch")
            return self.async_update_reload_and_abort(self._get_reauth_entry(), data_updates=data)
        self._abort_if_unique_id_configured()
        self._oauth_data = data
        return await self.async_step_api_key()

    async def async_step_api_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Enphase application's API key and check it by listing the systems."""
        errors: dict[str, str] = {}
        if user_input is not None:
            access_token = str(self._oauth_data["token"]["access_token"])

            async def fresh_token() -> str:
                return access_token

            api_key = user_input[CONF_API_KEY].strip()
            client_id = client_id_of(self.flow_impl)
            if error := await self._async_load_systems(api_key, fresh_token, client_id):
                errors["base"] = error
            else:
                return await self._async_choose_systems()
        return self.async_show_form(
            step_id="api_key",
            data_schema=_form({vol.Required(CONF_API_KEY): _PASSWORD}),
            errors=errors,
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Log in again after the login expired or was revoked; the entry keeps its cloud."""
        self._dev_cloud_url = entry_data.get(CONF_DEV_CLOUD_URL)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Tell the user why they must log in again, then send them to Enphase."""
        if user_input is None:
            return self.async_show_form(
                step_id="reauth_confirm",
                description_placeholders={"name": self._get_reauth_entry().title},
            )
        return await self.async_step_pick_implementation()

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API key and the chosen systems, keeping the login."""
        entry = self._get_reconfigure_entry()
        if self._token_provider is None:
            try:
                implementation = await async_get_config_entry_implementation(self.hass, entry)
                self._token_provider = await async_entry_token_provider(self.hass, entry)
            except ValueError:
                return self.async_abort(reason="missing_credentials")
            self._client_id = client_id_of(implementation)
            self._dev_cloud_url = entry.data.get(CONF_DEV_CLOUD_URL)
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = (user_input.get(CONF_API_KEY) or entry.data[CONF_API_KEY]).strip()
            if error := await self._async_load_systems(
                api_key, self._token_provider, self._client_id
            ):
                errors["base"] = error
            else:
                return await self._async_choose_systems()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_form({vol.Optional(CONF_API_KEY): _PASSWORD}),
            errors=errors,
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_select_systems(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose which of the account's systems to add (all by default)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if chosen := [int(system_id) for system_id in user_input[CONF_SYSTEM_IDS]]:
                return await self._async_finish(chosen)
            errors["base"] = "no_systems_selected"
        options = [
            SelectOptionDict(
                value=str(system.system_id), label=f"{_label(system)} ({system.system_id})"
            )
            for system in self._systems
        ]
        return self.async_show_form(
            step_id="select_systems",
            data_schema=_form(
                {
                    vol.Required(
                        CONF_SYSTEM_IDS, default=self._default_selection()
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=options, multiple=True, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
            errors=errors,
        )

    async def _async_choose_systems(self) -> ConfigFlowResult:
        """With a single system there is nothing to choose."""
        if len(self._systems) == 1:
            return await self._async_finish([self._systems[0].system_id])
        return await self.async_step_select_systems()

    def _default_selection(self) -> list[str]:
        """All systems for a new entry; the current choice (if still there) when reconfiguring."""
        available = [str(system.system_id) for system in self._systems]
        if self.source == SOURCE_RECONFIGURE:
            current = {
                str(system_id) for system_id in self._get_reconfigure_entry().data[CONF_SYSTEM_IDS]
            }
            return [system_id for system_id in available if system_id in current] or available
        return available

    async def _async_finish(self, system_ids: list[int]) -> ConfigFlowResult:
        """Create the entry, or update the reconfigured one, titled after its systems."""
        title = ", ".join(
            _label(system) for system in self._systems if system.system_id in system_ids
        )
        data: dict[str, Any] = {CONF_API_KEY: self._api_key, CONF_SYSTEM_IDS: system_ids}
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), title=title, data_updates=data
            )
        data |= self._oauth_data
        if self._dev_cloud_url:
            data[CONF_DEV_CLOUD_URL] = self._dev_cloud_url
        return self.async_create_entry(title=title, data=data)

    async def _async_load_systems(
        self, api_key: str, token_provider: TokenProvider, client_id: str
    ) -> str | None:
        """List the account's systems with `api_key`; return an error key, or None on success.

        The call is counted in the application's ledger, like every other.
        """
        client = EnphaseClient(
            async_get_clientsession(self.hass),
            token_provider,
            api_key,
            base_url=self._cloud.base_url,
            timeout=VALIDATION_TIMEOUT_S,
            guard=async_get_budgets(self.hass).flow_guard(client_id),
        )
        try:
            systems = await client.systems()
        except EnphaseAuthError as err:
            return _auth_error(err)
        except EnphaseForbiddenError:
            return "forbidden"
        except EnphaseRateLimitError, EnphaseRequestRefused:
            return "rate_limited"
        except EnphaseTransientError as err:
            return "timeout" if isinstance(err.__context__, TimeoutError) else "cannot_connect"
        except EnphaseMalformedResponseError:
            return "unexpected_response"
        except EnphaseError as err:
            _LOGGER.warning("Listing the Enphase systems failed: %s", err)
            return "unknown"
        if not systems:
            return "no_systems"
        self._api_key = api_key
        self._systems = list(systems)
        return None


def _auth_error(err: EnphaseAuthError) -> str:
    """Tell Enphase's 401s apart: the key is wrong, or the login (token) no longer holds."""
    if err.key_mismatch:
        return "api_key_mismatch"
    if err.key_missing_or_invalid:
        return "invalid_api_key"
    return "login_rejected"


def _label(system: System) -> str:
    """How a system is named in the form and in the entry title."""
    return system.name or str(system.system_id)


class LiveOneEnphaseOptionsFlow(OptionsFlow):
    """A menu: the Enphase API plan, or pushing to LiveOne.

    Plan: Watt saves at once (its limits are published); Kilowatt and custom ask for the limits
    next, starting from the entry's figures or Kilowatt's lowest known ones (see `plan`).

    LiveOne: turn pushing on or off, and say where each system's readings go. Each system gets a
    field named after it (a name cannot be translated): its LiveOne site id, empty for a system
    not pushed. The API key is never shown back; left empty, the stored one stays. Saving with
    pushing on runs LiveOne's `test` for every site first.
    """

    def __init__(self) -> None:
        self._fields: dict[str, int] = {}
        self._plan = PlanOptions()

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the two forms."""
        return self.async_show_menu(step_id="init", menu_options=["plan", "liveone"])

    async def async_step_plan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the plan and the reserve."""
        current = PlanOptions.from_options(self.config_entry.options)
        if user_input is not None:
            kind = PlanKind(user_input[CONF_PLAN])
            reserve = round(user_input[CONF_RESERVE])
            if kind is PlanKind.WATT:
                return self._save(PlanOptions(reserve_pct=reserve).as_options())
            per_month, per_minute = PlanOptions.suggested_limits(kind, current)
            self._plan = PlanOptions(kind, per_month, per_minute, reserve)
            return await self.async_step_plan_limits()
        schema = _form({vol.Required(CONF_PLAN): _PLAN, vol.Required(CONF_RESERVE): _RESERVE})
        suggested = {CONF_PLAN: current.kind.value, CONF_RESERVE: current.reserve_pct}
        return self.async_show_form(
            step_id="plan",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_plan_limits(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the limits of a Kilowatt or custom plan."""
        errors: dict[str, str] = {}
        suggested: dict[str, Any] = {
            CONF_PER_MONTH: self._plan.per_month,
            CONF_PER_MINUTE: self._plan.per_minute,
        }
        if user_input is not None:
            suggested = dict(user_input)
            errors = _limit_errors(user_input)
            if not errors:
                plan = PlanOptions(
                    self._plan.kind,
                    int(user_input[CONF_PER_MONTH]),
                    int(user_input[CONF_PER_MINUTE]),
                    self._plan.reserve_pct,
                )
                return self._save(plan.as_options())
        schema = _form(
            {vol.Required(CONF_PER_MONTH): _LIMIT, vol.Required(CONF_PER_MINUTE): _LIMIT}
        )
        return self.async_show_form(
            step_id="plan_limits",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    def _save(self, options: Mapping[str, Any]) -> ConfigFlowResult:
        """Store one form's options, keeping the other form's."""
        return self.async_create_entry(data={**self.config_entry.options, **options})

    async def async_step_liveone(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the LiveOne options; check and save them."""
        current = PushOptions.from_options(self.config_entry.options)
        if not self._fields:
            self._fields = _site_fields(self.config_entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            options = self._read(user_input, current)
            if options.enabled:
                errors = await self._async_check(options)
            if not errors:
                await _async_apply(self.config_entry, options)
                return self._save(options.as_options())
        suggested: dict[str, Any] = {
            CONF_PUSH: current.enabled or not self.config_entry.options,
            CONF_URL: current.base_url,
            **{name: current.sites.get(system_id, "") for name, system_id in self._fields.items()},
        }
        if user_input is not None:
            suggested |= {k: v for k, v in user_input.items() if k != CONF_LIVEONE_API_KEY}
        schema = _form(
            {
                vol.Required(CONF_PUSH): BooleanSelector(),
                vol.Required(CONF_URL): _URL,
                vol.Optional(CONF_LIVEONE_API_KEY): _PASSWORD,
                **{vol.Optional(name): TextSelector() for name in self._fields},
            }
        )
        return self.async_show_form(
            step_id="liveone",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    def _read(self, user_input: Mapping[str, Any], current: PushOptions) -> PushOptions:
        """Read the options as entered; an empty key keeps the stored one."""
        sites = {
            system_id: site
            for name, system_id in self._fields.items()
            if (site := str(user_input.get(name) or "").strip())
        }
        return PushOptions(
            enabled=bool(user_input[CONF_PUSH]),
            base_url=str(user_input[CONF_URL]).strip(),
            api_key=str(user_input.get(CONF_LIVEONE_API_KEY) or "").strip() or current.api_key,
            sites=sites,
        )

    async def _async_check(self, options: PushOptions) -> dict[str, str]:
        """Return the form errors of options that would push (empty: LiveOne accepts them)."""
        if not options.sites:
            return {"base": "no_sites"}
        if not options.api_key:
            return {CONF_LIVEONE_API_KEY: "api_key_required"}
        try:
            gush_url(options.base_url)
        except LiveOneInvalidUrlError:
            return {CONF_URL: "invalid_url"}
        failure = await async_test_options(self.hass, options)
        if failure is None:
            return {}
        system_id, err = failure
        return _options_error(err, next(k for k, v in self._fields.items() if v == system_id))


def _limit_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Return the errors of entered plan limits (empty: a ledger can honour them)."""
    errors = {
        key: "limit_invalid"
        for key in (CONF_PER_MONTH, CONF_PER_MINUTE)
        if not float(user_input[key]).is_integer() or user_input[key] < 1
    }
    if not errors and user_input[CONF_PER_MINUTE] > user_input[CONF_PER_MONTH]:
        errors[CONF_PER_MINUTE] = "per_minute_above_per_month"
    return errors


async def _async_apply(entry: ConfigEntry, options: PushOptions) -> None:
    """Hand saved options to a running push at once.

    LiveOne has just accepted them, so a pause ends and unseen drops count as seen, even when
    nothing changed (then Home Assistant tells no update listener).
    """
    push = entry.runtime_data.push if entry.state is ConfigEntryState.LOADED else None
    if push is not None and options.active:
        await push.async_apply_options(options)


def _site_fields(entry: ConfigEntry) -> dict[str, int]:
    """Name each system's site field after the system, as the entry's devices are named."""
    names: dict[int, str] = {}
    if entry.state is ConfigEntryState.LOADED:
        names = {sid: info.name for sid, info in entry.runtime_data.coordinator.inventory.items()}
    fields: dict[str, int] = {}
    for system_id in entry.data[CONF_SYSTEM_IDS]:
        name = names.get(system_id)
        known = name and name != str(system_id)
        fields[f"{name} ({system_id})" if known else str(system_id)] = system_id
    return fields


def _options_error(err: LiveOneError, site_field: str) -> dict[str, str]:
    """Put LiveOne's answer to `test` on the field the user has to change."""
    match err:
        case LiveOneAuthError():
            return {CONF_LIVEONE_API_KEY: "invalid_api_key"}
        case LiveOneUnknownSiteError():
            return {site_field: "unknown_site"}
        case LiveOneInvalidUrlError():
            return {CONF_URL: "invalid_url"}
        case LiveOneTransientError():
            return {"base": "cannot_connect"}
    _LOGGER.warning("LiveOne refused its test request: %s", err)
    return {"base": "unknown"}
