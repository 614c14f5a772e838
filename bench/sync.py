"""Benchmark: one full PagerDuty roster sync of a large fake organisation.

    python bench/sync.py [--scale 1.0] [--latency 0.05] [--limit 960] [--concurrency 8]

The fake (10,000 users, 1,000 schedules, 300 escalation policies at scale 1) runs in a child
process, answering every call after `--latency` seconds and enforcing `--limit` requests per
rolling minute, so the numbers below are the client's own: real sockets, real waits.

Reported, as ratios:
- API calls made ÷ the fewest that pagination allows (100 per page for each list, the user list
  up to PagerDuty's 10,000-offset cap, one look-up per person on call past that cap, one page per
  team's members, one page of shift-based schedules; a schedule no escalation policy uses costs
  nothing more, its final schedule comes with the schedules' pages);
- wall time ÷ the lower bound that the provider's rate limit and the latency impose. The fake
  counts requests over a rolling minute, as "960 requests per minute" reads: the first `limit`
  may go at once, and request k + limit no sooner than a minute after request k, so the bound is
  max(two round trips, ⌊(fewest − 1) ÷ limit⌋ minutes + one round trip). The fluid figure
  (calls − limit) ÷ (limit / 60 s), which a rolling window cannot reach, is shown beside it;
  also against the bound of the client's own settings (burst, sustained rate, concurrency);
- peak memory: the syncing process's peak RSS, and how much the sync added to it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import resource
import sys
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider
from adapters.providerhttp import RateLimit

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
PAGE = 100
OFFSET_CAP = 10_000  # PagerDuty lists no further than this per query


def serve(conn: Connection, options: dict[str, Any]) -> None:
    """Child process: the fake PagerDuty, until the parent asks for its statistics."""
    from tests.fakes.pagerduty import FakePagerDuty, generate_org

    async def run() -> None:
        fake = FakePagerDuty(
            api_keys={"benchkey"},
            now=lambda: NOW,
            latency=options["latency"],
            rate_limit=(options["limit"], 60.0),
            record_bodies=False,
        )
        shape = generate_org(
            fake,
            users=options["users"],
            schedules=options["schedules"],
            escalation_policies=options["policies"],
            seed=options["seed"],
            now=NOW,
        )
        team_pages = sum(max(1, math.ceil(len(t.members) / PAGE)) for t in fake.teams.values())
        listed = set(list(fake.users)[:OFFSET_CAP])  # the users /users pages can reach
        targeted = {t.id for p in fake.policies.values() for level in p.levels for t in level}
        past_cap = {  # on call now on a schedule no policy uses, and past the listing cap
            shift.user_id
            for shift in fake.shifts
            if shift.schedule_id not in targeted
            and shift.start <= NOW < shift.end
            and shift.user_id not in listed
        }
        async with fake:
            conn.send(
                {
                    "url": fake.url,
                    "shape": shape.__dict__,
                    "team_pages": team_pages,
                    "lookups": len(past_cap),
                }
            )
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send(
                {
                    "requests": len(fake.requests),
                    "throttled": fake.throttled,
                    "max_in_window": fake.max_in_window,
                    "errors": sum(1 for r in fake.requests if r.status >= 400),
                }
            )

    asyncio.run(run())


def fewest_calls(shape: dict[str, int], team_pages: int, lookups: int) -> int:
    pages = sum(
        math.ceil(shape[key] / PAGE)
        for key in ("schedules", "escalation_policies", "oncall_entries", "teams")
    )
    user_pages = min(math.ceil(shape["users"] / PAGE), OFFSET_CAP // PAGE)  # the listing cap
    # + one `/v3/schedules` page, + one `/users/{id}` per person on call past the cap
    return pages + user_pages + team_pages + 1 + lookups


async def sync(url: str, options: dict[str, Any]) -> dict[str, Any]:
    limit = RateLimit(options["limit"], 60.0)
    client = PagerDutyClient(
        api_key="benchkey",
        base_url=url,
        rate_limit=limit,
        max_concurrency=options["concurrency"],
    )
    provider = PagerDutyRosterProvider(client, now=lambda: NOW)
    baseline = _peak_rss()
    started = time.perf_counter()
    cpu = time.process_time()
    result = await provider.fetch()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = _peak_rss()
    await provider.aclose()
    return {
        "wall": wall,
        "calls": result.api_calls,
        "retries": client.http.stats.retries,
        "peak": peak,
        "growth": peak - baseline,
        "cpu": cpu,
        "counts": result.snapshot.counts,
        "warnings": len(result.snapshot.warnings),
        "burst": limit.burst,
        "rate": limit.sustained,
    }


def _peak_rss() -> float:
    """Peak resident memory of this process in MiB (the fake runs in another process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the org's size")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--schedules", type=int, default=1_000)
    parser.add_argument("--policies", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--limit", type=int, default=960, help="requests per minute")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    options = {
        "users": max(1, round(args.users * args.scale)),
        "schedules": max(1, round(args.schedules * args.scale)),
        "policies": max(1, round(args.policies * args.scale)),
        "latency": args.latency,
        "limit": args.limit,
        "concurrency": args.concurrency,
        "seed": args.seed,
    }
    parent, child = mp.get_context("spawn").Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(child, options), daemon=True)
    server.start()
    info = parent.recv()
    run = asyncio.run(sync(info["url"], options))
    parent.send("stop")
    fake = parent.recv()
    server.join(10)

    shape, calls = info["shape"], run["calls"]
    fewest = fewest_calls(shape, info["team_pages"], info["lookups"])
    latency, per_second = args.latency, args.limit / 60.0
    minutes = (fewest - 1) // args.limit
    provider_bound = max(2 * latency, minutes * 60.0 + latency if minutes else 0.0, 1e-3)
    fluid_bound = max(2 * latency, max(0, fewest - args.limit) / per_second + latency, 1e-3)
    own_bound = max(
        ((fewest - 1) // run["burst"]) * run["burst"] / run["rate"] + latency,
        math.ceil(fewest / args.concurrency) * latency,
        2 * latency,
    )
    print(
        f"organisation: {shape['users']:,} users, {shape['schedules']:,} schedules "
        f"({shape['unused_schedules']} used by no policy), {shape['escalation_policies']} "
        f"escalation policies, {shape['teams']} teams, {shape['oncall_entries']:,} on-call "
        f"entries; scale {args.scale:g}"
    )
    print(f"conditions: {latency * 1000:.0f} ms per call, {args.limit}/min rolling limit, "
          f"client concurrency {args.concurrency}, burst {run['burst']:.0f}, "
          f"sustained {run['rate']:.1f}/s")  # fmt: skip
    print(f"snapshot: {run['counts']}, {run['warnings']} warnings")
    print(f"API calls: {calls} made / {fewest} fewest = {calls / fewest:.3f}  "
          f"(retries {run['retries']}; fake saw {fake['requests']}, throttled {fake['throttled']}, "
          f"peak {fake['max_in_window']} in any 60 s)")  # fmt: skip
    print(f"wall time: {run['wall']:.2f} s / {provider_bound:.2f} s provider bound = "
          f"{run['wall'] / provider_bound:.2f}; / {own_bound:.2f} s own-budget bound = "
          f"{run['wall'] / own_bound:.2f}; / {fluid_bound:.2f} s fluid bound = "
          f"{run['wall'] / fluid_bound:.2f}")  # fmt: skip
    print(f"peak memory: {run['peak']:.0f} MiB peak RSS of the syncing process, of which "
          f"{run['growth']:.0f} MiB added by the sync ({run['growth'] * 2**20 / shape['users']:.0f}"
          f" B per user); client CPU {run['cpu']:.2f} s")  # fmt: skip
    counts = run["counts"]
    complete = counts["people"] == shape["users"] and counts["shifts"] >= shape["oncall_entries"]
    oncalls = counts["shifts"] >= shape["oncall_entries"]
    print(f"complete: {'yes' if complete else 'NO'} (every user and every on-call entry synced); "
          f"on-call entries: {'all' if oncalls else 'NOT all'}; people known "
          f"{counts['people']:,} of {shape['users']:,}")  # fmt: skip


if __name__ == "__main__":
    main()
