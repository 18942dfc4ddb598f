"""The durable outbox, sending through the real client to the simulated receiver on loopback."""

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from custom_components.liveone_enphase.liveone import (
    Batch,
    DrainResult,
    DropReason,
    LiveOneClient,
    Outbox,
    OutboxLimits,
    OutboxState,
    validate_request,
)
from custom_components.liveone_enphase.liveone.points import SOLAR_W, Point
from sim.clock import ManualClock
from sim.liveone import DEMO_API_KEY, DEMO_SITE_ID, LiveOneReceiver
from sim.server import SimServer

from .helpers import (
    MemoryStorage,
    RestartableReceiver,
    drain_until_empty,
    make_batch,
    wire_set,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)


def outbox_for(
    client: LiveOneClient,
    storage: MemoryStorage,
    clock: ManualClock,
    limits: OutboxLimits | None = None,
    rand: float = 0.5,
) -> Outbox:
    return Outbox(client, storage, clock=clock, limits=limits, rand=lambda: rand)


def stored_set(receiver: LiveOneReceiver) -> dict[tuple[str, object], object]:
    return {(row.key, row.measured_at): row.value for row in receiver.ledger.for_site(DEMO_SITE_ID)}


async def test_a_batch_is_saved_before_any_attempt_and_removed_once_acked(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    outbox = outbox_for(client, storage, clock)
    batch = make_batch(clock, DEMO_SITE_ID)

    await outbox.enqueue(batch)
    assert receiver.requests == []
    assert await storage.load() == {
        "version": 1,
        "batches": [batch.to_dict()],
        "last_ack_at": None,
        "dropped_readings": {},
        "last_drop": None,
    }
    assert outbox.status.next_attempt_at == clock()

    clock.advance(MINUTE)
    assert await outbox.drain() == DrainResult(attempted=1, acked=1, rejected=0)
    status = outbox.status
    assert (status.pending_batches, status.pending_readings, status.state) == (0, 0, "ok")
    assert (status.last_ack_at, status.next_attempt_at) == (clock(), None)
    assert (await storage.load() or {})["batches"] == []
    assert stored_set(receiver) == wire_set([batch])


async def test_the_outbox_survives_a_restart_with_nothing_lost(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    receiver.set_down()
    first = outbox_for(client, storage, clock)
    batches = []
    for step in range(3):
        batches.append(make_batch(clock, DEMO_SITE_ID, step))
        await first.enqueue(batches[-1])
        await first.drain()
        clock.advance(QUARTER)

    second = outbox_for(client, storage, clock)
    await second.load()
    assert second.batches == tuple(batches)
    assert second.status.state is OutboxState.OK  # backoff is not persisted

    receiver.set_down(False)
    await drain_until_empty(second, clock)
    assert stored_set(receiver) == wire_set(batches)
    assert receiver.ledger.duplicates == 0


async def test_a_crash_before_the_removal_is_saved_only_causes_a_resend(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    outbox = outbox_for(client, storage, clock)
    batches = []
    for step in range(2):
        batches.append(make_batch(clock, DEMO_SITE_ID, step))
        await outbox.enqueue(batches[-1])
        clock.advance(QUARTER)
    before_drain = storage.copy()
    await outbox.drain()

    revived = outbox_for(client, before_drain, clock)
    await drain_until_empty(revived, clock)
    assert stored_set(receiver) == wire_set(batches)
    assert receiver.ledger.duplicates == sum(len(b.readings) for b in batches)
    assert len(receiver.ledger) == len(wire_set(batches))


async def test_a_day_long_outage_with_restarts_loses_nothing(
    session: aiohttp.ClientSession, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    live = RestartableReceiver(receiver)
    await live.start()
    client = LiveOneClient(session, live.url, DEMO_SITE_ID, DEMO_API_KEY, timeout=5)
    storage = MemoryStorage()
    outbox = outbox_for(client, storage, clock)
    enqueued: list[Batch] = []
    receiver.set_down()
    try:
        for step in range(96):  # a day of 15-minute polls
            if step in {24, 48, 72}:  # Home Assistant restarts every 6 hours
                outbox = outbox_for(client, storage, clock)
            if step in {40, 80}:  # the receiver goes away entirely: connection refused
                await live.stop()
            if step in {60, 84}:  # ...and comes back on the same port, still dropping connections
                await live.start()
            enqueued.append(make_batch(clock, DEMO_SITE_ID, step))
            await outbox.enqueue(enqueued[-1])
            await outbox.drain()
            clock.advance(QUARTER)

        attempts_while_down = len(receiver.posts())
        assert live.restarts == 3
        assert outbox.status.pending_batches == 96
        assert outbox.status.state is OutboxState.BACKOFF
        assert len(receiver.ledger) == 0

        receiver.set_down(False)
        drains = await drain_until_empty(outbox, clock)
    finally:
        await live.stop()

    assert stored_set(receiver) == wire_set(enqueued)
    assert receiver.ledger.duplicates == 0
    assert len(receiver.posts()) - attempts_while_down == 96  # each batch sent once
    assert attempts_while_down <= 96  # never more than one attempt per poll while down
    assert drains == 5  # the backoff (at most 15 min) is over: 96 batches at 20 a drain
    assert outbox.status.dropped_total == 0
    labels = [record.session_label for record in receiver.posts() if record.status == 200]
    assert labels == [batch.session_label for batch in enqueued]  # oldest first
    bodies = [record.body for record in receiver.posts() if record.status == 200]
    assert len(bodies) == 96
    assert all(validate_request(body) == [] for body in bodies)


async def test_a_wrong_key_pauses_once_without_a_retry_storm_and_resume_drains(
    session: aiohttp.ClientSession,
    server: SimServer,
    receiver: LiveOneReceiver,
    clock: ManualClock,
) -> None:
    wrong = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, "typo-key")
    outbox = outbox_for(wrong, MemoryStorage(), clock)
    enqueued = []
    for step in range(36):  # three hours of 5-minute polls
        enqueued.append(make_batch(clock, DEMO_SITE_ID, step))
        await outbox.enqueue(enqueued[-1])
        await outbox.drain()
        clock.advance(timedelta(minutes=5))

    status = outbox.status
    assert status.state is OutboxState.PAUSED_AUTH
    assert status.last_error is not None
    assert "HTTP 401" in status.last_error
    assert [record.status for record in receiver.posts()] == [401] * 3  # first, probes at 1 h, 2 h
    assert status.pending_batches == 36

    right = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY)
    outbox.resume(right)
    assert outbox.status.next_attempt_at == clock()
    await drain_until_empty(outbox, clock)
    assert stored_set(receiver) == wire_set(enqueued)
    acked = [r.session_label for r in receiver.posts() if r.status == 200]
    assert acked == [batch.session_label for batch in enqueued]


async def test_a_probe_notices_a_key_fixed_on_liveones_side(
    session: aiohttp.ClientSession,
    server: SimServer,
    receiver: LiveOneReceiver,
    clock: ManualClock,
) -> None:
    receiver.sites[DEMO_SITE_ID] = None  # the owner has not created the key yet
    client = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY)
    outbox = outbox_for(client, MemoryStorage(), clock)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    await outbox.drain()
    paused = outbox.status
    assert (paused.state, paused.next_attempt_at) == (OutboxState.PAUSED_AUTH, clock() + HOUR)

    receiver.sites[DEMO_SITE_ID] = DEMO_API_KEY
    clock.advance(HOUR - MINUTE)
    assert await outbox.drain() == DrainResult()
    clock.advance(MINUTE)
    assert await outbox.drain() == DrainResult(attempted=1, acked=1)
    assert outbox.status.state is OutboxState.OK


async def test_a_probe_that_fails_transiently_keeps_the_pause(
    session: aiohttp.ClientSession,
    server: SimServer,
    receiver: LiveOneReceiver,
    clock: ManualClock,
) -> None:
    wrong = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, "typo-key")
    outbox = outbox_for(wrong, MemoryStorage(), clock)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    await outbox.drain()
    receiver.force_status(503, count=1)
    clock.advance(HOUR)
    assert await outbox.drain() == DrainResult(attempted=1)

    status = outbox.status
    assert (status.state, status.next_attempt_at) == (OutboxState.PAUSED_AUTH, clock() + HOUR)
    assert status.last_error is not None
    assert "HTTP 401" in status.last_error
    assert [record.status for record in receiver.posts()] == [401, 503]


async def test_enqueue_during_the_first_load_waits_for_it(
    client: LiveOneClient, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    earlier = make_batch(clock, DEMO_SITE_ID, 0)
    await outbox_for(client, storage, clock).enqueue(earlier)
    clock.advance(QUARTER)
    later = make_batch(clock, DEMO_SITE_ID, 1)

    outbox = outbox_for(client, storage, clock)
    await asyncio.gather(outbox.load(), outbox.enqueue(later))
    assert outbox.batches == (earlier, later)
    assert [b["session_label"] for b in (await storage.load() or {})["batches"]] == [
        earlier.session_label,
        later.session_label,
    ]


async def test_an_unknown_site_pauses_and_resume_sends_the_backlog_to_the_fixed_site(
    session: aiohttp.ClientSession,
    server: SimServer,
    receiver: LiveOneReceiver,
    clock: ManualClock,
) -> None:
    typo = LiveOneClient(session, server.liveone_url, "demo-enphase-sight", DEMO_API_KEY)
    limits = OutboxLimits(pause_probe_interval=None)
    outbox = outbox_for(typo, MemoryStorage(), clock, limits)
    batch = make_batch(clock, "demo-enphase-sight")
    await outbox.enqueue(batch)
    await outbox.drain()
    assert outbox.status.state is OutboxState.PAUSED_UNKNOWN_SITE
    assert outbox.status.next_attempt_at is None

    clock.advance(timedelta(days=2))
    assert await outbox.drain() == DrainResult()
    assert len(receiver.posts()) == 1

    fixed = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY)
    outbox.resume(fixed)
    await outbox.drain()
    assert stored_set(receiver) == wire_set([batch])


async def test_a_url_that_is_not_liveone_pauses(
    session: aiohttp.ClientSession, server: SimServer, clock: ManualClock
) -> None:
    wrong_path = LiveOneClient(session, f"{server.liveone_url}/v2", DEMO_SITE_ID, DEMO_API_KEY)
    outbox = outbox_for(wrong_path, MemoryStorage(), clock)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    await outbox.drain()
    assert outbox.status.state is OutboxState.PAUSED_INVALID_URL
    assert outbox.status.state.paused
    assert not OutboxState.BACKOFF.paused


async def test_a_rejected_batch_is_dropped_and_recorded_and_the_rest_still_go(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    outbox = outbox_for(client, storage, clock)
    unstorable = Batch.create(
        DEMO_SITE_ID, [Point("mystery", "", "").reading(1, clock())], created_at=clock()
    )
    good = make_batch(clock, DEMO_SITE_ID)
    await outbox.enqueue(unstorable)
    await outbox.enqueue(good)

    assert await outbox.drain() == DrainResult(attempted=2, acked=1, rejected=1)
    status = outbox.status
    assert status.dropped_readings == {DropReason.REJECTED: 1}
    assert status.last_drop is not None
    assert (status.last_drop.reason, status.last_drop.batches, status.last_drop.readings) == (
        DropReason.REJECTED,
        1,
        1,
    )
    assert "HTTP 422" in status.last_drop.detail
    assert stored_set(receiver) == wire_set([good])

    revived = outbox_for(client, storage, clock)
    await revived.load()
    assert revived.status.dropped_readings == {DropReason.REJECTED: 1}
    assert revived.status.last_drop == status.last_drop
    assert revived.status.last_ack_at == clock()


async def test_transient_failures_back_off_exponentially_up_to_the_cap(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    outbox = outbox_for(client, MemoryStorage(), clock, rand=0.0)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    receiver.force_status(503)
    waits = []
    for _ in range(9):
        await outbox.drain()
        status = outbox.status
        assert status.next_attempt_at is not None
        waits.append((status.next_attempt_at - clock()).total_seconds())
        assert await outbox.drain() == DrainResult()  # nothing before the wait is over
        clock.set(status.next_attempt_at)

    assert waits == [5, 10, 20, 40, 80, 160, 320, 450, 450]  # half of 10 s * 2^n, cap 15 min
    assert outbox.status.consecutive_failures == 9
    assert outbox.status.last_error == "LiveOne is unavailable (HTTP 503: datastore unavailable)"
    assert len(receiver.posts()) == 9

    receiver.clear_faults()
    await outbox.drain()
    assert (outbox.status.state, outbox.status.consecutive_failures) == (OutboxState.OK, 0)


@pytest.mark.parametrize(("rand", "wait"), [(0.0, 5.0), (0.5, 7.5), (0.999, 9.995)])
async def test_the_jitter_comes_from_the_injected_source(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock, rand: float, wait: float
) -> None:
    outbox = outbox_for(client, MemoryStorage(), clock, rand=rand)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    receiver.force_status(500)
    await outbox.drain()
    assert outbox.status.next_attempt_at == clock() + timedelta(seconds=wait)


@pytest.mark.parametrize(("retry_after", "wait"), [(120, 120), (100_000, 900)])
async def test_retry_after_is_honoured_up_to_the_cap(
    client: LiveOneClient,
    receiver: LiveOneReceiver,
    clock: ManualClock,
    retry_after: int,
    wait: int,
) -> None:
    outbox = outbox_for(client, MemoryStorage(), clock)
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    receiver.force_status(429, retry_after=retry_after)
    await outbox.drain()
    assert outbox.status.next_attempt_at == clock() + timedelta(seconds=wait)


async def test_a_timeout_keeps_the_batch(
    session: aiohttp.ClientSession, server: SimServer, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    client = LiveOneClient(session, server.liveone_url, DEMO_SITE_ID, DEMO_API_KEY, timeout=0.05)
    outbox = outbox_for(client, MemoryStorage(), clock)
    batch = make_batch(clock, DEMO_SITE_ID)
    await outbox.enqueue(batch)
    receiver.set_slow()
    await outbox.drain()
    assert outbox.status.state is OutboxState.BACKOFF
    assert outbox.batches == (batch,)

    receiver.release_slow()
    await drain_until_empty(outbox, clock)
    assert stored_set(receiver) == wire_set([batch])


async def test_the_size_bound_drops_the_oldest_and_records_it(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    batches = [make_batch(clock, DEMO_SITE_ID, step) for step in range(4)]
    size = len(batches[0].readings)
    outbox = outbox_for(client, storage, clock, OutboxLimits(max_readings=2 * size + 1))
    for batch in batches:
        await outbox.enqueue(batch)

    status = outbox.status
    assert outbox.batches == tuple(batches[2:])
    assert status.dropped_readings == {DropReason.MAX_READINGS: 2 * size}
    assert status.last_drop is not None
    assert (status.last_drop.batches, status.last_drop.readings) == (1, size)
    assert status.last_drop.detail == f"over {2 * size + 1} readings"
    with pytest.raises(ValueError, match="larger than the outbox"):
        await outbox.enqueue(_big(clock, 3 * size))
    assert receiver.requests == []


def _big(clock: ManualClock, count: int) -> Batch:
    readings = [SOLAR_W.reading(i, clock() + timedelta(minutes=i)) for i in range(count)]
    return Batch.create(DEMO_SITE_ID, readings, created_at=clock())


async def test_the_age_bound_drops_batches_no_one_could_deliver_for_30_days(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    receiver.set_down()
    outbox = outbox_for(client, MemoryStorage(), clock)
    old = make_batch(clock, DEMO_SITE_ID, 0)
    await outbox.enqueue(old)
    await outbox.drain()
    clock.advance(timedelta(days=30))
    fresh = make_batch(clock, DEMO_SITE_ID, 1)
    await outbox.enqueue(fresh)
    assert outbox.batches == (old, fresh)  # exactly 30 days old is still kept

    clock.advance(MINUTE)
    receiver.set_down(False)
    await outbox.drain()
    assert outbox.status.dropped_readings == {DropReason.MAX_AGE: len(old.readings)}
    assert stored_set(receiver) == wire_set([fresh])


async def test_the_batch_in_flight_is_never_dropped(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    batches = []
    for step in range(3):
        batches.append(make_batch(clock, DEMO_SITE_ID, step))
        clock.advance(QUARTER)
    size = len(batches[0].readings)
    outbox = outbox_for(client, MemoryStorage(), clock, OutboxLimits(max_readings=2 * size))
    await outbox.enqueue(batches[0])
    await outbox.enqueue(batches[1])
    receiver.set_slow()
    draining = asyncio.create_task(outbox.drain())
    await receiver.wait_for_waiting(1)

    assert await outbox.drain() == DrainResult()  # a second drain does not overlap the first
    await outbox.enqueue(batches[2])  # over the bound while the oldest is in flight
    receiver.release_slow()
    await draining
    await drain_until_empty(outbox, clock)

    assert outbox.status.dropped_readings == {DropReason.MAX_READINGS: size}
    assert stored_set(receiver) == wire_set([batches[0], batches[2]])


async def test_each_drain_sends_a_bounded_number_of_batches(
    client: LiveOneClient, receiver: LiveOneReceiver, clock: ManualClock
) -> None:
    storage = MemoryStorage()
    outbox = outbox_for(client, storage, clock, OutboxLimits(batches_per_drain=4))
    for step in range(6):
        await outbox.enqueue(make_batch(clock, DEMO_SITE_ID, step))
        clock.advance(timedelta(seconds=1))
    saves = storage.saves

    assert await outbox.drain() == DrainResult(attempted=4, acked=4)
    assert outbox.status.next_attempt_at == clock()  # more to send right away
    assert storage.saves == saves + 1  # one save per drain call
    assert await outbox.drain() == DrainResult(attempted=2, acked=2)
    assert await outbox.drain() == DrainResult()
    assert storage.saves == saves + 2  # nothing changed, nothing saved


async def test_listeners_hear_every_change_until_they_unsubscribe(
    client: LiveOneClient, clock: ManualClock
) -> None:
    outbox = outbox_for(client, MemoryStorage(), clock)
    heard: list[int] = []
    unsubscribe = outbox.add_listener(lambda: heard.append(outbox.status.pending_batches))
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID))
    await outbox.drain()
    outbox.resume()
    unsubscribe()
    await outbox.enqueue(make_batch(clock, DEMO_SITE_ID, 1))
    assert heard == [1, 0, 0]


async def test_unreadable_storage_is_recorded_not_fatal(
    client: LiveOneClient, clock: ManualClock
) -> None:
    good = make_batch(clock, DEMO_SITE_ID)
    storage = MemoryStorage()
    await storage.save(
        {
            "version": 1,
            "batches": [good.to_dict(), {"readings": [1, 2, 3]}, "junk"],
            "last_ack_at": "not a time",
            "dropped_readings": {"rejected": 4, "made_up": 1, "max_age": "x"},
            "last_drop": {"at": "2026-06-01T00:00:00Z", "reason": "rejected"},
        }
    )
    outbox = outbox_for(client, storage, clock)
    await outbox.load()
    await outbox.load()  # loading twice does not duplicate anything

    status = outbox.status
    assert outbox.batches == (good,)
    assert status.last_ack_at is None
    assert status.dropped_readings == {DropReason.REJECTED: 4, DropReason.UNREADABLE: 3}
    assert status.last_drop is not None
    assert (status.last_drop.reason, status.last_drop.batches) == (DropReason.UNREADABLE, 2)


@pytest.mark.parametrize(
    "data",
    [{"version": 2, "batches": []}, {"version": 1, "batches": "all"}],
)
async def test_data_of_an_unknown_version_is_recorded_and_set_aside(
    client: LiveOneClient, clock: ManualClock, data: dict[str, object]
) -> None:
    storage = MemoryStorage()
    await storage.save(data)
    outbox = outbox_for(client, storage, clock)
    await outbox.drain()
    status = outbox.status
    assert status.pending_batches == 0
    assert status.last_drop is not None
    assert status.last_drop.reason is DropReason.UNREADABLE
    assert status.last_drop.detail == "outbox data of an unknown version"
