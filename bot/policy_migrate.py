"""`oncall-access policy migrate --from opsgenie --to jsm FILE`: Opsgenie groups → JSM groups.

Atlassian's Opsgenie migration keeps schedule and team names, so `opsgenie:schedule/NAME`
becomes `jsm:schedule/NAME` and `opsgenie:team/NAME` becomes `jsm:team/NAME`. When a JSM roster
has been synced, every new name is checked against it (and takes its exact spelling); a group
that cannot be matched is left as it was and listed, so nothing is silently pointed at a group
that does not exist.

The rewrite is textual: only the group strings change, so the file's comments, order, quoting
and layout (what reviewers read in git) stay as they were. A YAML load-and-dump would lose
all of that. The scanner knows just enough YAML to do this safely: comments are never touched,
a group is recognised only where a scalar starts (a list item, a flow-list entry or a mapping
value), and quoted scalars keep their quote style and escapes.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adapters.storage.engine import make_engine, sqlite_file_missing
from adapters.storage.roster import SqlRosterStore
from bot.settings import Settings
from core.groups import GroupKind, GroupRef, Provider

SOURCE, TARGET = Provider.OPSGENIE, Provider.JSM
PREFIX = f"{SOURCE.value}:"
KINDS = {GroupKind.SCHEDULE.value, GroupKind.TEAM.value}  # what the JSM adapter provides
SCALAR_START = "-[{,:"  # the last non-blank character before a scalar that starts a value
_GROUP = re.compile(rf"^{PREFIX}(?P<kind>[A-Za-z_]+)/(?P<name>.+)$", re.DOTALL)
_ROLE_GRANT = re.compile(r"(?<![\w-])opsgenie-role(?![\w-])")


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Something in the policy that could not be moved to JSM, and why (one sentence)."""

    line: int
    found: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.found}: {self.reason}"


def migrate_policy_text(
    text: str,
    mapping: Mapping[str, str] | None = None,
    *,
    known: Collection[GroupRef] | None = None,
) -> tuple[str, list[Unmatched]]:
    """Rewrite every `opsgenie:` group in a policy's text to its `jsm:` group.

    `mapping` gives explicit answers (`"opsgenie:team/Old": "jsm:team/New"`) for groups renamed
    in the move; every other group keeps its name. `known` is the latest JSM roster's groups:
    when given, a group is rewritten only if JSM has it. Returns the new text and what was left
    as it was, in file order.
    """
    return _Migration(mapping or {}, known).run(text)


class _Migration:
    def __init__(self, mapping: Mapping[str, str], known: Collection[GroupRef] | None) -> None:
        self.mapping = {k.strip(): v.strip() for k, v in mapping.items()}
        self.known = None if known is None else set(known)
        self.unmatched: list[Unmatched] = []

    def run(self, text: str) -> tuple[str, list[Unmatched]]:
        out: list[str] = []
        i, done, depth, n = 0, 0, 0, len(text)
        while i < n:
            c = text[i]
            if c == "#" and (i == 0 or text[i - 1] in " \t\r\n"):
                i = _line_end(text, i)  # a comment: left exactly as written
                continue
            at_start = _starts_scalar(text, i)
            if c in "\"'" and at_start:
                end = _quoted_end(text, i)
                value = _unquote(text[i + 1 : end - 1], c)
                new = self.group(value, _line(text, i)) if value.startswith(PREFIX) else None
                if new is not None:
                    out += [text[done:i], c, _quote(new, c), c]
                    done = end
                self.role_grant(value, text, i)
                i = end
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth = max(0, depth - 1)
            elif at_start and text.startswith(PREFIX, i):
                end = _plain_end(text, i, depth)
                new = self.group(text[i:end], _line(text, i))
                if new is not None:
                    out += [text[done:i], _plain(new)]
                    done = end
                i = end
                continue
            elif at_start and _ROLE_GRANT.match(text, i):
                self.role_grant("opsgenie-role", text, i)
            i += 1
        out.append(text[done:])
        return "".join(out), self.unmatched

    def group(self, found: str, line: int) -> str | None:
        """The JSM group for one Opsgenie group string, or None (recorded as unmatched)."""
        found = found.strip()
        match = _GROUP.match(found)
        if match is None:
            self.miss(line, found, "not a group (write opsgenie:KIND/NAME)")
            return None
        kind, name = match["kind"].lower(), match["name"].strip()
        key = f"{PREFIX}{kind}/{name}"
        if key in self.mapping:
            return self.explicit(line, found, self.mapping[key])
        if kind not in KINDS:
            self.miss(
                line, found, f"JSM has no {kind.replace('_', ' ')} groups; map it by hand (--map)"
            )
            return None
        wanted = GroupRef(TARGET, GroupKind(kind), name)
        if self.known is None or wanted in self.known:
            return str(wanted)
        same = [g for g in self.known if g.kind == wanted.kind and g.name.lower() == name.lower()]
        if len(same) == 1:
            return str(same[0])
        names = [g.name for g in self.known if g.kind == wanted.kind]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'? --map '{key}=jsm:{kind}/{close[0]}')" if close else ""
        self.miss(line, found, f"the latest JSM roster has no {kind} named '{name}'{hint}")
        return None

    def explicit(self, line: int, found: str, target: str) -> str | None:
        try:
            ref = GroupRef.parse(target)
        except ValueError as error:
            self.miss(line, found, f"--map target: {error}")
            return None
        if ref.provider is not TARGET:
            self.miss(line, found, f"--map target `{target}` is not a jsm: group")
            return None
        if self.known is not None and ref.base not in self.known:
            self.miss(line, found, f"--map target `{target}` is not in the JSM roster")
            return None
        return str(ref)

    def miss(self, line: int, found: str, reason: str) -> None:
        self.unmatched.append(Unmatched(line, found, reason))

    def role_grant(self, value: str, text: str, i: int) -> None:
        if value.strip() == "opsgenie-role":
            self.miss(
                _line(text, i),
                "grant type opsgenie-role",
                "it changes roles in Opsgenie, which is turned off by 2027-04-05; choose "
                "another grant type for this resource",
            )


def _line(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _starts_scalar(text: str, i: int) -> bool:
    """Whether a scalar can start at `i`: at a line's start, or after `- `, `[`, `{`, `,`, `: `."""
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    if j < 0 or text[j] in "\r\n":
        return True
    return text[j] in SCALAR_START and (text[j] not in "-:" or j < i - 1)


def _quoted_end(text: str, i: int) -> int:
    """The index just past the quoted scalar opening at `i` (YAML escapes honoured)."""
    quote, j, n = text[i], i + 1, len(text)
    while j < n:
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            if quote == "'" and j + 1 < n and text[j + 1] == "'":
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _plain_end(text: str, i: int, depth: int) -> int:
    """Where a plain scalar starting at `i` ends: the line's end, a comment, or (inside a flow
    list or mapping) the next `,`, `]` or `}`; trailing blanks are not part of it."""
    j, n = i, len(text)
    while j < n and text[j] not in "\r\n":
        if text[j] == "#" and text[j - 1] in " \t":
            break
        if depth and text[j] in ",]}":
            break
        j += 1
    while j > i and text[j - 1] in " \t":
        j -= 1
    return j


def _unquote(body: str, quote: str) -> str:
    if quote == "'":
        return body.replace("''", "'")
    return re.sub(r'\\(["\\])', r"\1", body)


def _quote(value: str, quote: str) -> str:
    if quote == "'":
        return value.replace("'", "''")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _plain(value: str) -> str:
    """A plain scalar when it stays one, else double-quoted (a `--map` name with `: ` or `#`)."""
    risky = (
        ": " in value or " #" in value or value.endswith(":") or any(c in value for c in ",[]{}")
    )
    return f'"{_quote(value, chr(34))}"' if risky else value


# -- the command ------------------------------------------------------------------------------


def add_parser(policy_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`policy migrate`; the CLI calls this next to `policy check`."""
    migrate_cmd = policy_sub.add_parser(
        "migrate",
        help="rewrite a policy's Opsgenie groups as JSM groups (prints the new policy)",
    )
    migrate_cmd.add_argument("--from", dest="source", choices=(SOURCE.value,), required=True)
    migrate_cmd.add_argument("--to", dest="target", choices=(TARGET.value,), required=True)
    migrate_cmd.add_argument("file", type=Path)
    migrate_cmd.add_argument("--out", type=Path, default=None, help="write here, not stdout")
    migrate_cmd.add_argument(
        "--map",
        dest="mappings",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="a renamed group, e.g. 'opsgenie:team/Ops=jsm:team/Operations' (repeatable)",
    )


async def migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Print (or write) the migrated policy; list on stderr what could not be matched.

    Exit 0 when everything moved, 1 when something was left as it was (the output is still
    written, with those lines unchanged), 2 on bad usage.
    """
    try:
        mapping = dict(_pair(m) for m in args.mappings)
    except ValueError as error:
        print(f"oncall-access: {error}", file=sys.stderr)
        return 2
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as error:
        print(f"{args.file}: cannot read ({error.strerror})", file=sys.stderr)
        return 1
    if args.out is not None and not args.out.parent.is_dir():
        print(
            f"{args.out}: cannot write (folder {args.out.parent} does not exist)", file=sys.stderr
        )
        return 1
    known, taken_at = await _jsm_roster(settings.database_url)
    new_text, unmatched = migrate_policy_text(text, mapping, known=known)
    if args.out is not None:
        args.out.write_text(new_text, encoding="utf-8")
    else:
        sys.stdout.write(new_text)
    moved = _count(text) - _count(new_text)
    for item in unmatched:
        print(f"{args.file}:{item.line}: {item.found}: {item.reason}", file=sys.stderr)
    checked = (
        f"checked against the JSM roster synced at {taken_at:%Y-%m-%d %H:%M} UTC"
        if taken_at
        else "not checked against a JSM roster (none synced yet: connect JSM and sync first)"
    )
    print(
        f"{args.file}: {moved} group(s) moved to JSM, {len(unmatched)} left as they were; "
        f"{checked}.",
        file=sys.stderr,
    )
    return 1 if unmatched else 0


def _pair(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip().startswith(PREFIX) or not new.strip():
        raise ValueError(f"--map `{text}`: write OLD=NEW, e.g. 'opsgenie:team/Ops=jsm:team/Ops'")
    return old.strip(), new.strip()


def _count(text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){PREFIX}", text))


async def _jsm_roster(database_url: str) -> tuple[set[GroupRef] | None, datetime | None]:
    """The latest synced JSM roster's groups, when this machine's database has one."""
    if not database_url:
        return None, None
    if sqlite_file_missing(database_url):
        return None, None  # no database yet; do not create one just to look
    engine = make_engine(database_url)
    try:
        snapshots = await SqlRosterStore(engine).latest()
    except Exception:
        return None, None  # no schema yet, or unreachable: migrate by name alone
    finally:
        await engine.dispose()
    for snap in snapshots:
        if snap.provider is TARGET:
            return set(snap.groups), snap.taken_at
    return None, None
