"""One simulated system: its configuration, its physics and its publishing, seen at an instant."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sim.enphase.config import SiteConfig
from sim.enphase.physics import STEP_S, Channel, SiteModel
from sim.enphase.publishing import Outage, Publisher

SILENT_DEVICE_AFTER_S = 7 * 86_400


class SimSystem:
    """A site's model and publisher; `view` gives what the cloud knows of it at an instant."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.model = SiteModel.shared(site)
        self.publisher = Publisher(site, self.model.start)

    def view(self, now: datetime, outages: Sequence[Outage]) -> SystemView:
        """Return what the cloud shows of this system at `now`."""
        epoch = int(now.timestamp())
        report = self.publisher.last_published_report(epoch, outages)
        if report is not None:
            self.model.ensure(report)
        return SystemView(self, epoch, report)


@dataclass(frozen=True, slots=True)
class SystemView:
    """The published state of a system at one instant (`data_until`: end of the visible data)."""

    system: SimSystem
    now: int
    data_until: int | None

    @property
    def site(self) -> SiteConfig:
        """The system's configuration."""
        return self.system.site

    @property
    def model(self) -> SiteModel:
        """The system's physics."""
        return self.system.model

    @property
    def last_report_at(self) -> int | None:
        """When the gateway sent the newest published report."""
        if self.data_until is None:
            return None
        return self.data_until + self.system.publisher.report_delay(self.data_until)

    @property
    def operational_at(self) -> int | None:
        """When the system started producing (null for one that never reported)."""
        return None if self.site.never_reported else self.model.start

    @property
    def status(self) -> str:
        """Return "comm" once the gateway has missed reports for a while, else "normal"."""
        last = self.last_report_at
        if last is None:
            return "normal"
        allowed = self.site.report_interval + self.site.publish_lag_max + timedelta(hours=1)
        return "comm" if self.now - last > allowed.total_seconds() else "normal"

    @property
    def silent(self) -> bool:
        """Whether devices have been silent for more than 7 days (the API then shows nulls)."""
        last = self.last_report_at
        return last is None or self.now - last > SILENT_DEVICE_AFTER_S

    @property
    def meta(self) -> dict[str, object]:
        """The `meta` object several endpoints carry."""
        return {
            "status": self.status,
            "last_report_at": self.last_report_at,
            "last_energy_at": self.data_until,
            "operational_at": self.operational_at,
        }

    def local_date(self, epoch: int | None = None) -> date:
        """Return the system's local date at `epoch` (default: now)."""
        when = self.now if epoch is None else epoch
        return datetime.fromtimestamp(when, self.model.zone).date()

    def midnight(self, day: date) -> int:
        """Return the epoch of the local midnight starting `day`."""
        return int(datetime.combine(day, time(), self.model.zone).timestamp())

    def published_energy(self, channel: Channel, start: int, end: int) -> int:
        """Sum the published energy (Wh) of the steps ending in (start, end]."""
        if self.data_until is None:
            return 0
        first = self.model.step_index(start)
        last = self.model.step_index(min(end, self.data_until))
        return self.model.energy(channel, first, last) if last > first else 0

    def daily(self, channel: Channel, first_day: date, last_day: date) -> list[int]:
        """List published energy per local day, first..last inclusive (0: not reported)."""
        values = []
        day = first_day
        start = self.midnight(day)
        while day <= last_day:
            day += timedelta(days=1)
            end = self.midnight(day)
            values.append(self.published_energy(channel, start, end))
            start = end
        return values

    def interval_ends(self, start: int, end: int, length: int) -> range:
        """Return end times of the published `length`-second intervals ending in (start, end]."""
        base = self.model.start
        end = base if self.data_until is None else min(end, self.data_until)
        first = base + max(1, (start - base) // length + 1) * length
        return range(first, end + 1, length)

    def latest_step(self) -> int | None:
        """Return the index of the newest published 5-minute step."""
        if self.data_until is None or self.data_until <= self.model.start:
            return None
        return (self.data_until - self.model.start) // STEP_S - 1
