"""Block Kit for messages, as pure functions of core values: replies, approval messages (with
their buttons while pending, with the outcome once decided), personal notices.

Every message carries a plain `text` too: Slack shows it in notifications and screen readers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from adapters.slack import constants as k
from core.durations import format_duration
from core.identity import SYSTEM
from core.replies import Reply, describe_request, evidence_sentence
from core.requests import AccessRequest, Status
from core.timefmt import show_time

Block = dict[str, Any]
Message = dict[str, Any]

SECTION_LIMIT = 3000
MAX_BLOCKS = 45  # Slack allows 50 in a message; leave room for a header and a footer
MESSAGE_TEXT_BUDGET = 11_000
"""Characters of text across one message's blocks. Slack refuses a message whose blocks hold
more than about 12,000 (`msg_blocks_too_long`; undocumented, its maintainers speak of 12,000
text characters with a margin for the blocks themselves)."""
LINE_LIMIT = 700
"""Characters of one listed line: a 2,000-character reason is cut short in a list (its
approval message shows it whole), so a long list shows more of its lines."""
FALLBACK_LIMIT = 3900
"""Characters of a message's `text` (Slack advises at most 4,000 for notifications)."""


def esc(text: str) -> str:
    """Slack's three control characters in mrkdwn and plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn has no escape for its emphasis marks, so inside mrkdwn they become look-alikes. An
# underscore inside a word (alice_smith@) never emphasises and is kept as typed.
_MARKS = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) as one space: user text cannot start a line of its own."""
    return " ".join(text.split())


def literal(text: str) -> str:
    """Text someone typed (a reason, a comment, a profile email) for inside mrkdwn: on one line,
    Slack's control characters escaped and its emphasis marks unable to pair, so it can neither
    draw bold, quotes or links nor a line that looks like the bot's own."""
    return _EDGE_UNDERSCORE.sub("\u02cd", esc(one_line(text)).translate(_MARKS))


def plain(text: str, limit: int = 150, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": emoji}


def plain_section(text: str) -> Block:
    """A section drawn as text: no mrkdwn, no emoji codes (for sentences carrying user text)."""
    return {"type": "section", "text": plain(esc(text), SECTION_LIMIT, emoji=False)}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(_cut(text, SECTION_LIMIT))}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(_cut(t, 2000)) for t in texts[:10]]}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "button",
        "text": plain(text, 75),
        "action_id": action_id,
        "value": value,
    }
    if style:
        found["style"] = style
    if confirm:
        found["confirm"] = confirm
    return found


def confirm_dialog(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    return {
        "title": plain(title, 100),
        "text": mrkdwn(_cut(text, 300)),
        "confirm": plain(yes, 30),
        "deny": plain(no, 30),
        "style": "danger",
    }


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters (Slack counts characters), ending in "…" when cut, and never
    in the middle of an escaped `&amp;`, `&lt;` or `&gt;`."""
    if len(text) <= limit:
        return text
    return _PARTIAL_ENTITY.sub("", text[: limit - 1]) + "…"


# --- replies --------------------------------------------------------------------------------


def reply_message(reply: Reply) -> Message:
    """A core Reply as an ephemeral message: its sentence, then as many of its lines as Slack
    takes in one message, then the reply's own tail for the rest ("and 312 more: narrow it
    with `oncall GROUP`")."""
    head = esc(reply.text) if reply.ok else f":warning: {esc(reply.text)}"
    blocks = [section(head)]
    # Lines list other people's requests, reasons included: drawn as text, one line each.
    lines = [_cut(one_line(line), LINE_LIMIT) for line in reply.lines]
    texts, shown = _fit(lines, MESSAGE_TEXT_BUDGET - len(blocks[0]["text"]["text"]))
    blocks += [plain_section(text) for text in texts]
    if shown < len(lines):
        blocks.append(context(esc(reply.tail(len(lines) - shown))))
    url = reply.connect.authorize_url if reply.connect else None
    if url and len(url) <= 3000:  # a button's url holds 3,000 characters
        link = {**button("Sign in to PagerDuty", k.OPEN_LINK, "authorize"), "url": url}
        blocks.append({"type": "actions", "elements": [link]})
    return {"text": _cut(esc(reply.full_text), FALLBACK_LIMIT), "blocks": blocks}


TAIL_RESERVE = 400
"""Characters kept back for the tail that counts what was left out (and a link button)."""


def _fit(lines: list[str], budget: int) -> tuple[list[str], int]:
    """Lines grouped into section texts (3,000 characters each, counted escaped as Slack sees
    them) while the message stays within its block count and text budget; returns the texts
    and how many lines they hold."""
    texts: list[str] = []
    size, used = 0, 0  # escaped characters of the current text; of every text so far
    for shown, line in enumerate(lines):
        cost = len(esc(line))
        joins = bool(texts) and size + 1 + cost <= SECTION_LIMIT
        if joins:
            cost += 1
        elif len(texts) + 1 > MAX_BLOCKS - 2:  # the head and the tail take one block each
            return texts, shown
        if used + cost > budget - TAIL_RESERVE:
            return texts, shown
        if joins:
            texts[-1] += "\n" + line
            size += cost
        else:
            texts.append(line)
            size = cost
        used += cost
    return texts, len(lines)


def notice_message(text: str, request: AccessRequest | None = None) -> Message:
    """A personal notice (`tell`): the core's sentence, and which request it is about.

    The sentence quotes reasons and comments, so it is drawn as text."""
    blocks = [plain_section(one_line(text))]
    if request is not None:
        blocks.append(
            context(
                f"Request `{request.id}` · {literal(request.resource)} · "
                f"{format_duration(request.duration)}"
            )
        )
    return {"text": _cut(literal(text), FALLBACK_LIMIT), "blocks": blocks}


def alert_message(text: str) -> Message:
    return {
        "text": _cut(f"Admin alert: {literal(text)}", FALLBACK_LIMIT),
        "blocks": [plain_section(f"\N{POLICE CARS REVOLVING LIGHT} {one_line(text)}")],
    }


# --- approval messages ----------------------------------------------------------------------


def state_line(request: AccessRequest, tz: str, now: datetime) -> str:
    """What became of a request, for the approval message once buttons are gone."""
    by = literal(request.decided_by) if request.decided_by else ""
    at = lambda when: show_time(when, tz, now) if when else ""  # noqa: E731
    note = f": {literal(request.decision_note)}" if request.decision_note else ""
    match request.status:
        case Status.PENDING:
            return f":hourglass_flowing_sand: Waiting for approval until {at(request.timeout_at)}."
        case Status.APPROVED:
            return f":white_check_mark: Approved by {by or 'policy'}; granting did not complete."
        case Status.ACTIVE:
            why = "incident" if request.evidence.incident else "on call"
            who = f"automatically ({why})" if request.decided_by == SYSTEM else f"by {by}"
            return f":white_check_mark: Approved {who}; active until {at(request.expires_at)}."
        case Status.DENIED:
            return f":no_entry: Denied by {by}{note}"
        case Status.CANCELLED:
            return f":leftwards_arrow_with_hook: Withdrawn by {by or 'the requester'}."
        case Status.TIMED_OUT:
            return f":hourglass: Timed out at {at(request.timeout_at)}: nobody decided in time."
        case Status.EXPIRED:
            return f":checkered_flag: Expired at {at(request.ended_at or request.expires_at)}."
        case Status.REVOKED:
            return f":leftwards_arrow_with_hook: Given back / revoked at {at(request.ended_at)}."
    return esc(request.status.value)


def approval_message(
    request: AccessRequest,
    tz: str,
    now: datetime,
    *,
    requester_user_id: str | None = None,
) -> Message:
    """The approval message: who asks for what, for how long, why, and their on-call evidence;
    Approve / Deny while pending, the outcome (and no live buttons) afterwards."""
    who = f"<@{requester_user_id}>" if requester_user_id else literal(request.requester)
    reason = esc(one_line(request.reason)) if request.reason else "(none given)"
    evidence = esc(evidence_sentence(request, tz, now))
    extends = getattr(request, "extends", None)
    title = (
        f"*Access request* `{request.id}`: extend `{esc(extends)}` by {format_duration(request.duration)}"
        if extends
        else f"*Access request* `{request.id}`"
    )
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(title),
            "fields": [
                mrkdwn(f"*Requester*\n{who} ({literal(request.requester)})"),
                mrkdwn(f"*Resource*\n{literal(request.resource)}"),
                mrkdwn(f"*Duration*\n{format_duration(request.duration)}"),
                # What the requester typed, drawn as text: it cannot fake a line of the bot's.
                plain(f"Reason: {reason}", 1900, emoji=False),
            ],
        },
        context(f":pager: {literal(request.requester)} is {evidence}"),
    ]
    if request.status == Status.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": k.DECISION_BLOCK,
                "elements": [
                    button("Approve", k.APPROVE, request.id, style="primary"),
                    button("Deny", k.DENY, request.id, style="danger"),
                ],
            }
        )
        blocks.append(context(state_line(request, tz, now)))
        text = _cut(
            f"Approval needed: {literal(describe_request(request, tz, now))}", FALLBACK_LIMIT
        )
    else:
        blocks.append(section(state_line(request, tz, now)))
        status = request.status.value.replace("_", " ")
        text = _cut(f"{literal(describe_request(request, tz, now))} Now {status}.", FALLBACK_LIMIT)
    return {"text": text, "blocks": blocks}


def disconnect_confirmation(provider: str, label: str) -> Message:
    """A button that disconnects only after Slack's confirm dialog."""
    confirm = confirm_dialog(
        f"Disconnect {label}?",
        f"The stored {esc(label)} credentials are deleted and roster syncs from it stop.",
        "Disconnect",
        "Keep it",
    )
    return {
        "text": f"Disconnect {label}?",
        "blocks": [
            section(f"Disconnect *{esc(label)}*? Requests that rely on its rosters are refused."),
            {
                "type": "actions",
                "elements": [
                    button(
                        f"Disconnect {label}",
                        k.DISCONNECT,
                        provider,
                        style="danger",
                        confirm=confirm,
                    )
                ],
            },
        ],
    }


def request_outcome(request: AccessRequest, tz: str, now: datetime) -> Reply:
    """The answer to a request made from the form, worded as the typed command's answer."""
    if request.status == Status.ACTIVE:
        until = show_time(request.expires_at, tz, now) if request.expires_at else ""
        incident = request.evidence.incident
        because = f"you are assigned to {incident.label}" if incident else "you are on call"
        return Reply(
            f"Approved at once ({because}): {request.resource} is yours until {until} ({request.id}).",
            request=request,
        )
    if request.status == Status.APPROVED:
        return Reply(
            f"{request.id} was approved, but granting it failed; admins are told.",
            ok=False,
            request=request,
        )
    return Reply(
        f"Request {request.id} for {request.resource} ({format_duration(request.duration)}) is waiting for approval.",
        request=request,
    )


def time_left(delta: timedelta) -> str:
    """Whole minutes, rounded up, as people read a countdown."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return format_duration(delta)
    return format_duration(timedelta(minutes=-(-seconds // 60)))
