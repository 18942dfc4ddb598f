"""`python -m sim serve`: run the simulators on the wall clock until stopped.

Prints one JSON line with the URLs and the (fixed, fake) demo credentials, so a demo or a test
can start it as a subprocess and read what it needs.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sim.clock import Clock, SystemClock
from sim.enphase import EnphaseCloud, SiteConfig
from sim.server import Installable, SimServer


def _liveone(clock: Clock) -> tuple[Installable | None, dict[str, Any]]:
    """Build the LiveOne receiver with its demo site, when that simulator is available."""
    try:
        from sim import liveone  # noqa: PLC0415 - optional: built separately
    except ImportError:
        return None, {}
    site_id, api_key = liveone.DEMO_SITE_ID, liveone.DEMO_API_KEY
    receiver: Installable = liveone.LiveOneReceiver(clock=clock, sites={site_id: api_key})
    return receiver, {"liveone_site_id": site_id, "liveone_api_key": api_key}


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Start the servers, announce them, and run until `stop` is set (default: a signal)."""
    clock = SystemClock()
    cloud = EnphaseCloud(
        clock=clock,
        sites=[
            replace(site, seed=site.seed + args.seed)
            for site in (SiteConfig.demo_battery(), SiteConfig.demo_solar_only())
        ],
        seed=args.seed,
        my_redirect=args.my_redirect,
    )
    receiver, liveone_info = _liveone(clock)
    server = SimServer(
        enphase=cloud,
        liveone=receiver,
        host=args.host,
        enphase_port=args.port,
        liveone_port=args.liveone_port,
    )
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        announcement: dict[str, Any] = {
            "enphase_base_url": server.enphase_url,
            "client_id": cloud.client_id,
            "client_secret": cloud.client_secret,
            "api_key": cloud.api_key,
            "system_ids": cloud.system_ids,
        }
        if receiver is not None:
            announcement |= {"liveone_url": server.liveone_url, **liveone_info}
        sys.stdout.write(json.dumps(announcement) + "\n")
        sys.stdout.flush()
        await stop.wait()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the simulators until stopped")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8400, help="Enphase cloud port (0: any)")
    serve_parser.add_argument("--liveone-port", type=int, default=0, help="LiveOne port (0: any)")
    serve_parser.add_argument(
        "--seed", type=int, default=0, help="seed for the weather, tokens and codes"
    )
    serve_parser.add_argument(
        "--my-redirect",
        default=None,
        help="Home Assistant URL that stands in for My Home Assistant's OAuth redirect",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run."""
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
