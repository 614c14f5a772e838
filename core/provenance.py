"""Which chat account the command being executed came from. The front door sets it around each
command it runs, and every audit event written meanwhile carries it (`chat_identity`), so the
trail names the account (surface, workspace or tenant, user id) beside the person it resolved
to, whichever collaborator writes the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from core.identity import Actor

# Task-local, not process-global: concurrent commands each see their own account.
_chat_identity: ContextVar[str | None] = ContextVar("chat_identity", default=None)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Within this block, audit events record `actor`'s chat account (none off chat)."""
    token = _chat_identity.set(actor.chat_identity)
    try:
        yield
    finally:
        _chat_identity.reset(token)


def chat_detail() -> dict[str, str]:
    """The audit detail naming the chat account behind the command being executed, if any."""
    identity = _chat_identity.get()
    return {"chat_identity": identity} if identity else {}
