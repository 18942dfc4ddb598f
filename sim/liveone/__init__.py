"""A simulated LiveOne receiver (`/api/gush`) for tests, the demo and benchmarks.

It answers every status of the contract, stores idempotently in a ledger tests can query, logs
each request and has fault switches (down, forced statuses, slow).
"""

from sim.liveone.ledger import Ledger, StoredReading
from sim.liveone.receiver import DEMO_API_KEY, DEMO_SITE_ID, PATH, LiveOneReceiver, RequestRecord

__all__ = [
    "DEMO_API_KEY",
    "DEMO_SITE_ID",
    "PATH",
    "Ledger",
    "LiveOneReceiver",
    "RequestRecord",
    "StoredReading",
]
