"""What one eligibility decision costs as the roster grows.

`core.rules.may_request` is asked, for random people and random resources, on a synthetic roster
of 500 people / 50 groups and on one of 50,000 people / 5,000 groups (each person on call in a few
groups, shifts around now, some ended, some upcoming). Both sizes are timed in the same run with
`time.perf_counter`; the per-decision time should not grow with the roster (ratio near 1), since
decisions look shifts up by (person, group) instead of scanning groups.

Run: python bench/decision.py  [--decisions N] [--repeats R] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.groups import GroupKind, GroupRef, Provider
from core.identity import Person
from core.policy import ApproveRule, RequestRule, Resource
from core.roster import Group, Roster, RosterSnapshot, Shift
from core.rules import may_request

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAX_AGE = timedelta(minutes=45)
GROUPS_PER_PERSON = 3
RESOURCES = 200


@dataclass(frozen=True)
class Case:
    label: str
    people: int
    groups: int


CASES = (Case("small", 500, 50), Case("large", 50_000, 5_000))


def build(
    case: Case, rng: random.Random
) -> tuple[Roster, list[str], list[Resource], dict[GroupRef, list[str]]]:
    emails = [f"person{i}@example.com" for i in range(case.people)]
    refs = [
        GroupRef(Provider.PAGERDUTY, GroupKind.SCHEDULE, f"Schedule {g}")
        for g in range(case.groups)
    ]
    shifts: dict[GroupRef, list[Shift]] = {ref: [] for ref in refs}
    members: dict[GroupRef, set[str]] = {ref: set() for ref in refs}
    for email in emails:
        for ref in rng.sample(refs, GROUPS_PER_PERSON):
            members[ref].add(email)
            offset = timedelta(hours=rng.randint(-30, 30))  # ended, current or upcoming
            start = NOW + offset - timedelta(hours=8)
            shifts[ref].append(Shift(email, start, start + timedelta(hours=12), level=1))
    groups = {ref: Group(ref, frozenset(members[ref]), tuple(shifts[ref])) for ref in refs}
    snapshot = RosterSnapshot(
        Provider.PAGERDUTY,
        NOW - timedelta(minutes=5),
        groups,
        {e: Person(e) for e in emails},
    )
    resources = [
        Resource(
            name=f"resource-{r}",
            request=RequestRule(
                on_call=tuple(rng.sample(refs, 3)), members=tuple(rng.sample(refs, 1))
            ),
            approve=ApproveRule(people=("lead@example.com",)),
        )
        for r in range(RESOURCES)
    ]
    in_group = {ref: sorted(people) for ref, people in members.items()}
    return Roster.of([snapshot]), emails, resources, in_group


def asks_for(
    emails: list[str],
    resources: list[Resource],
    in_group: dict[GroupRef, list[str]],
    decisions: int,
    rng: random.Random,
) -> list[tuple[Resource, str]]:
    """Random (resource, person) pairs: half of the people are on the resource's rota (on call
    now, or before or after their shift), half anyone, so both sizes take the same paths."""
    asks = []
    for _ in range(decisions):
        resource = rng.choice(resources)
        if rng.random() < 0.5:
            group = rng.choice(resource.request.on_call + resource.request.members)
            email = rng.choice(in_group[group] or emails)
        else:
            email = rng.choice(emails)
        asks.append((resource, email))
    return asks


def per_decision(
    roster: Roster, asks: list[tuple[Resource, str]], repeats: int
) -> tuple[float, float, float]:
    """Best and median seconds per decision over `repeats` timed batches; share allowed."""
    decisions = len(asks)
    for resource, email in asks[:1000]:  # warm up
        may_request(resource, email, roster, NOW, MAX_AGE)
    timings = []
    allowed = 0
    for _ in range(repeats):
        allowed = 0
        started = time.perf_counter()
        for resource, email in asks:
            allowed += may_request(resource, email, roster, NOW, MAX_AGE).allowed
        timings.append((time.perf_counter() - started) / decisions)
    return min(timings), statistics.median(timings), allowed / decisions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = {}
    for case in CASES:
        started = time.perf_counter()
        roster, emails, resources, in_group = build(case, rng)
        built = time.perf_counter() - started
        asks = asks_for(emails, resources, in_group, args.decisions, rng)
        best, median, share = per_decision(roster, asks, args.repeats)
        results[case.label] = best
        print(
            f"{case.label:>5}: {case.people:>6} people, {case.groups:>5} groups, "
            f"{case.people * GROUPS_PER_PERSON:>6} shifts (built in {built:.2f}s): "
            f"{best * 1e6:6.2f} µs/decision best, {median * 1e6:6.2f} µs median "
            f"over {args.repeats}×{args.decisions} decisions, {share:.0%} allowed"
        )
    ratio = results["large"] / results["small"]
    print(f"ratio large/small: {ratio:.2f}")
    verdict = "flat" if ratio < 1.5 else "GROWS with roster size"
    print(
        f"summary: one may_request decision costs {results['small'] * 1e6:.2f} µs on 500 people "
        f"and {results['large'] * 1e6:.2f} µs on 50,000 people / 5,000 groups "
        f"(ratio {ratio:.2f}: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
