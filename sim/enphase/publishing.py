"""When data becomes visible: each gateway report is shown by the cloud only after a lag.

The gateway reports on a fixed cadence, so an API client never sees the present, only the last
published report.

Each report carries everything measured up to its time, so after an outage the first report
brings the whole backlog (published late, with the usual lag).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sim.enphase.config import SiteConfig

_HASH_MULTIPLIER = 2_654_435_761
_HASH_SPACE = 2**32


@dataclass(frozen=True, slots=True)
class Outage:
    """A period (epoch s, end exclusive) during which the gateway sends no report."""

    start: int
    end: int

    def covers(self, when: int) -> bool:
        """Whether a report due at `when` is lost to this outage."""
        return self.start <= when < self.end


class Publisher:
    """Reports of one site: their times, their lags, and which of them are public at an instant."""

    def __init__(self, site: SiteConfig, first_report_base: int) -> None:
        self._site = site
        self._base = first_report_base
        self._interval = int(site.report_interval.total_seconds())
        self._lag_min = int(site.publish_lag_min.total_seconds())
        self._lag_span = int(site.publish_lag_max.total_seconds()) - self._lag_min

    def lag(self, report_at: int) -> int:
        """Seconds between a report and its publication: fixed per report, spread by the seed."""
        if not self._lag_span:
            return self._lag_min
        key = (report_at // 60 + self._site.seed * 7_919) * _HASH_MULTIPLIER % _HASH_SPACE
        return self._lag_min + key * (self._lag_span + 1) // _HASH_SPACE

    def report_delay(self, report_at: int) -> int:
        """Seconds after an interval boundary at which the gateway's report arrives (20-170 s)."""
        return 20 + (report_at // 60 + self._site.seed) * _HASH_MULTIPLIER % 151

    def last_published_report(self, now: int, outages: Sequence[Outage]) -> int | None:
        """Return the newest report (epoch s) visible at `now`, or None if none is yet."""
        if self._site.never_reported:
            return None
        candidate = self._align(now - self._lag_min)
        while candidate > self._base:
            blocking = next((o for o in outages if o.covers(candidate)), None)
            if blocking is not None:
                candidate = self._align(blocking.start - 1)
            elif candidate + self.lag(candidate) <= now:
                return candidate
            else:
                candidate -= self._interval
        return None

    def _align(self, when: int) -> int:
        """Return the last report time at or before `when`."""
        return self._base + (when - self._base) // self._interval * self._interval
