"""The request limits of an Enphase API plan, as settings rather than constants.

Enphase publishes the free Watt plan's limits (1,000 requests a month, 10 a minute); the paid
plans' figures vary between sources, so every number here can be overridden.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Self

DEFAULT_RESERVE_FRACTION = 0.05


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Monthly and per-minute request limits of one Enphase application, plus our reserve.

    `reserve_fraction` of the month is kept back from polling so that token refreshes (and
    calls marked as priority) still fit when the polls have used up the rest.
    """

    name: str
    per_month: int
    per_minute: int
    reserve_fraction: float = DEFAULT_RESERVE_FRACTION

    def __post_init__(self) -> None:
        """Refuse limits no ledger could honour."""
        if self.per_month < 1 or self.per_minute < 1:
            raise ValueError("plan limits must be positive")
        if not 0.0 <= self.reserve_fraction < 1.0:
            raise ValueError("reserve_fraction must be in [0, 1)")

    @classmethod
    def watt(cls, *, reserve_fraction: float = DEFAULT_RESERVE_FRACTION) -> Self:
        """Return the free plan: 1,000 requests a month, 10 a minute."""
        return cls("Watt", 1_000, 10, reserve_fraction)

    @classmethod
    def kilowatt(
        cls,
        *,
        per_month: int = 10_000,
        per_minute: int = 10,
        reserve_fraction: float = DEFAULT_RESERVE_FRACTION,
    ) -> Self:
        """Return the first paid plan; its limits are uncertain, so both are settings."""
        return cls("Kilowatt", per_month, per_minute, reserve_fraction)

    def with_reserve(self, reserve_fraction: float) -> Self:
        """Return the same plan with another reserve."""
        return replace(self, reserve_fraction=reserve_fraction)

    @classmethod
    def strictest(cls, plans: Iterable[Self]) -> Self:
        """Combine the plans several config entries name for one application into one.

        Enphase applies one plan per application, so entries that disagree cannot all be right:
        the ledger then honours the lowest monthly and per-minute limits and the largest
        reserve, which can only make it poll less, never break a limit. The result is named
        after the plan with the fewest calls a month (the first of equals).
        """
        chosen = list(plans)
        if not chosen:
            raise ValueError("no plan to combine")
        smallest = min(chosen, key=lambda plan: plan.per_month)
        return cls(
            smallest.name,
            smallest.per_month,
            min(plan.per_minute for plan in chosen),
            max(plan.reserve_fraction for plan in chosen),
        )

    @property
    def reserve(self) -> int:
        """Requests a month kept for priority calls (rounded up: never less than asked)."""
        return math.ceil(self.per_month * self.reserve_fraction)

    @property
    def pollable(self) -> int:
        """Requests a month that ordinary calls may use."""
        return self.per_month - self.reserve
