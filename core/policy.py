"""The policy file, version 1: who may request what, who approves, for how long, and how access is
granted. Parsed and validated in full before use; every problem names the file and line.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from core.durations import parse_duration
from core.errors import CommandError, NotFound, PolicyError
from core.grant_types import grant_type
from core.grant_types import names as grant_type_names
from core.groups import GroupKind, GroupRef, Provider
from core.identity import is_email, normalize_email
from core.yamlpos import line_of
from core.yamlread import YamlProblem, excerpt, load, shorten

MAX_PROBLEMS = 50  # listed; past that, a count (a generated file can have thousands)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a duration like 30m, 2h or 1d")
    try:
        return parse_duration(str(value) if isinstance(value, str) else f"{value}s")
    except CommandError as exc:
        raise ValueError(exc.message.replace("`", "'")) from None


def _group(value: Any) -> GroupRef:
    if isinstance(value, GroupRef):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a group like 'pagerduty:schedule/Primary SRE'")
    return GroupRef.parse(value)


def _email(value: Any) -> str:
    if not isinstance(value, str) or not is_email(value):
        raise ValueError(f"'{excerpt(value)}' is not an email address")
    return normalize_email(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Group = Annotated[GroupRef, BeforeValidator(_group)]
Email = Annotated[str, BeforeValidator(_email)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Defaults(_Strict):
    default_duration: Duration = timedelta(hours=1)
    max_duration: Duration = timedelta(hours=8)
    approval_timeout: Duration = timedelta(minutes=30)
    require_reason: bool = False


class RequestRule(_Strict):
    on_call: tuple[Group, ...] = ()
    members: tuple[Group, ...] = ()
    people: tuple[Email, ...] = ()
    incident: tuple[Group, ...] = ()  # services: whoever is assigned to an open incident there

    @property
    def open_to_all(self) -> bool:
        return not (self.on_call or self.members or self.people or self.incident)


class ApproveRule(_Strict):
    auto_if_on_call: bool = False
    auto_if_incident: bool = False  # a requester assigned to the incident is approved at once
    on_call: tuple[Group, ...] = ()
    people: tuple[Email, ...] = ()
    required: int = Field(default=1, ge=1, le=10)
    escalate_to: tuple[Group, ...] = ()  # asked too when nobody answered by 3/4 of the timeout

    @field_validator("people", "on_call", "escalate_to")
    @classmethod
    def _distinct(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(value))  # the same approver twice still counts once


class GrantSpec(BaseModel):
    """`type` picks the Granter (one of `core.grant_types`); other keys are that granter's options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = "record"

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if grant_type(value) is None:
            raise ValueError(
                f"unknown grant type '{excerpt(value)}'; one of {', '.join(grant_type_names())}"
            )
        return value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BreakGlass(_Strict):
    """Access at once without approval, for emergencies; every use opens a review."""

    max_duration: Duration = timedelta(hours=1)


class Resource(_Strict):
    name: str = ""
    description: str = ""
    request: RequestRule = RequestRule()
    approve: ApproveRule = ApproveRule()
    default_duration: Duration | None = None
    max_duration: Duration | None = None
    approval_timeout: Duration | None = None
    require_reason: bool | None = None
    grants: tuple[GrantSpec, ...] = Field(default=(GrantSpec(),), validation_alias="grant")
    """`grant:` is one mapping or a list of them: every one is granted, and every one revoked."""
    break_glass: BreakGlass | None = None
    end_with_shift: bool | None = None  # default: true when requesters qualify by being on call
    on_stale: Literal["refuse", "manual"] = "refuse"
    notify_on_auto: Literal["none", "channel", "approvers"] | None = None
    end_with_incident: bool | None = (
        None  # default: true (when the requester qualified by incident)
    )
    end_on_reassign: bool = True  # the incident moved to someone else: the access ends too

    @property
    def ends_with_incident(self) -> bool:
        return self.end_with_incident is not False

    @field_validator("grants", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if isinstance(value, dict | GrantSpec):
            return [value]
        if isinstance(value, list | tuple) and not value:
            raise ValueError("list at least one grant, or leave `grant` out for `type: record`")
        return value

    @property
    def ends_with_shift(self) -> bool:
        return (
            self.end_with_shift if self.end_with_shift is not None else bool(self.request.on_call)
        )


class BirthrightRule(_Strict):
    resource: str
    on_call: tuple[Group, ...] = Field(min_length=1)


class Policy(_Strict):
    version: Literal[1]
    defaults: Defaults = Defaults()
    resources: dict[str, Resource] = Field(default_factory=dict)
    birthright: tuple[BirthrightRule, ...] = ()

    @field_validator("resources", mode="before")
    @classmethod
    def _name_resources(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(name): {**body, "name": str(name)} if isinstance(body, dict) else body
                for name, body in value.items()
            }
        return value

    def default_duration(self, res: Resource) -> timedelta:
        return res.default_duration or self.defaults.default_duration

    def max_duration(self, res: Resource) -> timedelta:
        return res.max_duration or self.defaults.max_duration

    def approval_timeout(self, res: Resource) -> timedelta:
        return res.approval_timeout or self.defaults.approval_timeout

    def require_reason(self, res: Resource) -> bool:
        return self.defaults.require_reason if res.require_reason is None else res.require_reason

    def find(self, name: str) -> Resource:
        """The resource called `name` (as typed in chat); NotFound with a likely spelling."""
        found = self.resources.get(name) or self.resources.get(name.lower())
        if found:
            return found
        guess = difflib.get_close_matches(name.lower(), list(self.resources), n=1, cutoff=0.5)
        hint = (
            f" Did you mean `{guess[0]}`?" if guess else " Type `list` to see what you may request."
        )
        raise NotFound(f"There is no resource `{name}`.{hint}", field="resource")

    def groups(self) -> set[GroupRef]:
        """Every group the policy names, to check against what providers have."""
        found: set[GroupRef] = set()
        for res in self.resources.values():
            found.update(
                res.request.on_call,
                res.request.members,
                res.request.incident,
                res.approve.on_call,
                res.approve.escalate_to,
            )
        for rule in self.birthright:
            found.update(rule.on_call)
        return found


def _coherence(policy: Policy) -> list[tuple[list[Any], str, str]]:
    """Checks across fields: (path of the line to change, where, what is wrong)."""
    problems: list[tuple[list[Any], str, str]] = []
    for name, res in policy.resources.items():
        at, where = ["resources", name], f"resources.{name}"
        a = res.approve
        if not (a.on_call or a.people or a.auto_if_on_call or a.auto_if_incident):
            problems.append(
                (
                    [*at, "approve"],
                    where,
                    "approve names nobody: add approve.on_call, approve.people, auto_if_on_call or auto_if_incident",
                )
            )
        if a.people and not a.on_call and a.required > len(a.people):
            problems.append(
                (
                    [*at, "approve"],
                    where,
                    f"approve.required is {a.required} but only {len(a.people)} people may approve",
                )
            )
        if a.auto_if_on_call and not res.request.on_call:
            problems.append(
                (
                    [*at, "approve"],
                    where,
                    "auto_if_on_call needs request.on_call groups to check the requester against",
                )
            )
        problems += _incident_problems(res, at, where)
        for i, spec in enumerate(res.grants):
            kind = grant_type(spec.type)
            for problem in kind.problems(spec.options) if kind else ():
                problems.append(([*at, "grant", i], where, problem))
        seen: list[dict[str, Any]] = []
        for i, spec in enumerate(res.grants):
            if spec.model_dump() in seen:
                problems.append(([*at, "grant", i], where, "the same grant is listed twice"))
            seen.append(spec.model_dump())
        if res.break_glass and res.break_glass.max_duration > policy.max_duration(res):
            problems.append(
                (
                    [*at, "break_glass"],
                    where,
                    "break_glass.max_duration is longer than max_duration",
                )
            )
        if policy.default_duration(res) > policy.max_duration(res):
            key = "default_duration" if res.default_duration else "max_duration"
            line = [*at, key] if res.default_duration or res.max_duration else ["defaults"]
            problems.append((line, where, "default_duration is longer than max_duration"))
    for i, rule in enumerate(policy.birthright):
        if rule.resource not in policy.resources:
            problems.append(
                (
                    ["birthright", i, "resource"],
                    f"birthright.{i}",
                    f"birthright names resource {rule.resource!r}, which is not defined",
                )
            )
    return problems


def _incident_problems(
    res: Resource, at: list[Any], where: str
) -> list[tuple[list[Any], str, str]]:
    """Services are for incidents only, and incident keys need services to look at."""
    problems: list[tuple[list[Any], str, str]] = []
    rosters = {
        "request": (*res.request.on_call, *res.request.members),
        "approve": (*res.approve.on_call, *res.approve.escalate_to),
    }
    for key, groups in rosters.items():
        for g in groups:
            if g.kind is GroupKind.SERVICE:
                problems.append(
                    (
                        [*at, key],
                        where,
                        f"{g} is a service: nobody is on call for it; name it in request.incident",
                    )
                )
    for g in res.request.incident:
        if g.provider is Provider.JSM:
            if g.kind is not GroupKind.TEAM:  # JSM alerts have responder teams, no service
                problems.append(
                    (
                        [*at, "request"],
                        where,
                        f"JSM alerts are matched by responder team: write jsm:team/NAME, not {g}",
                    )
                )
        elif g.kind is not GroupKind.SERVICE:
            problems.append(
                (
                    [*at, "request"],
                    where,
                    f"request.incident names services (PROVIDER:service/NAME), not {g}",
                )
            )
        if g.provider is Provider.FILE:
            problems.append(
                (
                    [*at, "request"],
                    where,
                    "the roster file has no incidents; name a provider's service",
                )
            )
    if res.approve.auto_if_incident and not res.request.incident:
        problems.append(
            (
                [*at, "approve"],
                where,
                "auto_if_incident needs request.incident services to look for incidents on",
            )
        )
    if res.end_with_incident and not res.request.incident:
        problems.append(
            ([*at, "end_with_incident"], where, "end_with_incident needs request.incident services")
        )
    return problems


RESOURCE_NAME_MAX = 64
"""Characters in a resource name: it is typed in chat, is the value of a Slack menu option
(at most 150 characters) and heads a line in every list, so it stays short."""


def _name_problems(root: yaml.Node | None, data: dict[str, Any], filename: str) -> list[str]:
    """Resource names are typed in chat, so each must be one short word; checked with every other
    problem."""
    resources = data.get("resources")
    if not isinstance(resources, dict):
        return []
    problems = []
    for name in resources:
        text = str(name)
        where = f"{filename}:{line_of(root, ['resources', name])}: resources.{excerpt(name)}"
        if not text.strip() or any(c.isspace() for c in text):
            problems.append(f"{where}: a resource name must be one word, like prod-db")
        elif len(text) > RESOURCE_NAME_MAX:
            problems.append(
                f"{where}: a resource name is at most {RESOURCE_NAME_MAX} characters "
                f"(this one has {len(text)}); put the rest in its description"
            )
    return problems


def _as_written(data: Any, loc: list[Any]) -> list[Any]:
    """The error's path as the file spells it: a single `grant:` mapping is read as a list of one,
    whose index the person never wrote."""
    out: list[Any] = []
    node = data
    for key in loc:
        if isinstance(key, int) and not isinstance(node, list) and out and out[-1] == "grant":
            continue
        out.append(key)
        node = (
            node.get(key)
            if isinstance(node, dict)
            else node[key]
            if isinstance(node, list) and isinstance(key, int) and key < len(node)
            else None
        )
    return out


def _refused(problems: list[str]) -> PolicyError:
    """Every problem as one short line, at most MAX_PROBLEMS of them and a count of the rest."""
    shown = [shorten(p) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"… and {len(problems) - MAX_PROBLEMS} more problems")
    return PolicyError(shown)


def parse_policy(text: str, filename: str = "policy.yaml") -> Policy:
    """Parse and validate a policy; raise PolicyError listing every problem as `file:line: ...`."""
    try:
        root, data = load(text)
    except YamlProblem as exc:
        raise PolicyError([exc.where(filename)]) from None
    if not isinstance(data, dict):
        raise PolicyError(
            [f"{filename}:1: a policy is a mapping with `version: 1` and `resources`"]
        )
    names = _name_problems(root, data, filename)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = list(names)
        for err in exc.errors():
            loc = _as_written(
                data,
                [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))],
            )
            at = line_of(root, loc)
            where = ".".join(excerpt(p) for p in loc)
            message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling)"
            elif err["type"] == "literal_error" and loc == ["version"]:
                message = "only version 1 is supported"
            problems.append(f"{filename}:{at}: {where + ': ' if where else ''}{message}")
        raise _refused(problems) from None
    if names:
        raise _refused(names)
    coherence = _coherence(policy)
    if coherence:
        raise _refused(
            [f"{filename}:{line_of(root, path)}: {where}: {msg}" for path, where, msg in coherence]
        )
    return policy
