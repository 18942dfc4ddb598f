"""Pushing readings to LiveOne: points and batches, the push client and the durable outbox.

Pure (aiohttp and stdlib only, no Home Assistant), so it can be tested against `sim.liveone`.
"""

from .batch import (
    MAX_READINGS_PER_BATCH,
    Batch,
    make_batches,
    session_label,
    store_request,
    validate_batch,
    validate_request,
)
from .client import DEFAULT_TIMEOUT, GUSH_PATH, LiveOneClient, StoreResult, gush_url
from .errors import (
    LiveOneAuthError,
    LiveOneBatchRejectedError,
    LiveOneError,
    LiveOneInvalidUrlError,
    LiveOneTransientError,
    LiveOneUnknownSiteError,
)
from .outbox import (
    BatchSender,
    DrainResult,
    DropReason,
    DropRecord,
    Outbox,
    OutboxLimits,
    OutboxState,
    OutboxStatus,
    OutboxStorage,
)
from .points import (
    POINTS,
    EnergyInterval,
    EnergyTotals,
    Point,
    PowerSample,
    Reading,
    ha_to_liveone_power,
    interval_readings,
    power_readings,
    total_readings,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "GUSH_PATH",
    "MAX_READINGS_PER_BATCH",
    "POINTS",
    "Batch",
    "BatchSender",
    "DrainResult",
    "DropReason",
    "DropRecord",
    "EnergyInterval",
    "EnergyTotals",
    "LiveOneAuthError",
    "LiveOneBatchRejectedError",
    "LiveOneClient",
    "LiveOneError",
    "LiveOneInvalidUrlError",
    "LiveOneTransientError",
    "LiveOneUnknownSiteError",
    "Outbox",
    "OutboxLimits",
    "OutboxState",
    "OutboxStatus",
    "OutboxStorage",
    "Point",
    "PowerSample",
    "Reading",
    "StoreResult",
    "gush_url",
    "ha_to_liveone_power",
    "interval_readings",
    "make_batches",
    "power_readings",
    "session_label",
    "store_request",
    "total_readings",
    "validate_batch",
    "validate_request",
]
