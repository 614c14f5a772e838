"""Benchmark: N grants, then N revokes, against each grant target's fake with realistic latency
and the target's documented rate limit enforced by the fake.

    python bench/grants.py [--count 1000] [--latency 0.1] [--concurrency 10] [--target aws-sso]

Every target in bench/grant_targets/ runs unless `--target` picks some. Grants and revokes go
through the real granter, over real HTTP, `--concurrency` at a time; one that fails (throttled past
the SDK's retries) is tried again after a second, as the scheduler would after its backoff.

Reported per target, as ratios:
- requests per grant and per revoke (throttled ones included) ÷ the fewest the API allows;
- wall time ÷ the bound the documented rate limit sets for the fewest requests
  (N × fewest ÷ rate), and ÷ the bound for the requests actually made. A limit that counts only
  some requests (GitHub's, content-creating ones) bounds by those alone.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import pkgutil
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import grant_targets
from bench.grant_targets.common import BenchTarget
from core.ports import Grant

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
Make = Callable[[int, float], AbstractAsyncContextManager[BenchTarget]]


def targets() -> dict[str, Make]:
    found: dict[str, Make] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(grant_targets.__path__)):
        make = getattr(importlib.import_module(f"bench.grant_targets.{module}"), "target", None)
        if make is not None:
            found[module.replace("_", "-")] = make
    return found


async def run_all(
    work: Callable[[int], Awaitable[dict[str, Any]]], count: int, concurrency: int
) -> tuple[list[dict[str, Any]], int]:
    """Every item once, `concurrency` at a time, a failed one tried again after a second."""
    results: list[dict[str, Any]] = [{} for _ in range(count)]
    retried = 0
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal retried
        for attempt in range(10):
            async with gate:
                try:
                    results[i] = await work(i)
                    return
                except Exception:
                    if attempt == 9:
                        raise
                    retried += 1
            await asyncio.sleep(1.0)

    await asyncio.gather(*(one(i) for i in range(count)))
    return results, retried


async def bench(make: Make, count: int, latency: float, concurrency: int) -> dict[str, Any]:
    async with make(count, latency) as t:
        grants = [
            Grant(
                request_id=f"bench{i}",
                resource="bench",
                email=email,
                start=START,
                end=START + timedelta(hours=1),
                approvers=(),
                reason="",
                spec=t.spec,
            )
            for i, email in enumerate(t.emails[:count])
        ]
        limited = t.limited_calls or t.calls
        calls0, limited0, started = t.calls(), limited(), time.perf_counter()
        receipts, grant_retries = await run_all(
            lambda i: t.granter.grant(grants[i]), count, concurrency
        )
        grant_time, grant_calls = time.perf_counter() - started, t.calls() - calls0
        grant_limited = limited() - limited0
        held_after_grants = await t.held()
        granted = [replace(g, receipt=r) for g, r in zip(grants, receipts, strict=True)]
        calls0, limited0, started = t.calls(), limited(), time.perf_counter()
        _, revoke_retries = await run_all(
            lambda i: t.granter.revoke(granted[i]), count, concurrency
        )
        revoke_time, revoke_calls = time.perf_counter() - started, t.calls() - calls0
        revoke_limited = limited() - limited0
        return {
            "target": t.name,
            "count": count,
            "held_after_grants": held_after_grants,
            "held_after_revokes": await t.held(),
            "grant": _phase(
                (grant_calls, grant_limited),
                grant_time,
                grant_retries,
                (t.fewest_grant_calls, t.fewest_limited_grant_calls or t.fewest_grant_calls),
                t,
                count,
            ),
            "revoke": _phase(
                (revoke_calls, revoke_limited),
                revoke_time,
                revoke_retries,
                (t.fewest_revoke_calls, t.fewest_limited_revoke_calls or t.fewest_revoke_calls),
                t,
                count,
            ),
            "throttled": t.throttled(),
            "rate": t.rate_source,
        }


def _phase(
    made: tuple[int, int],
    wall: float,
    retries: int,
    fewest: tuple[int, int],
    t: BenchTarget,
    count: int,
) -> dict[str, float]:
    """`made` and `fewest`: (every request, the requests the rate limit counts)."""
    (calls, limited), (fewest_calls, fewest_limited) = made, fewest
    bound_fewest = count * fewest_limited / t.rate_per_second
    return {
        "calls_per_item": calls / count,
        "calls_ratio": calls / (count * fewest_calls),
        "limited_per_item": limited / count,
        "wall_s": wall,
        "bound_fewest_s": bound_fewest,
        "wall_ratio_fewest": wall / bound_fewest,
        "wall_ratio_made": wall / (limited / t.rate_per_second) if limited else float("nan"),
        "retried": retries,
    }


def report(result: dict[str, Any]) -> None:
    print(f"== {result['target']}: {result['count']} grants then revokes ({result['rate']})")
    print(
        f"   held after grants {result['held_after_grants']}, after revokes "
        f"{result['held_after_revokes']}; {result['throttled']} requests throttled"
    )
    for phase in ("grant", "revoke"):
        p = result[phase]
        counted = (
            f" ({p['limited_per_item']:.2f} counted by the rate limit)"
            if p["limited_per_item"] != p["calls_per_item"]
            else ""
        )
        print(
            f"   {phase}: {p['calls_per_item']:.2f} requests each{counted} = "
            f"{p['calls_ratio']:.2f} x the fewest; wall {p['wall_s']:.1f} s = {p['wall_ratio_fewest']:.2f} x the rate-limit "
            f"bound for the fewest ({p['bound_fewest_s']:.1f} s), {p['wall_ratio_made']:.2f} x "
            f"for the requests made; {p['retried']:.0f} retried after a throttled failure"
        )


async def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--target", action="append", choices=sorted(targets()))
    args = parser.parse_args()
    for name, make in targets().items():
        if args.target and name not in args.target:
            continue
        report(await bench(make, args.count, args.latency, args.concurrency))


if __name__ == "__main__":
    asyncio.run(main())
