"""One command grammar for every surface (console, Slack `/access`, Teams `access`).

Surfaces strip their own prefix and hand the rest to `parse`; a text that does not follow the
grammar raises CommandError with one sentence saying what to type instead.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, fields
from datetime import timedelta

from core.durations import looks_like_duration, parse_duration
from core.errors import CommandError


@dataclass(frozen=True, slots=True)
class Request:
    resource: str | None
    duration: timedelta | None = None
    reason: str = ""
    break_glass: bool = False


@dataclass(frozen=True, slots=True)
class Why:
    resource: str


@dataclass(frozen=True, slots=True)
class Identity:
    action: str  # map | unmap | list
    key: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Review:
    request_id: str
    verdict: str  # ok | flag
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Approve:
    request_id: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Deny:
    request_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Extend:
    request_id: str
    duration: timedelta | None  # None: until the end of the current shift


@dataclass(frozen=True, slots=True)
class Revoke:
    request_id: str


@dataclass(frozen=True, slots=True)
class Cancel:
    request_id: str


@dataclass(frozen=True, slots=True)
class ListResources:
    pass


@dataclass(frozen=True, slots=True)
class Mine:
    pass


@dataclass(frozen=True, slots=True)
class Pending:
    pass


@dataclass(frozen=True, slots=True)
class OnCall:
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    pass


@dataclass(frozen=True, slots=True)
class Sync:
    pass


@dataclass(frozen=True, slots=True)
class Connect:
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Disconnect:
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None


Command = (
    Request
    | Approve
    | Deny
    | Extend
    | Revoke
    | Cancel
    | ListResources
    | Mine
    | Pending
    | OnCall
    | Status
    | Sync
    | Connect
    | Disconnect
    | Help
    | Review
    | Why
    | Identity
)

VERBS = (
    "request",
    "approve",
    "deny",
    "list",
    "mine",
    "pending",
    "extend",
    "revoke",
    "cancel",
    "oncall",
    "status",
    "sync",
    "connect",
    "disconnect",
    "help",
    "review",
    "why",
    "identity",
)

USAGE = {
    "request": "request RESOURCE [DURATION] [REASON...]",
    "approve": "approve ID [COMMENT...]",
    "deny": "deny ID [REASON...]",
    "extend": "extend ID DURATION|shift",
    "revoke": "revoke ID",
    "cancel": "cancel ID",
    "review": "review ID ok|flag [COMMENT...]",
    "why": "why RESOURCE",
    "identity": "identity map KEY EMAIL | identity unmap KEY | identity list",
}

HELP_TEXT = """\
Commands (the same in the console, Slack `/access ...` and Teams `access ...`):
  request RESOURCE [DURATION] [REASON...]  ask for access, e.g. request prod-db 2h "INC-4411 failover"
  list                                     what you may request right now, and why or why not
  mine                                     your requests and active grants, with time left
  pending                                  requests waiting for your approval
  approve ID [COMMENT...]                  approve a request (what the Approve button does)
  deny ID [REASON...]                      deny a request
  extend ID DURATION|shift                 more time on an active grant, e.g. extend r7k2m9p 30m;
                                           `shift`: until the end of your current shift
  revoke ID                                give back access early (admins: take it away)
  cancel ID                                withdraw a pending request
  oncall [GROUP]                           who is on call now, and until when
  why RESOURCE                             which rule applies to you now, and why (not)
  request RESOURCE DURATION --break-glass REASON   emergency access at once, reviewed afterwards
  review ID ok|flag [COMMENT...]           close the review of a break-glass access
  status, sync, connect, disconnect        admins: provider health, sync now, connect, disconnect
  identity map slack:U123 EMAIL            admins: map a chat or provider id to an email (also
  identity unmap KEY, identity list          pagerduty:PABC123, opsgenie:ID, email:OLD@EMAIL)
  help                                     this text
Durations: 45s, 30m, 2h, 1h30m, 1d."""


MAX_TEXT = 4000  # characters: Slack's own cap on a slash command's text; nothing typed is longer
MAX_KEY = 190  # an identity key, as stored (`identity:` + key in a 200-character column)
MAX_EMAIL = 254  # the longest address SMTP can carry (RFC 5321)
MAX_ID = 32  # request ids are 7 characters; a longer word is not one


def _quoted(word: str) -> str:
    """A word as typed, on one line and cut short, for an error message."""
    word = "".join(ch if ch.isprintable() else " " for ch in word[:40])
    return word if len(word) <= 39 else word[:39] + "…"


def refuse_unreadable(text: str) -> None:
    """Raise CommandError for text no person types and no store can keep: absurdly long, or
    holding a NUL or a lone surrogate (which JSON can carry but UTF-8 cannot)."""
    if len(text) > MAX_TEXT:
        raise CommandError(
            f"That is {len(text):,} characters long; a command is at most {MAX_TEXT:,}."
        )
    if "\x00" in text:
        raise CommandError("Your command holds a NUL character; type it again without it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError(
            "Your command holds a character that is not valid Unicode; type it again."
        ) from None


def check(command: Command) -> Command:
    """A command built by a button, form or dialog, held to what the grammar accepts typed."""
    for field in fields(command):
        value = getattr(command, field.name)
        for text in value if isinstance(value, tuple) else (value,):
            if isinstance(text, str):
                refuse_unreadable(text)
    if isinstance(command, Identity):
        if len(command.key) > MAX_KEY:
            raise CommandError(f"An identity key is at most {MAX_KEY} characters.")
        if len(command.email) > MAX_EMAIL:
            raise CommandError(f"An email address is at most {MAX_EMAIL} characters.")
    return command


def strip_prefix(text: str, *prefixes: str) -> str:
    """Drop a leading `/access` or `access` (or any given prefix) that a surface passes through."""
    stripped = text.strip()
    for prefix in (*prefixes, "/access", "access"):
        if stripped.lower() == prefix:
            return ""
        if stripped.lower().startswith(prefix + " "):
            return stripped[len(prefix) + 1 :].strip()
    return stripped


_SINGLE_QUOTED = re.compile(r"(^|\s)['‘]([^'‘’\"]*)['’](?=\s|$)")


def _split(text: str) -> list[str]:
    """Words, with double quotes grouping; apostrophes (`can't`) and backslashes stay as typed."""
    # Slack and Teams clients turn straight quotes into typographic ones; single quotes group
    # words only around them (`'INC-1 failover'`), never inside a word (`can't`).
    normalized = text.replace("“", '"').replace("”", '"')
    normalized = _SINGLE_QUOTED.sub(lambda m: m.group(1) + '"' + m.group(2) + '"', normalized)
    lexer = shlex.shlex(normalized, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        raise CommandError("A quote in your command is not closed.") from None


def _need_id(verb: str, args: list[str]) -> str:
    if not args:
        raise CommandError(f"`{verb}` needs a request id: `{USAGE[verb]}`.")
    if len(args[0]) > MAX_ID:
        raise CommandError(f"`{_quoted(args[0])}` is not a request id: `{USAGE[verb]}`.")
    return args[0].lower()


def parse(text: str) -> Command:
    """The command a person typed; CommandError with one sentence when it is not one."""
    refuse_unreadable(text)
    return check(_parse(text))


def _parse(text: str) -> Command:
    words = _split(strip_prefix(text))
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    match verb:
        case "request":
            return _parse_request(args)
        case "approve":
            return Approve(_need_id(verb, args), " ".join(args[1:]))
        case "deny":
            return Deny(_need_id(verb, args), " ".join(args[1:]))
        case "extend":
            request_id = _need_id(verb, args)
            if len(args) < 2:
                raise CommandError(f"`extend` needs a duration: `{USAGE['extend']}`.")
            if args[1].lower() == "shift":
                return Extend(request_id, None)
            return Extend(request_id, parse_duration(args[1]))
        case "revoke":
            return Revoke(_need_id(verb, args))
        case "cancel":
            return Cancel(_need_id(verb, args))
        case "why":
            if not args:
                raise CommandError(f"`why` needs a resource: `{USAGE['why']}`.")
            return Why(args[0])
        case "identity":
            return _parse_identity(args)
        case "review":
            request_id = _need_id(verb, args)
            verdict = args[1].lower() if len(args) > 1 else ""
            if verdict not in ("ok", "flag"):
                raise CommandError(f"`review` needs ok or flag: `{USAGE['review']}`.")
            return Review(request_id, verdict, " ".join(args[2:]))
        case "list":
            return ListResources()
        case "mine":
            return Mine()
        case "pending":
            return Pending()
        case "oncall":
            return OnCall(" ".join(args) or None)
        case "status":
            return Status()
        case "sync":
            return Sync()
        case "connect":
            return Connect(tuple(args))
        case "disconnect":
            return Disconnect(args[0].lower() if args else None)
        case "help":
            return Help(args[0].lower() if args else None)
    guess = difflib.get_close_matches(verb, VERBS, n=1)
    hint = f" Did you mean `{guess[0]}`?" if guess else ""
    raise CommandError(f"I don't know `{_quoted(words[0])}`.{hint} Type `help` for the commands.")


def _parse_request(args: list[str]) -> Request:
    if not args:
        return Request(None)
    break_glass = any(a.lower() in ("--break-glass", "--breakglass") for a in args)
    args = [a for a in args if a.lower() not in ("--break-glass", "--breakglass")]
    if not args:
        raise CommandError("Which resource? `request RESOURCE DURATION --break-glass REASON`.")
    resource, rest = args[0], args[1:]
    duration = None
    if rest and looks_like_duration(rest[0]):
        duration = parse_duration(rest[0])
        rest = rest[1:]
    return Request(resource, duration, " ".join(rest).strip(), break_glass)


def _parse_identity(args: list[str]) -> Identity:
    action = args[0].lower() if args else "list"
    if action == "list":
        return Identity("list")
    if action == "map" and len(args) == 3 and ":" in args[1]:
        return Identity("map", args[1], args[2])
    if action == "unmap" and len(args) == 2:
        return Identity("unmap", args[1])
    raise CommandError(
        f"Write `{USAGE['identity']}`, e.g. `identity map slack:U123 alice@example.com`."
    )
