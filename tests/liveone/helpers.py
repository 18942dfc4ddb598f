"""Test doubles that are not HTTP: a JSON-only storage, a restartable receiver, sample readings."""

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custom_components.liveone_enphase.liveone import (
    Batch,
    EnergyInterval,
    EnergyTotals,
    Outbox,
    PowerSample,
    Reading,
    interval_readings,
    power_readings,
    total_readings,
)
from sim.clock import ManualClock
from sim.liveone import LiveOneReceiver
from sim.server import SimServer


class MemoryStorage:
    """Keeps the outbox's data as JSON text, as HA's Store would: only JSON survives a save."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        text = self.text
        await asyncio.sleep(0)  # a real store reads in an executor: others run meanwhile
        return None if text is None else json.loads(text)

    async def save(self, data: dict[str, object]) -> None:
        text = json.dumps(data)
        await asyncio.sleep(0)
        self.text = text
        self.saves += 1

    def copy(self) -> MemoryStorage:
        twin = MemoryStorage()
        twin.text = self.text
        return twin


@dataclass
class RestartableReceiver:
    """One receiver (one datastore) served on a fixed loopback port that can go away and back."""

    receiver: LiveOneReceiver
    server: SimServer | None = None
    port: int = 0
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = SimServer(liveone=self.receiver, liveone_port=self.port)
        await self.server.start()
        self.port = int(self.server.liveone_url.rsplit(":", 1)[1])
        self.restarts += 1

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


def sample_readings(at: datetime, step: int) -> list[Reading]:
    """A poll's worth of readings at `at` (HA signs in, LiveOne signs out), varying with `step`."""
    battery_ha = -400.0 - step if step % 2 == 0 else 300.0 + step  # charging on even steps
    solar, load = 2000.0 + step, 1500.0
    grid = load - solar - battery_ha  # HA: load = solar + grid + battery (+ discharging)
    power = PowerSample(
        measured_at=at,
        solar_w=solar,
        load_w=load,
        battery_w=battery_ha,
        grid_w=grid,
        battery_soc_pct=50.0 + step % 40,
    )
    totals = EnergyTotals(
        measured_at=at,
        solar_wh=1_000_000 + 500 * step,
        load_wh=800_000 + 375 * step,
        grid_in_wh=200_000 + 10 * step,
        grid_out_wh=300_000 + 20 * step,
    )
    interval = EnergyInterval(end_at=at, solar_wh=500 + step, load_wh=375)
    return power_readings(power) + total_readings(totals) + interval_readings(interval)


def make_batch(clock: ManualClock, site_id: str, step: int = 0) -> Batch:
    return Batch.create(site_id, sample_readings(clock(), step), created_at=clock())


async def drain_until_empty(outbox: Outbox, clock: ManualClock, *, limit: int = 200) -> int:
    """Drain, moving the clock to each next attempt, until nothing is pending; return drains."""
    for calls in range(1, limit + 1):
        await outbox.drain()
        status = outbox.status
        if status.pending_batches == 0:
            return calls
        assert status.next_attempt_at is not None, status
        if status.next_attempt_at > clock():
            clock.set(status.next_attempt_at)
    raise AssertionError("the outbox did not drain")


def wire_set(batches: list[Batch]) -> dict[tuple[str, datetime], object]:
    """Every reading of `batches` as (key, time) -> value, the receiver's identity of a reading."""
    return {
        (reading.point.key, reading.measured_at): reading.value
        for batch in batches
        for reading in batch.readings
    }
