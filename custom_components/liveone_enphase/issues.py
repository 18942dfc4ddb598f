"""Repair issues for the call budget and for endpoints outside the Enphase plan.

Each issue mirrors a condition and is re-evaluated after every poll: raised while the condition
holds, deleted when it ends. None is fixable by a repair flow: the user acts on Enphase's
developer portal, then names the plan in the options (or reconfigures the entry).

- `budget_running_out` (per application): at the pace of the month so far, the calls Enphase
  allows would run out before the month ends. Judged only after `PACE_AFTER` of counting (from
  the month's start, or from when a lost count was replaced), so a first setup, a restart or a
  lost count does not read as a trend.
- `budget_exhausted` (per application): Enphase answered "month limit reached" (429), or the
  ledger has counted every call the plan allows; polling resumes when the month resets.
- `api_key_rejected` (per entry): Enphase refused the entry's API key (regenerated, or another
  application's); polling stops, since only a new key helps: the user reconfigures the entry.
  Cleared by the next successful update (the reconfigure reloads the entry).
- `endpoint_forbidden` (per system): Enphase answered 403 for endpoints outside the plan; their
  sensors are removed. Each is tried once more 30 days after the refusal, or with the next poll
  after the plan option names a bigger plan; an answer clears it from the issue.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .budget.ledger import BudgetStatus
from .const import DEVELOPER_PORTAL_URL, DOMAIN
from .enphase import Endpoint

PACE_AFTER: Final = timedelta(days=1)
_BUDGET_ISSUES: Final = frozenset({"budget_exhausted", "budget_running_out"})


def budget_exhausted(status: BudgetStatus) -> bool:
    """Whether no ordinary call is allowed until the month resets."""
    return status.month_blocked or status.usable_left == 0


def runs_out_at(status: BudgetStatus) -> datetime | None:
    """When the month's calls run out at the pace so far, if that is before the month ends.

    The pace is that of the calls counted: calls assumed for a lost count set no trend.
    """
    counted, elapsed = status.pace
    if elapsed < PACE_AFTER or counted <= 0 or budget_exhausted(status):
        return None
    per_second = counted / elapsed.total_seconds()
    left = status.limits.pollable - status.used
    at = status.now + timedelta(seconds=left / per_second)
    return at if at < status.month_end else None


@callback
def async_update_budget_issues(hass: HomeAssistant, key: str, status: BudgetStatus) -> None:
    """Raise or clear the budget issues of one application (`key` names it)."""
    limits = status.limits
    exhausted_id = f"budget_exhausted_{key}"
    running_out_id = f"budget_running_out_{key}"
    if budget_exhausted(status):
        resumes = status.blocked_until if status.month_blocked else status.month_end
        ir.async_create_issue(
            hass,
            DOMAIN,
            exhausted_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="budget_exhausted",
            translation_placeholders={
                "plan": limits.name,
                "limit": str(limits.per_month),
                "resumes": _local_day(resumes or status.month_end),
                "developer_portal_url": DEVELOPER_PORTAL_URL,
            },
            learn_more_url=DEVELOPER_PORTAL_URL,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, exhausted_id)
    if (at := runs_out_at(status)) is not None:
        ir.async_create_issue(
            hass,
            DOMAIN,
            running_out_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="budget_running_out",
            translation_placeholders={
                "plan": limits.name,
                "used": str(status.used),
                "limit": str(limits.per_month),
                "runs_out": _local_day(at),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, running_out_id)


@callback
def async_update_forbidden_issue(
    hass: HomeAssistant, system_id: int, name: str, forbidden: Iterable[Endpoint]
) -> None:
    """Raise or clear the issue listing a system's endpoints outside the plan."""
    endpoints = sorted(_short(endpoint) for endpoint in forbidden)
    _update_portal_issue(
        hass,
        "endpoint_forbidden",
        str(system_id),
        ir.IssueSeverity.WARNING,
        {"name": name, "endpoints": ", ".join(endpoints)} if endpoints else None,
    )


@callback
def async_update_api_key_issue(
    hass: HomeAssistant, entry_id: str, name: str, *, rejected: bool
) -> None:
    """Raise or clear the issue that asks for another API key."""
    _update_portal_issue(
        hass,
        "api_key_rejected",
        entry_id,
        ir.IssueSeverity.ERROR,
        {"name": name} if rejected else None,
    )


def _update_portal_issue(
    hass: HomeAssistant,
    key: str,
    subject: str,
    severity: ir.IssueSeverity,
    placeholders: dict[str, str] | None,
) -> None:
    """Raise the issue `key` of `subject` (solved on Enphase's developer portal), or clear it."""
    issue_id = f"{key}_{subject}"
    if placeholders is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=severity,
        translation_key=key,
        translation_placeholders={**placeholders, "developer_portal_url": DEVELOPER_PORTAL_URL},
        learn_more_url=DEVELOPER_PORTAL_URL,
    )


@callback
def async_delete_system_issues(hass: HomeAssistant, system_ids: Iterable[int]) -> None:
    """Forget the issues of systems that are no longer set up."""
    for system_id in system_ids:
        ir.async_delete_issue(hass, DOMAIN, f"endpoint_forbidden_{system_id}")


@callback
def async_delete_budget_issues(hass: HomeAssistant, keep: Iterable[str]) -> None:
    """Forget the budget issues of applications no longer used, except those in `keep`."""
    kept = set(keep)
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        prefix, _, key = issue_id.rpartition("_")
        if domain == DOMAIN and prefix in _BUDGET_ISSUES and key not in kept:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def _short(endpoint: Endpoint) -> str:
    """Name the endpoint as Enphase's documentation does, without the system part."""
    return endpoint.value.removeprefix("systems/{system_id}/")


def _local_day(moment: datetime) -> str:
    return dt_util.as_local(moment).date().isoformat()
