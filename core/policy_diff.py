"""What a policy change does, not how its text changed: who gains or loses the right to request,
to be approved at once and to approve, resource by resource, on a roster; which birthright grants
would start or end; and which terms changed. Every right is read from the same rules a real
request meets (`core.decision`, `core.rules`, `core.birthright`), never re-derived here.

A person's rights are compared at the instant asked about and at the start of each of their
later shifts in the roster, so a group added for the night rota shows up before the night.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from core.birthright import birthright_holders
from core.decision import ASSUME_FRESH, Outcome, decide
from core.durations import format_duration
from core.groups import GroupRef
from core.policy import Policy, Resource
from core.roster import Roster
from core.rules import Reason, Verdict, may_approve

MAX_INSTANTS = 24  # a person's later shifts looked at, earliest first
TEXT_ONLY = frozenset({"description"})  # shown to people, but changes nobody's access


class Right(StrEnum):
    REQUEST = "request"
    AUTO = "approved_at_once"
    APPROVE = "approve"

    @property
    def label(self) -> str:
        return {"request": "request", "approved_at_once": "approved at once"}.get(
            self.value, "approve"
        )


@dataclass(frozen=True, slots=True)
class PersonChange:
    """One person gains or loses one right to one resource, first at `since`."""

    resource: str
    person: str
    right: Right
    gained: bool
    since: datetime
    basis: str  # what the right rests on: the new policy's for a gain, the old one's for a loss


@dataclass(frozen=True, slots=True)
class BirthrightChange:
    resource: str
    person: str
    starts: bool  # False: a grant held now would end
    until: datetime | None
    group: str


@dataclass(frozen=True, slots=True)
class TermChange:
    resource: str  # or `birthright`
    key: str  # dotted: `approve.auto_if_on_call`, `max_duration`
    old: str | None  # None: not there before
    new: str | None  # None: not there any more


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    at: datetime
    added: tuple[str, ...]
    removed: tuple[str, ...]
    terms: tuple[TermChange, ...]
    people: tuple[PersonChange, ...]
    birthright: tuple[BirthrightChange, ...]
    text_only: tuple[TermChange, ...]  # descriptions: shown to people, no effect on access

    @property
    def changes_effect(self) -> bool:
        return bool(self.added or self.removed or self.terms or self.people or self.birthright)

    def resources(self) -> list[str]:
        """Every resource something changed for, in a stable order."""
        names = {*self.added, *self.removed}
        names.update(c.resource for c in self.terms)
        names.update(c.resource for c in self.text_only)
        names.update(c.resource for c in self.people)
        names.update(c.resource for c in self.birthright)
        return sorted(names)


def diff_policies(old: Policy, new: Policy, roster: Roster, at: datetime) -> PolicyDiff:
    """Compare two valid policies on `roster` from `at` on."""
    names = sorted(set(old.resources) | set(new.resources))
    terms: list[TermChange] = []
    text_only: list[TermChange] = []
    for name in names:
        before = _terms(old, old.resources[name]) if name in old.resources else {}
        after = _terms(new, new.resources[name]) if name in new.resources else {}
        if not before or not after:
            continue  # added or removed: said once, with what it does to people
        _drop_empty_sections(before, after)
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                change = TermChange(name, key, before.get(key), after.get(key))
                (text_only if key in TEXT_ONLY else terms).append(change)
    terms.extend(_birthright_rules(old, new))
    persons = everyone(roster, old, new)
    people = [
        change
        for name in names
        for change in _people(
            name, old.resources.get(name), new.resources.get(name), persons, roster, at
        )
    ]
    return PolicyDiff(
        at=at,
        added=tuple(n for n in names if n not in old.resources),
        removed=tuple(n for n in names if n not in new.resources),
        terms=tuple(terms),
        people=tuple(people),
        birthright=tuple(_birthright_grants(old, new, roster, at)),
        text_only=tuple(text_only),
    )


def everyone(roster: Roster, *policies: Policy) -> list[str]:
    """Every person the roster knows of, and everyone the policies name."""
    found: set[str] = set()
    for snap in roster.snapshots.values():
        found.update(snap.people)
        for group in snap.groups.values():
            found.update(group.members)
            found.update(s.email for s in group.shifts)
    for policy in policies:
        for res in policy.resources.values():
            found.update(res.request.people, res.approve.people)
    return sorted(found)


def _same_rules(old: Resource, new: Resource) -> bool:
    words = {"description": ""}
    return old.model_copy(update=words) == new.model_copy(update=words)


def _groups_of(res: Resource | None) -> set[GroupRef]:
    if res is None:
        return set()
    r, a = res.request, res.approve
    return {g.base for g in (*r.on_call, *r.members, *a.on_call, *a.escalate_to)}


def _concerned(
    old: Resource | None, new: Resource | None, persons: list[str], roster: Roster
) -> tuple[list[str], set[GroupRef]]:
    """Whose rights to this resource can differ, and the groups they rest on: a person in none
    of its groups and named by neither version holds the same rights under both, unless who may
    ask went from anyone to someone (or back). Keeps a diff quick on a very large roster."""
    groups = _groups_of(old) | _groups_of(new)
    opens = {res.request.open_to_all for res in (old, new) if res is not None}
    if True in opens and (len(opens) > 1 or old is None or new is None):
        return persons, groups
    found: set[str] = set()
    for res in (old, new):
        if res is not None:
            found.update(res.request.people, res.approve.people)
    for ref in groups:
        snap = roster.snapshot_for(ref)
        group = snap.groups.get(ref) if snap else None
        if group is not None:
            found.update(group.members)
            found.update(s.email for s in group.shifts)
    return sorted(found), groups


def _instants(roster: Roster, person: str, groups: set[GroupRef], at: datetime) -> list[datetime]:
    """`at`, and the start of each later shift of theirs that could change their rights."""
    starts = {
        shift.start
        for ref in groups
        for shift in roster.shifts_of(person, ref)
        if shift.start is not None and shift.start > at
    }
    return [at, *sorted(starts)[:MAX_INSTANTS]]


def _rights(
    res: Resource | None, person: str, roster: Roster, at: datetime
) -> dict[Right, Verdict]:
    """Each right this person holds at `at`, with the verdict it rests on."""
    if res is None:
        return {}
    decision = decide(res, person, roster, at, ASSUME_FRESH)
    held: dict[Right, Verdict] = {}
    if decision.request.allowed:
        held[Right.REQUEST] = decision.request
    if decision.outcome == Outcome.AUTO_APPROVED:
        held[Right.AUTO] = decision.auto
    approver = may_approve(res, person, "", roster, at, ASSUME_FRESH)
    if approver.allowed:
        held[Right.APPROVE] = approver
    return held


def _people(
    name: str,
    old: Resource | None,
    new: Resource | None,
    persons: list[str],
    roster: Roster,
    at: datetime,
) -> Iterator[PersonChange]:
    if old is not None and new is not None and _same_rules(old, new):
        return  # the same rules give everyone the same rights
    concerned, groups = _concerned(old, new, persons, roster)
    for person in concerned:
        seen: set[tuple[Right, bool]] = set()
        for instant in _instants(roster, person, groups, at):
            before = _rights(old, person, roster, instant)
            after = _rights(new, person, roster, instant)
            for right in Right:
                if (right in before) == (right in after):
                    continue
                gained = right in after
                if (right, gained) in seen:
                    continue
                seen.add((right, gained))
                basis = _basis(after[right] if gained else before[right], right)
                yield PersonChange(name, person, right, gained, instant, basis)


def _basis(verdict: Verdict, right: Right) -> str:
    group = verdict.group.display if verdict.group else "a group"
    return {
        Reason.ON_CALL: f"on call for {group}",
        Reason.MEMBER: f"member of {group}",
        Reason.NAMED: "named approver" if right == Right.APPROVE else "named in the policy",
        Reason.OPEN: "anyone may request it",
    }.get(verdict.reason, verdict.reason.value)


def _birthright_grants(
    old: Policy, new: Policy, roster: Roster, at: datetime
) -> Iterator[BirthrightChange]:
    names = sorted({r.resource for r in (*old.birthright, *new.birthright)})
    for name in names:
        before = birthright_holders(old, roster, name, at) if name in old.resources else {}
        after = birthright_holders(new, roster, name, at) if name in new.resources else {}
        for person in sorted(set(before) | set(after)):
            if (person in before) == (person in after):
                continue
            starts = person in after
            end, evidence = after[person] if starts else before[person]
            yield BirthrightChange(
                name,
                person,
                starts,
                end if evidence.shift_end else None,
                str(evidence.group) if evidence.group else "",
            )


def _birthright_rules(old: Policy, new: Policy) -> Iterator[TermChange]:
    def rules(policy: Policy) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for rule in policy.birthright:
            found.setdefault(rule.resource, set()).update(str(g) for g in rule.on_call)
        return found

    before, after = rules(old), rules(new)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            yield TermChange(
                name,
                "birthright.on_call",
                _show(sorted(before[name])) if name in before else None,
                _show(sorted(after[name])) if name in after else None,
            )


def _terms(policy: Policy, res: Resource) -> dict[str, str]:
    """Every term of a resource as it takes effect (defaults filled in, lists as sets), keyed by
    its dotted path. New policy keys are covered without being named here."""
    flat = dict(_flatten("", res))
    for key in ("name", "default_duration", "max_duration", "approval_timeout"):
        flat.pop(key, None)
    flat.pop("require_reason", None)
    flat.pop("end_with_shift", None)
    flat["default_duration"] = format_duration(policy.default_duration(res))
    flat["max_duration"] = format_duration(policy.max_duration(res))
    flat["approval_timeout"] = format_duration(policy.approval_timeout(res))
    flat["require_reason"] = _show(policy.require_reason(res))
    flat["end_with_shift"] = _show(res.ends_with_shift)
    return flat


def _drop_empty_sections(before: dict[str, str], after: dict[str, str]) -> None:
    """`break_glass: none` on one side and `break_glass.max_duration` on the other is one change,
    shown by the keys that exist."""
    for one, other in ((before, after), (after, before)):
        for key in [k for k, v in one.items() if v == "none"]:
            if any(k.startswith(key + ".") for k in other):
                del one[key]


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, str]]:
    if isinstance(value, BaseModel):
        fields = {k: getattr(value, k) for k in type(value).model_fields}
        fields.update(value.model_extra or {})
        for key, item in fields.items():
            yield from _flatten(f"{prefix}{key}.", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(f"{prefix}{key}.", item)
    else:
        yield prefix.rstrip("."), _show(value)


def _show(value: Any) -> str:
    """A term's value as a reviewer reads it; lists compare as sets (any one of them suffices)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, GroupRef):
        return str(value)
    if isinstance(value, BaseModel):  # one of a list of settings, such as a grant
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(_flatten("", value))) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        shown = sorted({_show(v) for v in value})
        return "[" + ", ".join(shown) + "]"
    return str(value)
