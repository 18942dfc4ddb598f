"""The Enphase API plan option: which plan the application is on, its limits, and the reserve.

Options (`entry.options`): `enphase_plan` ("watt", "kilowatt" or "custom"), `enphase_per_month`
and `enphase_per_minute` (the limits; for Watt always Enphase's published 1,000 and 10),
`enphase_reserve` (percent of the month kept for token refreshes and retries, 0-50). An entry
without them is on Watt with a 5% reserve.

Kilowatt's figures are not published consistently (10,000 and 50,000 calls a month have both
been seen), so its limits are entered like a custom plan's, starting from the lowest figures
seen: 10,000 a month and 10 a minute. Too low only polls less often; too high would have
Enphase refuse calls.

One ledger serves every entry of an Enphase application; when their plans disagree, the ledger
follows the strictest (`PlanLimits.strictest`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from .budget.limits import DEFAULT_RESERVE_FRACTION, PlanLimits

CONF_PLAN: Final = "enphase_plan"
CONF_PER_MONTH: Final = "enphase_per_month"
CONF_PER_MINUTE: Final = "enphase_per_minute"
CONF_RESERVE: Final = "enphase_reserve"

DEFAULT_RESERVE_PCT: Final = round(DEFAULT_RESERVE_FRACTION * 100)
MAX_RESERVE_PCT: Final = 50


class PlanKind(StrEnum):
    """The plans the option offers."""

    WATT = "watt"
    KILOWATT = "kilowatt"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """The entry's plan option, read from `entry.options`."""

    kind: PlanKind = PlanKind.WATT
    per_month: int = PlanLimits.watt().per_month
    per_minute: int = PlanLimits.watt().per_minute
    reserve_pct: int = DEFAULT_RESERVE_PCT

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PlanOptions:
        """Read the option; missing or unusable values fall back to Watt with a 5% reserve."""
        try:
            kind = PlanKind(options.get(CONF_PLAN, PlanKind.WATT))
            reserve = int(options.get(CONF_RESERVE, DEFAULT_RESERVE_PCT))
            if kind is PlanKind.WATT:
                plan = cls(reserve_pct=reserve)
            else:
                plan = cls(
                    kind, int(options[CONF_PER_MONTH]), int(options[CONF_PER_MINUTE]), reserve
                )
            plan.limits()  # refuses what no ledger could honour
        except KeyError, TypeError, ValueError:
            return cls()
        return plan

    def as_options(self) -> dict[str, Any]:
        """Return the option as the entry stores it."""
        return {
            CONF_PLAN: self.kind.value,
            CONF_PER_MONTH: self.per_month,
            CONF_PER_MINUTE: self.per_minute,
            CONF_RESERVE: self.reserve_pct,
        }

    def limits(self) -> PlanLimits:
        """Return the limits the ledger is to honour (ValueError if they are unusable)."""
        reserve = self.reserve_pct / 100
        if not 0 <= self.reserve_pct <= MAX_RESERVE_PCT:
            raise ValueError("reserve out of range")
        match self.kind:
            case PlanKind.WATT:
                return PlanLimits.watt(reserve_fraction=reserve)
            case PlanKind.KILOWATT:
                return PlanLimits.kilowatt(
                    per_month=self.per_month, per_minute=self.per_minute, reserve_fraction=reserve
                )
        return PlanLimits("Custom", self.per_month, self.per_minute, reserve)

    @staticmethod
    def suggested_limits(kind: PlanKind, current: PlanOptions) -> tuple[int, int]:
        """Return the limits a form for `kind` starts from.

        The entry's own figures for the plan it is on (or for a custom plan), else Kilowatt's.
        """
        if kind is current.kind or kind is PlanKind.CUSTOM:
            return current.per_month, current.per_minute
        kilowatt = PlanLimits.kilowatt()
        return kilowatt.per_month, kilowatt.per_minute
