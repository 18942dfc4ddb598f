"""Budget benchmark: a simulated year of polling at six places, ours against the alternatives.

    .venv/bin/python -m bench.budget [--json PATH] [--days N] [--places A,B] [--jobs N]

Each run (see `bench.simulation`) drives the real planner, ledger, runner and Enphase client
against the simulated cloud for a simulated year, restarting Home Assistant every day.

Requests are served in-process (see `bench.inprocess`): over loopback TCP the year would take
about four times as long. Places run in parallel processes (`--jobs`, default 2).

Columns: calls per UTC month (most in any month: sent to Enphase, and attempted including the
ones the ledger refused), staleness of the shown solar power in daylight (median, 95th
percentile), the share of yesterday's 15-minute intervals held by 09:00, the share of hours
whose imported hourly statistic equals the truth to the Wh (by the end of the next local day,
and by the end of the run), 429 answers received, and restarts that made a poll come earlier
than planned. Every strategy's interval answers go through the statistics importer; one that
fetches none imports nothing.
"""

import argparse
import asyncio
import json
import sys
import time as timer
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

from bench.simulation import START, Simulation, StrategyFactory
from bench.sites import PLACES, Place
from bench.strategies import Fixed, HourlyWithCatchUp, Ours
from custom_components.liveone_enphase.budget.planner import PollPlanner


def _strategies() -> list[tuple[str, StrategyFactory]]:
    return [
        ("ours", lambda calendar, clock: Ours(PollPlanner(calendar, clock))),
        ("seed: 30 min in daylight", lambda c, _: Fixed("seed", timedelta(minutes=30), c)),
        ("hourly + nightly catch-up", lambda c, _: HourlyWithCatchUp(c)),
        ("fixed 15 min", lambda _, __: Fixed("fixed 15 min", timedelta(minutes=15))),
        ("fixed 5 min", lambda _, __: Fixed("fixed 5 min", timedelta(minutes=5))),
    ]


def run_task(task: tuple[Place, int, int]) -> list[dict[str, Any]]:
    """One strategy at one place (in a worker process); the seed also runs ours matched to it."""
    place, index, days = task
    return asyncio.run(_run_task(place, index, days))


async def _run_task(place: Place, index: int, days: int) -> list[dict[str, Any]]:
    name, make = _strategies()[index]
    result = await Simulation(place, name, make, days).run()
    results = [result]
    if index == 1:
        caps = dict(result.sent_by_month)
        matched = await Simulation(
            place,
            "ours, matched to the seed's calls",
            lambda calendar, clock: Ours(PollPlanner(calendar, clock), caps=caps),
            days,
        ).run()
        results.insert(0, matched)
    return [result.to_json() for result in results]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.budget", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--days", type=int, default=365, help="simulated days (default 365)")
    parser.add_argument("--places", help="comma-separated subset of places")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    places = [p for p in PLACES if not args.places or p.name in args.places.split(",")]
    began = timer.perf_counter()
    # The longest runs first, so that the workers finish together.
    order = (1, 0, 4, 3, 2)
    tasks = [(place, index, args.days) for index in order for place in places]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = dict(zip(tasks, pool.map(run_task, tasks), strict=True))
    rows = [
        row for place in places for index in sorted(order) for row in done[place, index, args.days]
    ]
    elapsed = timer.perf_counter() - began
    print(_table(rows, places, args.days, elapsed))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"days": args.days, "start": START.isoformat(), "results": rows}, handle, indent=2
            )
    return 0


def _table(rows: list[dict[str, Any]], places: Sequence[Place], days: int, elapsed: float) -> str:
    kinds = {place.name: place.kind for place in places}
    lines = [
        f"## Budget benchmark: {days} simulated days from {START:%Y-%m-%d}, Watt plan, "
        f"daily restarts ({elapsed:.0f} s)",
        "",
        "| place | strategy | max calls/month sent | attempted | median stale (min) | "
        "p95 stale (min) | intervals by 09:00 | hours exact by next day | hours exact ever | "
        "429s | refused | restart regressions |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row['place']} ({kinds[row['place']]}) | {row['strategy']} | "
        f"{row['max_calls_sent_per_month']} | {row['max_calls_attempted_per_month']} | "
        f"{_minutes(row['daylight_staleness_median_min'])} | "
        f"{_minutes(row['daylight_staleness_p95_min'])} | "
        f"{100 * row['intervals_by_next_morning_share']:.1f}% | "
        f"{_percent(row.get('hours_exact_by_next_day_share'))} | "
        f"{_percent(row.get('hours_exact_ever_share'))} | {row['rate_limited_429']} | "
        f"{row['refused_by_ledger']} | {row['restart_regressions']} |"
        for row in rows
    )
    return "\n".join(lines)


def _minutes(value: float | None) -> str:
    return "∞" if value is None else f"{value:.0f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
