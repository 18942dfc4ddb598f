"""Physical truth, unlagged and unpublished, for tests and benchmarks to compare against."""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sim.clock import Clock
from sim.enphase.faults import Faults
from sim.enphase.physics import STEP_S, Channel, SiteModel, StepPower
from sim.enphase.system import SimSystem


@dataclass(frozen=True, slots=True)
class Counters:
    """Energy per channel in Wh (cumulative, or over a span)."""

    solar_wh: int
    load_wh: int
    import_wh: int
    export_wh: int
    charge_wh: int
    discharge_wh: int


class Truth:
    """What really happened at each site, whatever the cloud has published."""

    def __init__(self, systems: Mapping[int, SimSystem], clock: Clock, faults: Faults) -> None:
        self._systems = systems
        self._clock = clock
        self._faults = faults

    def model(self, system_id: int) -> SiteModel:
        """Return the site's physics model."""
        return self._systems[system_id].model

    def power_at(self, system_id: int, when: datetime | None = None) -> StepPower:
        """Return average power over the 5-minute step that holds `when` (default: now)."""
        model = self.model(system_id)
        moment = int((when or self._clock()).timestamp())
        return model.power(max(0, (moment - model.start - 1) // STEP_S))

    def lifetime(self, system_id: int, when: datetime | None = None) -> Counters:
        """Return the counters at the last step boundary at or before `when` (default: now)."""
        model = self.model(system_id)
        boundary = model.step_index(int((when or self._clock()).timestamp()))
        return Counters(*(model.cumulative(channel, boundary) for channel in Channel))

    def energy(self, system_id: int, start: datetime, end: datetime) -> Counters:
        """Return the energy of the steps between two instants (floored to step boundaries)."""
        before = self.lifetime(system_id, start)
        after = self.lifetime(system_id, end)
        return Counters(
            *(getattr(after, f.name) - getattr(before, f.name) for f in fields(Counters))
        )

    def published_until(self, system_id: int, when: datetime | None = None) -> datetime | None:
        """Return the end of the data the cloud shows at `when` (default: now), if any."""
        system = self._systems[system_id]
        view = system.view(when or self._clock(), self._faults.outages.get(system_id, []))
        return None if view.data_until is None else datetime.fromtimestamp(view.data_until, UTC)
