"""What Slack refuses in a message or a view, checked the way Slack and its SDK check it.

Each block goes through slack_sdk's own model classes (`Block.parse(...).validate_json()`:
section text ≤ 3,000 characters, ≤ 10 fields of ≤ 2,000, option values ≤ 150, …). Around
them: at most 50 blocks in a message and 100 in a modal or Home tab, and a message's blocks
hold at most about 12,000 characters of text (`msg_blocks_too_long`, measured as its
maintainers describe it in slackapi/bolt-js#2509: the text of every text object).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
BLOCKS_TEXT = 12_000
MESSAGE_TEXT = 40_000  # Slack truncates a message's `text` beyond this


def texts(node: Any) -> Iterator[str]:
    """Every `text` of every text object under `node`."""
    if isinstance(node, Mapping):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts(item)


def block_problem(block: Any) -> str | None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unknown block {block!r:.80}"
        parsed.validate_json()
    except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
        return f"{exc}"
    return None


def message_problem(params: Mapping[str, Any]) -> str | None:
    """The error Slack would answer for this message, or None."""
    blocks = params.get("blocks")
    if isinstance(blocks, str):  # the SDK sends blocks as JSON text in form posts
        import json

        blocks = json.loads(blocks)
    if len(str(params.get("text") or "")) > MESSAGE_TEXT:
        return "msg_too_long"
    if not blocks:
        return None
    if len(blocks) > MESSAGE_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        if block_problem(block) is not None:
            return "invalid_blocks"
    if sum(len(t) for t in texts(blocks)) > BLOCKS_TEXT:
        return "msg_blocks_too_long"
    return None


def view_problem(view: Any) -> str | None:
    """Why Slack would refuse this modal or Home tab (`invalid_arguments`), or None."""
    if not isinstance(view, Mapping):
        return None
    blocks = view.get("blocks") or []
    if not blocks:  # an empty Home tab clears it
        return None
    if len(blocks) > VIEW_BLOCKS:
        return f"a view holds at most {VIEW_BLOCKS} blocks, not {len(blocks)}"
    for block in blocks:
        problem = block_problem(block)
        if problem is not None:
            return problem
    try:
        View(**dict(view)).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        return str(exc)
    return None
