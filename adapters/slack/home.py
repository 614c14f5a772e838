"""The App Home tab: my active access (with Give back), my pending requests, approvals waiting
for me, and for admins the provider status. Read from the core's home view, drawn by a pure
function, published again after every action taken from it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from adapters.slack import constants as k
from adapters.slack.render import (
    button,
    confirm_dialog,
    context,
    esc,
    literal,
    plain,
    section,
    time_left,
)
from core.durations import format_duration
from core.replies import evidence_sentence
from core.timefmt import show_time
from core.views import HomeView

log = logging.getLogger(__name__)

LIST_LIMIT = 15
"""Items per list: the Home tab holds 100 blocks."""
REASON_LIMIT = 300
"""Characters of a reason on the Home tab; the approval message shows it whole."""


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text)}


def _with_buttons(text: str, *buttons: dict[str, Any]) -> list[dict[str, Any]]:
    if len(buttons) == 1:
        return [{**section(text), "accessory": buttons[0]}]
    return [section(text), {"type": "actions", "elements": list(buttons)}]


def _more(count: int, how: str) -> list[dict[str, Any]]:
    """Above a list longer than the tab shows: how many are left out, and where they are."""
    if count <= LIST_LIMIT:
        return []
    return [context(f"The first {LIST_LIMIT} of {count}; {how}.")]


def _short(text: str) -> str:
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def home_view(data: HomeView, tz: str, now: datetime, notice: str | None = None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(section(f":information_source: {esc(notice)}"))
    blocks += [
        _header("On-call access"),
        {
            "type": "actions",
            "elements": [button("Request access", k.OPEN_REQUEST_FORM, "home", style="primary")],
        },
        _header("Your active access"),
    ]
    if not data.active:
        blocks.append(context("None right now."))
    blocks += _more(len(data.active), "`/access mine` lists them all")
    for r in data.active[:LIST_LIMIT]:
        until = show_time(r.expires_at, tz, now) if r.expires_at else "further notice"
        give_back = button(
            "Give back",
            k.GIVE_BACK,
            r.id,
            confirm=confirm_dialog(
                "Give back access?", f"Your access to {esc(r.resource)} ends now.", "Give back"
            ),
        )
        blocks += _with_buttons(
            f"*{esc(r.resource)}* `{r.id}`: {time_left(r.time_left(now))} left (until {until})",
            give_back,
        )
    blocks.append(_header("Your pending requests"))
    if not data.pending:
        blocks.append(context("None."))
    blocks += _more(len(data.pending), "`/access mine` lists them all")
    for r in data.pending[:LIST_LIMIT]:
        withdraw = button("Withdraw", k.WITHDRAW, r.id)
        blocks += _with_buttons(
            f"*{esc(r.resource)}* `{r.id}` for {format_duration(r.duration)}: waiting for "
            f"approval until {show_time(r.timeout_at, tz, now)}",
            withdraw,
        )
    blocks.append(_header("Waiting for your approval"))
    if not data.to_approve:
        blocks.append(context("Nothing is waiting for you."))
    blocks += _more(len(data.to_approve), "decide these, and the next ones show here")
    for r in data.to_approve[:LIST_LIMIT]:
        reason = f' "{literal(_short(r.reason))}"' if r.reason else ""
        blocks += _with_buttons(
            f"*{literal(r.requester)}* asks for *{literal(r.resource)}* for "
            f"{format_duration(r.duration)}{reason} (`{r.id}`); "
            f"{esc(evidence_sentence(r, tz, now))}.",
            button("Approve", k.APPROVE, r.id, style="primary"),
            button("Deny", k.DENY, r.id, style="danger"),
        )
    if data.is_admin:
        blocks.append(_header("Providers"))
        if data.provider_lines is None:
            blocks.append(context("Provider connections are managed on the server here."))
        else:
            text = "\n".join(esc(line) for line in data.provider_lines) or "No provider connected."
            blocks.append(section(text))
            blocks.append(context("`/access connect` connects one; `/access sync` syncs now."))
    return {"type": "home", "blocks": blocks[:100]}
