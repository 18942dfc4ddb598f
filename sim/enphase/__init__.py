"""A simulator of the Enphase cloud: OAuth, the Monitoring API v4, plans, lag and faults."""

from sim.enphase.cloud import EnphaseCloud
from sim.enphase.config import Address, ConsumptionMetering, Plan, SiteConfig
from sim.enphase.faults import FaultKind, FaultRule, Faults
from sim.enphase.ledger import RequestRecord
from sim.enphase.oauth import Application
from sim.enphase.physics import Channel, StepPower
from sim.enphase.truth import Counters, Truth

__all__ = [
    "Address",
    "Application",
    "Channel",
    "ConsumptionMetering",
    "Counters",
    "EnphaseCloud",
    "FaultKind",
    "FaultRule",
    "Faults",
    "Plan",
    "RequestRecord",
    "SiteConfig",
    "StepPower",
    "Truth",
]
