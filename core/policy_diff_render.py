"""A policy diff as people read it in a terminal, as a pull-request comment (Markdown), and as
JSON for machines. Names come from files under review, so Markdown escapes everything it quotes:
a group name cannot add a link, a heading or a mention to the comment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from core.policy_diff import BirthrightChange, PersonChange, PolicyDiff, Right
from core.roster import Roster
from core.timefmt import show_age, show_time

_VERBS = {
    (Right.REQUEST, True): "may now request",
    (Right.REQUEST, False): "may no longer request",
    (Right.AUTO, True): "would now be approved at once",
    (Right.AUTO, False): "would no longer be approved at once",
    (Right.APPROVE, True): "may now approve",
    (Right.APPROVE, False): "may no longer approve",
}


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else None


def _since(change: PersonChange, diff: PolicyDiff, tz: str) -> str:
    return "now" if change.since == diff.at else f"from {show_time(change.since, tz, diff.at)}"


def roster_source(roster: Roster, now: datetime, file: str | None = None) -> str:
    """Which roster a diff was decided on: a file, or the synced snapshots and their age."""
    if file is not None:
        return f"the roster file {file}"
    parts = [
        f"{snap.provider.display} synced {show_age(snap.taken_at, now)}"
        for snap in roster.snapshots.values()
    ]
    return "the roster from " + (", ".join(parts) or "nowhere (empty)")


def summary(diff: PolicyDiff) -> str:
    if not diff.changes_effect:
        return "No change in effect" + (
            " (descriptions changed)." if diff.text_only else " (the text may differ)."
        )
    counts = [
        (len(diff.added), "resource added", "resources added"),
        (len(diff.removed), "resource removed", "resources removed"),
        (len(diff.people), "change to people's rights", "changes to people's rights"),
        (len(diff.terms), "term changed", "terms changed"),
        (len(diff.birthright), "birthright grant starts or ends", "birthright grants start or end"),
    ]
    said = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
    return "Changes in effect: " + ", ".join(said) + "."


def _status(diff: PolicyDiff, name: str) -> str:
    return "added" if name in diff.added else "removed" if name in diff.removed else "changed"


def _term_value(value: str | None) -> str:
    return "(not set)" if value is None else value


def render_text(diff: PolicyDiff, old: str, new: str, source: str, tz: str = "UTC") -> str:
    out = [f"Policy diff {old} -> {new} at {show_time(diff.at, tz, diff.at)}, on {source}."]
    for name in diff.resources():
        people = [c for c in diff.people if c.resource == name]
        terms = [c for c in diff.terms if c.resource == name and c.key != "birthright.on_call"]
        texts = [c for c in diff.text_only if c.resource == name]
        if not (people or terms or texts or name in diff.added or name in diff.removed):
            continue
        out.append("")
        out.append(f"{name} ({_status(diff, name)})")
        for c in people:
            sign = "+" if c.gained else "-"
            out.append(
                f"  {sign} {c.person} {_VERBS[(c.right, c.gained)]} ({c.basis}), {_since(c, diff, tz)}"
            )
        for t in terms:
            out.append(f"  term {t.key}: {_term_value(t.old)} -> {_term_value(t.new)}")
        for t in texts:
            out.append(f"  text {t.key}: {_term_value(t.old)!r} -> {_term_value(t.new)!r}")
    rules = [t for t in diff.terms if t.key == "birthright.on_call"]
    if rules or diff.birthright:
        out.append("")
        out.append("birthright")
        for t in rules:
            out.append(
                f"  rule for {t.resource}: on call for {_term_value(t.old)} -> {_term_value(t.new)}"
            )
        for b in diff.birthright:
            out.append("  " + _birthright_text(b, diff.at, tz))
    out.append("")
    out.append(summary(diff))
    return "\n".join(out) + "\n"


def _birthright_text(b: BirthrightChange, at: datetime, tz: str) -> str:
    until = f" until {show_time(b.until, tz, at)}" if b.until else ""
    verb = "would start" if b.starts else "would end"
    return f"{'+' if b.starts else '-'} {b.resource} for {b.person} {verb} (on call for {b.group}){until}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")


def md(text: str) -> str:
    """Text from a reviewed file, inert in Markdown: specials escaped, one line, no mention."""
    flat = " ".join(str(text).split()).replace("&", "&amp;")
    flat = flat.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat).replace("@", "&#64;")


def render_markdown(diff: PolicyDiff, old: str, new: str, source: str, tz: str = "UTC") -> str:
    out = [
        f"### Access policy diff: {md(summary(diff))}",
        "",
        f"{md(old)} → {md(new)}, compared at {md(show_time(diff.at, tz, diff.at))} "
        f"on {md(source)}.",
    ]
    for name in diff.resources():
        people = [c for c in diff.people if c.resource == name]
        terms = [c for c in diff.terms if c.resource == name and c.key != "birthright.on_call"]
        texts = [c for c in diff.text_only if c.resource == name]
        if not (people or terms or texts or name in diff.added or name in diff.removed):
            continue
        out += ["", f"#### {md(name)} ({_status(diff, name)})"]
        if people:
            out += ["", "| | who | change | since | on what |", "|---|---|---|---|---|"]
            for c in people:
                out.append(
                    f"| {'➕' if c.gained else '➖'} | {md(c.person)} | "
                    f"{md(_VERBS[(c.right, c.gained)])} | {md(_since(c, diff, tz))} | {md(c.basis)} |"
                )
        if terms or texts:
            out += ["", "| term | before | after |", "|---|---|---|"]
            for t in (*terms, *texts):
                out.append(f"| {md(t.key)} | {md(_term_value(t.old))} | {md(_term_value(t.new))} |")
    rules = [t for t in diff.terms if t.key == "birthright.on_call"]
    if rules or diff.birthright:
        out += ["", "#### Birthright"]
        if rules:
            out += ["", "| resource | on call for, before | after |", "|---|---|---|"]
            for t in rules:
                out.append(
                    f"| {md(t.resource)} | {md(_term_value(t.old))} | {md(_term_value(t.new))} |"
                )
        if diff.birthright:
            out += ["", "| | resource | who | group | until |", "|---|---|---|---|---|"]
            for b in diff.birthright:
                until = show_time(b.until, tz, diff.at) if b.until else "further notice"
                out.append(
                    f"| {'➕ starts' if b.starts else '➖ ends'} | {md(b.resource)} | "
                    f"{md(b.person)} | {md(b.group)} | {md(until)} |"
                )
    return "\n".join(out) + "\n"


def render_json(
    diff: PolicyDiff, old: str, new: str, source: str, roster: Roster
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for name in diff.resources():
        resources[name] = {
            "status": _status(diff, name),
            "people": [
                {
                    "person": c.person,
                    "right": c.right.value,
                    "change": "gained" if c.gained else "lost",
                    "since": _iso(c.since),
                    "basis": c.basis,
                }
                for c in diff.people
                if c.resource == name
            ],
            "terms": [
                {"key": t.key, "old": t.old, "new": t.new}
                for t in (*diff.terms, *diff.text_only)
                if t.resource == name
            ],
        }
    return {
        "old": old,
        "new": new,
        "at": _iso(diff.at),
        "changes_effect": diff.changes_effect,
        "summary": summary(diff),
        "roster": {
            "source": source,
            "snapshots": [
                {"provider": s.provider.value, "taken_at": _iso(s.taken_at)}
                for s in roster.snapshots.values()
            ],
        },
        "resources": resources,
        "birthright": [
            {
                "resource": b.resource,
                "person": b.person,
                "change": "starts" if b.starts else "ends",
                "group": b.group,
                "until": _iso(b.until),
            }
            for b in diff.birthright
        ],
    }
