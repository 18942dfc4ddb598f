"""Diagnostics of a config entry: what the integration knows and how it spends its calls.

Secrets and personal data are redacted: tokens, the Enphase and LiveOne API keys, the Enphase
account id (`enl_uid`, also the entry's unique id) and any serial number, address or coordinate,
should a payload carry one. Interval data is summarised, not dumped.
"""

from datetime import datetime
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import LiveOneEnphaseConfigEntry
from .budget.limits import PlanLimits
from .push import CONF_API_KEY as CONF_LIVEONE_API_KEY
from .readings.state import SystemReadings

TO_REDACT: Final = {
    CONF_LIVEONE_API_KEY,
    "access_token",
    "refresh_token",
    "api_key",
    "enl_uid",
    "enl_cid",
    "jti",
    "unique_id",
    "serial_number",
    "address",
    "latitude",
    "longitude",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: LiveOneEnphaseConfigEntry
) -> dict[str, Any]:
    """Describe the entry, its systems, the last poll and the application's budget.

    `budget.plan` is what the shared ledger honours (the strictest plan of the entries using
    the application), `budget.entry_plan` what this entry's plan option names.
    """
    coordinator = entry.runtime_data.coordinator
    ledger = coordinator.budget.ledger
    status = coordinator.budget_status()
    report = coordinator.last_report
    return async_redact_data(
        {
            "entry": entry.as_dict(),
            "systems": {
                str(system_id): {
                    "info": info.to_dict(),
                    "readings": _summary(coordinator.readings.systems[system_id]),
                }
                for system_id, info in sorted(coordinator.inventory.items())
            },
            "budget": {
                "application": coordinator.budget.key,
                "entries_sharing": len(coordinator.budget.entry_ids),
                "plan": _plan(status.limits),
                "entry_plan": _plan(coordinator.budget.plans[entry.entry_id]),
                "used": status.used,
                "token_requests": status.token_requests,
                "failed": status.failed,
                "blocked_until": _iso(status.blocked_until),
                "blocked_period": status.blocked_period,
                "by_endpoint": dict(ledger.by_endpoint),
                "history": dict(ledger.history),
            },
            "next_poll": _iso(coordinator.next_poll_at),
            "last_poll": None
            if report is None
            else {
                "started_at": report.started_at.isoformat(),
                "calls": [
                    {
                        "system_id": result.system_id,
                        "endpoint": result.endpoint.value,
                        "role": result.role.value,
                        "status": result.status.value,
                        "detail": result.detail,
                    }
                    for result in report.results
                ],
            },
        },
        TO_REDACT,
    )


def _plan(limits: PlanLimits) -> dict[str, Any]:
    """Describe a plan: the one the ledger honours, or the one this entry's option names."""
    return {
        "name": limits.name,
        "per_month": limits.per_month,
        "per_minute": limits.per_minute,
        "reserve_percent": round(limits.reserve_fraction * 100, 2),
    }


def _summary(readings: SystemReadings) -> dict[str, Any]:
    """Summarise the values shown and each endpoint's progress (no interval series)."""
    return {
        "timezone": readings.timezone,
        "report_cadence_s": readings.report_cadence.total_seconds(),
        "last_report_at": _iso(readings.last_report_at),
        "last_live_at": _iso(readings.last_live_at),
        "power": {
            quantity.value: {
                "watts": reading.watts,
                "measured_at": reading.measured_at.isoformat(),
                "source": reading.source,
            }
            for quantity, reading in readings.power.items()
        },
        "soc": None
        if readings.soc is None
        else {"percent": readings.soc.percent, "measured_at": readings.soc.measured_at.isoformat()},
        "battery_mode": readings.battery_mode,
        "counters_wh": {
            stream.value: counter.value_wh for stream, counter in readings.counters.items()
        },
        "forbidden": sorted(endpoint.value for endpoint in readings.forbidden),
        "endpoints": {
            endpoint.value: {
                "last_attempt": _iso(progress.last_attempt),
                "last_success": _iso(progress.last_success),
                "cursor": _iso(progress.cursor),
                "complete": progress.complete,
            }
            for endpoint, progress in sorted(readings.endpoints.items())
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
