"""Benchmark: one full roster sync of a large fake organisation (PagerDuty, Opsgenie, JSM).

    python bench/sync.py [--provider pagerduty|opsgenie|jsm] [--scale 1.0] [--latency 0.05]
                         [--limit N] [--concurrency 8]

The fake (10,000 users, 1,000 schedules, 300 escalation policies or 100 Opsgenie / JSM teams at
scale 1) runs in a child process, answering every call after `--latency` seconds and enforcing
`--limit` requests per rolling minute (PagerDuty: 960 per key; Opsgenie: the client's 300 in each
request domain, which Opsgenie counts apart; JSM: the client's 300 on each host, the operations
API and the site), so the numbers below are the client's own: real sockets, real waits. For
PagerDuty a second sync follows, with nothing changed, and its calls and those saved are shown.

Reported, as ratios:
- API calls made ÷ the fewest that pagination allows. Opsgenie: 100 users a page, one call each
  for roles, teams, schedules and every schedule's on-calls, one per team for its members and
  one timeline per schedule with someone on call (the on-call answer carries no shift end).
  JSM: schedule pages of 100, the teams list, and per schedule with someone on call its on-calls
  (only they name whom an escalation or a forwarding rule reaches) and its timeline (only it has
  shift ends); on the site, the cloud id, each team's member pages and the people named, 50 a
  call. JSM lists no user directory, so its "users" are the people rotations and teams name.
  PagerDuty: 100 per page for each list, the user list
  up to PagerDuty's 10,000-offset cap, one look-up per person on call past that cap, one page per
  team's members, one page of shift-based schedules; a schedule no escalation policy uses costs
  nothing more, its final schedule comes with the schedules' pages);
- wall time ÷ the lower bound that the provider's rate limit and the latency impose. The fake
  counts requests over a rolling minute, as "960 requests per minute" reads: the first `limit`
  may go at once, and request k + limit no sooner than a minute after request k, so the bound is
  max(two round trips, ⌊(fewest − 1) ÷ limit⌋ minutes + one round trip), for Opsgenie the
  largest such bound among its request domains. The fluid figure
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

from adapters.jsm import JSM_LIMIT, JsmClient, JsmRosterProvider
from adapters.opsgenie import OPSGENIE_LIMIT, OpsgenieClient, OpsgenieRosterProvider
from adapters.opsgenie.client import rate_domain
from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider
from adapters.providerhttp import PAGERDUTY_LIMIT, RateLimit

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
            conn.send(_statistics(fake))

    asyncio.run(run())


def _statistics(fake: Any) -> dict[str, int]:
    """What every fake tells the parent once the sync is done."""
    return {
        "requests": len(fake.requests),
        "throttled": fake.throttled,
        "max_in_window": fake.max_in_window,
        "errors": sum(1 for r in fake.requests if r.status >= 400),
    }


def serve_opsgenie(conn: Connection, options: dict[str, Any]) -> None:
    """Child process: the fake Opsgenie, until the parent asks for its statistics."""
    from tests.fakes.opsgenie import FakeOpsgenie, generate_org
    from tests.fakes.opsgenie.server import NEEDED_RIGHTS

    async def run() -> None:
        fake = FakeOpsgenie(
            api_keys={"benchkey": set(NEEDED_RIGHTS)},
            now=lambda: NOW,
            latency=options["latency"],
            rate_limit=(options["limit"], 60.0),
            record_bodies=False,
        )
        generate_org(
            fake,
            users=options["users"],
            schedules=options["schedules"],
            teams=options["teams"],
            seed=options["seed"],
            now=NOW,
        )
        oncall = {x.schedule_id for x in fake.shifts if x.start <= NOW < x.end}
        fewest = {  # per request domain, which Opsgenie limits apart
            "search": max(1, math.ceil(len(fake.users) / PAGE)),
            "schedule-oncalls": 1,
            # roles, teams, schedules, services (each one page), a timeline per on-call schedule
            "configuration": 4 + len(fake.teams) + len(oncall),
        }
        shape = {
            "users": len(fake.users),
            "schedules": len(fake.schedules),
            "teams": len(fake.teams),
            "oncall_entries": len(oncall),
        }
        async with fake:
            conn.send({"url": fake.url, "shape": shape, "fewest": fewest})
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            by_domain: dict[str, int] = {}
            for r in fake.requests:
                domain = rate_domain(r.path)
                by_domain[domain] = by_domain.get(domain, 0) + 1
            conn.send({**_statistics(fake), "by_domain": by_domain})

    asyncio.run(run())


def serve_jsm(conn: Connection, options: dict[str, Any]) -> None:
    """Child process: the fake JSM site, until the parent asks for its statistics."""
    from tests.fakes.jsm import FakeJsm, generate_org

    async def run() -> None:
        fake = FakeJsm(
            now=lambda: NOW,
            latency=options["latency"],
            rate_limit=(options["limit"], 60.0),
            record_bodies=False,
        )
        generate_org(
            fake,
            users=options["users"],
            schedules=options["schedules"],
            teams=options["teams"],
            seed=options["seed"],
            now=NOW,
        )
        oncall = {x.schedule_id for x in fake.oncalls if x.start <= NOW < x.end}
        named = {m for t in fake.teams.values() for m in t.members}
        named |= {
            p.id for s in fake.schedules.values() for r in s.rotations for p in r.participants
        }
        named |= {x.id for x in fake.oncalls if x.type == "user"}
        member_pages = sum(
            max(1, math.ceil(len(t.members) / fake.members_page_size)) for t in fake.teams.values()
        )
        fewest = {  # per host, which Atlassian counts apart
            # schedule pages, the teams list, and per schedule with someone on call its on-calls
            # (the only answer that names who an escalation or forwarding rule reaches) and its
            # timeline (the only one with shift ends)
            "ops": math.ceil(len(fake.schedules) / fake.schedules_page_max) + 1 + 2 * len(oncall),
            # the cloud id, each team's member pages, named accounts 50 at a time
            "site": 1 + member_pages + math.ceil(len(named) / fake.users_page_max),
        }
        shape = {
            "users": len(named),
            "schedules": len(fake.schedules),
            "teams": len(fake.teams),
            "oncall_entries": len(oncall),
        }
        async with fake:
            conn.send({"url": fake.url, "shape": shape, "fewest": fewest, "org_id": fake.org_id})
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            by_domain: dict[str, int] = {}
            for r in fake.requests:
                domain = "ops" if r.path.startswith("/jsm/ops/") else "site"
                by_domain[domain] = by_domain.get(domain, 0) + 1
            conn.send({**_statistics(fake), "by_domain": by_domain})

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
    client: PagerDutyClient | OpsgenieClient | JsmClient
    provider: PagerDutyRosterProvider | OpsgenieRosterProvider | JsmRosterProvider
    if options["provider"] == "jsm":
        provider = JsmRosterProvider.from_settings(
            site="bench",
            email="agent@example.com",
            api_token="token-1",
            base_url=url,
            org_id=options["org_id"],
            now=lambda: NOW,
            rate_limit=limit,
            max_concurrency=options["concurrency"],
        )
        client = provider.client
    elif options["provider"] == "opsgenie":
        client = OpsgenieClient(
            api_key="benchkey",
            base_url=url,
            rate_limit=limit,
            max_concurrency=options["concurrency"],
        )
        provider = OpsgenieRosterProvider(client, now=lambda: NOW)
    else:
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
    again: dict[str, int] = {}
    if isinstance(provider, PagerDutyRosterProvider):  # a sync after it, nothing changed
        second = await provider.fetch()
        again = {"calls": second.api_calls, "saved": second.calls_saved}
    await provider.aclose()
    return {
        "again": again,
        "wall": wall,
        "calls": result.api_calls,
        "retries": sum(c.stats.retries for c in client.connections()),
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
    parser.add_argument("--provider", choices=("pagerduty", "opsgenie", "jsm"), default="pagerduty")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the org's size")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--schedules", type=int, default=1_000)
    parser.add_argument("--policies", type=int, default=300)
    parser.add_argument("--teams", type=int, default=100, help="Opsgenie teams")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--limit", type=int, help="requests per minute (per domain)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    opsgenie = args.provider in ("opsgenie", "jsm")  # limited per domain (host)
    if args.limit is None:
        args.limit = {"opsgenie": OPSGENIE_LIMIT, "jsm": JSM_LIMIT}.get(
            args.provider, PAGERDUTY_LIMIT
        ).requests
    options = {
        "provider": args.provider,
        "teams": max(1, round(args.teams * args.scale)),
        "users": max(1, round(args.users * args.scale)),
        "schedules": max(1, round(args.schedules * args.scale)),
        "policies": max(1, round(args.policies * args.scale)),
        "latency": args.latency,
        "limit": args.limit,
        "concurrency": args.concurrency,
        "seed": args.seed,
    }
    parent, child = mp.get_context("spawn").Pipe()
    target = {"opsgenie": serve_opsgenie, "jsm": serve_jsm}.get(args.provider, serve)
    server = mp.get_context("spawn").Process(target=target, args=(child, options), daemon=True)
    server.start()
    info = parent.recv()
    options["org_id"] = info.get("org_id")
    run = asyncio.run(sync(info["url"], options))
    parent.send("stop")
    fake = parent.recv()
    server.join(10)
    if opsgenie:
        report_opsgenie(args, info, run, fake)
        return

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
    if run["again"]:
        print(f"next sync, nothing changed: {run['again']['calls']} API calls, "
              f"{run['again']['saved']} saved (the audit trail, on-calls, schedule pages)")  # fmt: skip
    counts = run["counts"]
    complete = counts["people"] == shape["users"] and counts["shifts"] >= shape["oncall_entries"]
    oncalls = counts["shifts"] >= shape["oncall_entries"]
    print(f"complete: {'yes' if complete else 'NO'} (every user and every on-call entry synced); "
          f"on-call entries: {'all' if oncalls else 'NOT all'}; people known "
          f"{counts['people']:,} of {shape['users']:,}")  # fmt: skip


def report_opsgenie(
    args: argparse.Namespace, info: dict[str, Any], run: dict[str, Any], fake: dict[str, Any]
) -> None:
    """Opsgenie's and JSM's figures: the bound is the slowest of the request domains (Opsgenie)
    or hosts (JSM) that the provider limits apart."""
    name, apart = ("JSM", "host") if args.provider == "jsm" else ("Opsgenie", "request domain")
    shape, fewest_by = info["shape"], info["fewest"]
    fewest, calls, latency = sum(fewest_by.values()), run["calls"], args.latency

    def bound(n: int) -> float:
        minutes = (n - 1) // args.limit
        return max(2 * latency, minutes * 60.0 + latency if minutes else 0.0, 1e-3)

    provider_bound = max(bound(n) for n in fewest_by.values())
    print(
        f"organisation: {shape['users']:,} users, {shape['schedules']:,} schedules "
        f"({shape['oncall_entries']:,} with someone on call), {shape['teams']} teams; "
        f"{name}; scale {args.scale:g}"
    )
    print(f"conditions: {latency * 1000:.0f} ms per call, {args.limit}/min rolling limit per "
          f"{apart}, client concurrency {args.concurrency} per {apart}")  # fmt: skip
    print(f"snapshot: {run['counts']}, {run['warnings']} warnings")
    made = ", ".join(f"{d} {fake['by_domain'].get(d, 0)}/{n}" for d, n in fewest_by.items())
    print(f"API calls: {calls} made / {fewest} fewest = {calls / fewest:.3f}  ({made}; retries "
          f"{run['retries']}; fake saw {fake['requests']}, throttled {fake['throttled']}, "
          f"peak {fake['max_in_window']} in any 60 s of one {apart})")  # fmt: skip
    print(f"wall time: {run['wall']:.2f} s / {provider_bound:.2f} s provider bound = "
          f"{run['wall'] / provider_bound:.2f}")  # fmt: skip
    print(f"peak memory: {run['peak']:.0f} MiB peak RSS of the syncing process, of which "
          f"{run['growth']:.0f} MiB added by the sync; client CPU {run['cpu']:.2f} s")  # fmt: skip
    counts = run["counts"]
    complete = counts["people"] >= shape["users"] and counts["shifts"] >= shape["oncall_entries"]
    print(f"complete: {'yes' if complete else 'NO'} (every user and every on-call entry synced); "
          f"people known {counts['people']:,} of {shape['users']:,}")  # fmt: skip


if __name__ == "__main__":
    main()
