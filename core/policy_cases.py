"""Expectations kept beside a policy, run like unit tests: for a person, a resource and an
instant on a roster fixture, the outcome their request would meet and why.

Each case is decided by `core.decision`, the decision a real request meets, so a passing file
says what the bot will do, not what a second reading of the rules says. The file is YAML read
within the same bounds as the policy; every problem names its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from core.decision import ASSUME_FRESH, Decision, Outcome, decide
from core.errors import PolicyError
from core.identity import is_email, normalize_email
from core.policy import Policy
from core.roster import Roster
from core.rules import Reason, may_approve
from core.yamlpos import line_of
from core.yamlread import YamlProblem, excerpt, load, shorten

MAX_CASES = 5_000
MAX_PROBLEMS = 50
REASONS = frozenset({*(r.value for r in Reason), "unknown_person", "roster_stale", "no_approver"})
CASE_KEYS = frozenset(
    {"name", "person", "resource", "at", "roster", "expect", "reason", "approvers", "may_approve"}
)


@dataclass(frozen=True, slots=True)
class Case:
    line: int
    name: str
    person: str
    resource: str
    at: datetime
    roster: str | None = None  # a fixture of its own, as written (relative to the file)
    expect: Outcome | None = None
    reason: str | None = None
    approvers: tuple[str, ...] | None = None  # exactly who could approve, in any order
    may_approve: bool | None = None  # whether the person may approve someone else's request


@dataclass(frozen=True, slots=True)
class CaseFile:
    policy: str | None  # as written (relative to the file)
    roster: str | None
    cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    failures: tuple[str, ...]
    decision: Decision | None

    @property
    def passed(self) -> bool:
        return not self.failures


def parse_cases(text: str, filename: str) -> CaseFile:
    """The cases in a policy tests file; PolicyError listing every problem as `file:line: ...`."""
    try:
        root, data = load(text)
    except YamlProblem as exc:
        raise PolicyError([exc.where(filename)]) from None
    problems: list[str] = []

    def problem(path: list[Any], message: str) -> None:
        problems.append(shorten(f"{filename}:{line_of(root, path)}: {message}"))

    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise PolicyError(
            [f"{filename}:1: a policy tests file is a mapping with `cases:` (a list)"]
        )
    for key in sorted(set(data) - {"policy", "roster", "cases"}, key=str):
        problem([key], f"unknown key `{excerpt(key)}` (expected policy, roster, cases)")
    paths = {}
    for key in ("policy", "roster"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problem([key], f"`{key}` is a file name")
        paths[key] = value if isinstance(value, str) and value.strip() else None
    raw_cases = data["cases"]
    if len(raw_cases) > MAX_CASES:
        problem(["cases"], f"{len(raw_cases):,} cases; at most {MAX_CASES:,} are run")
        raw_cases = []
    cases = []
    for i, raw in enumerate(raw_cases):
        found = _case(raw, ["cases", i], root, problem, paths["roster"] is not None)
        if found is not None:
            cases.append(found)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"… and {len(problems) - MAX_PROBLEMS} more problems")
        raise PolicyError(shown)
    return CaseFile(paths["policy"], paths["roster"], tuple(cases))


def _case(
    raw: Any,
    at: list[Any],
    root: yaml.Node | None,
    problem: Callable[[list[Any], str], None],
    has_roster: bool,
) -> Case | None:
    if not isinstance(raw, dict):
        problem(at, "each case is a mapping with name, person, resource, at and expect")
        return None
    bad = 0
    for key in sorted(set(raw) - CASE_KEYS, key=str):
        problem(
            [*at, key], f"unknown key `{excerpt(key)}` (expected {', '.join(sorted(CASE_KEYS))})"
        )
        bad += 1
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problem(at, "each case needs a `name` saying what it checks")
        bad += 1
    person = raw.get("person")
    if not isinstance(person, str) or not is_email(person):
        problem([*at, "person"] if "person" in raw else at, "`person` is an email address")
        bad += 1
    resource = raw.get("resource")
    if not isinstance(resource, str) or not resource.strip():
        problem([*at, "resource"] if "resource" in raw else at, "`resource` names a resource")
        bad += 1
    when = _time(raw.get("at"))
    if when is None:
        problem(
            [*at, "at"] if "at" in raw else at,
            "`at` is a time in ISO 8601, like 2026-11-23T10:00:00Z",
        )
        bad += 1
    roster = raw.get("roster")
    if roster is not None and not (isinstance(roster, str) and roster.strip()):
        problem([*at, "roster"], "`roster` is a file name")
        bad += 1
    elif roster is None and not has_roster:
        problem(at, "no roster: give the file a `roster:` or this case one")
        bad += 1
    expect = raw.get("expect")
    outcome = None
    if expect is not None:
        try:
            outcome = Outcome(expect)
        except ValueError:
            known = ", ".join(o.value for o in Outcome)
            problem([*at, "expect"], f"`expect` is one of {known}, not `{excerpt(expect)}`")
            bad += 1
    reason = raw.get("reason")
    if reason is not None and reason not in REASONS:
        problem(
            [*at, "reason"],
            f"`{excerpt(reason)}` is not a reason; one of {', '.join(sorted(REASONS))}",
        )
        bad += 1
    approvers = raw.get("approvers")
    if approvers is not None and not (
        isinstance(approvers, list) and all(isinstance(a, str) and is_email(a) for a in approvers)
    ):
        problem([*at, "approvers"], "`approvers` is a list of email addresses")
        bad += 1
    may = raw.get("may_approve")
    if may is not None and not isinstance(may, bool):
        problem([*at, "may_approve"], "`may_approve` is true or false")
        bad += 1
    if expect is None and may is None:
        problem(at, "a case needs `expect` (refused, needs_approval, ...) or `may_approve`")
        bad += 1
    if bad or when is None:
        return None
    return Case(
        line=line_of(root, at),
        name=str(name).strip(),
        person=normalize_email(str(person)),
        resource=str(resource).strip(),
        at=when,
        roster=roster,
        expect=outcome,
        reason=reason,
        approvers=tuple(normalize_email(a) for a in approvers) if approvers is not None else None,
        may_approve=may,
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_case(case: Case, policy: Policy, roster: Roster) -> CaseResult:
    """Decide the case as a request would be decided, and say every way it differs."""
    res = policy.resources.get(case.resource)
    if res is None:
        return CaseResult(case, (f"the policy has no resource `{case.resource}`",), None)
    decision = decide(res, case.person, roster, case.at, ASSUME_FRESH)
    failures = []
    said = decision.request.sentence("UTC", case.at)
    if case.expect is not None and decision.outcome != case.expect:
        failures.append(
            f"expected {case.expect.value}, got {decision.outcome.value} "
            f"(reason {decision.reason}: {said})"
        )
    if case.reason is not None and decision.reason != case.reason:
        failures.append(f"expected reason {case.reason}, got {decision.reason} ({said})")
    if case.approvers is not None and set(decision.approvers) != set(case.approvers):
        failures.append(
            f"expected approvers {', '.join(sorted(case.approvers)) or 'none'}, "
            f"got {', '.join(sorted(decision.approvers)) or 'none'}"
        )
    if case.may_approve is not None:
        verdict = may_approve(res, case.person, "", roster, case.at, ASSUME_FRESH)
        if verdict.allowed != case.may_approve:
            failures.append(
                f"expected may_approve {str(case.may_approve).lower()}, got "
                f"{str(verdict.allowed).lower()} ({verdict.sentence('UTC', case.at)})"
            )
    return CaseResult(case, tuple(failures), decision)
