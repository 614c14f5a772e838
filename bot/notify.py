"""Fans core notices out to every chat surface that is configured, and routes updates of a sent
message back to the surface that owns it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.ports import MessageRef, Notifier
from core.requests import AccessRequest

log = logging.getLogger(__name__)


class SurfaceNotifier(Notifier, Protocol):
    surface: str


class FanOutNotifier:
    """One surface failing never stops the others, nor the decision that triggered the notice."""

    def __init__(self, notifiers: Sequence[SurfaceNotifier] = ()) -> None:
        self.notifiers = tuple(notifiers)  # fixed when the bot is built

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        refs: list[MessageRef] = []
        for n in self.notifiers:
            try:
                refs.extend(await n.ask_approvers(request, approvers, summary))
            except Exception:
                log.exception(
                    "%s could not deliver the approval message for %s", n.surface, request.id
                )
        if not self.notifiers:
            log.info(
                "approval needed for %s from %s (no chat surface configured)",
                request.id,
                list(approvers),
            )
            return refs
        reached = {r.recipient for r in refs}
        unreached = sorted(set(approvers) - reached)
        if unreached:
            verb = "was" if len(unreached) == 1 else "were"
            await self.tell(
                request.requester,
                f"{', '.join(unreached)} {verb} not reached in any chat app (not installed, or not "
                f"found by email), so they did not get the approval message for {request.id}.",
                request,
            )
        return refs

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        for n in self.notifiers:
            mine = [r for r in refs if r.surface == n.surface]
            if not mine:
                continue
            try:
                await n.request_changed(request, mine)
            except Exception:
                log.exception("%s could not update the messages of %s", n.surface, request.id)

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        for n in self.notifiers:
            try:
                await n.tell(email, text, request)
            except Exception:
                log.exception("%s could not tell %s", n.surface, email)
        if not self.notifiers:
            log.info("notice for %s: %s", email, text)

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        for n in self.notifiers:
            try:
                await n.announce(text, request)
            except Exception:
                log.exception("%s could not post to its approvals channel", n.surface)

    async def alert_admins(self, text: str) -> None:
        log.warning("admin alert: %s", text)
        for n in self.notifiers:
            try:
                await n.alert_admins(text)
            except Exception:
                log.exception("%s could not alert admins", n.surface)
