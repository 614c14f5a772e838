"""The core's ``Notifier`` port for Teams: approval cards, card updates, personal notices, alerts.

Everything here is proactive: no inbound activity to answer, so each message goes through
``CloudAdapter.continue_conversation`` on a conversation reference stored when the person (or
the approvals channel) last talked to the bot. A person who never installed the app has no
reference; the requester is told so instead of being left waiting for an approver who was
never asked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from botbuilder.core import CardFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, TextFormatTypes

from adapters.teams import cards, fit
from adapters.teams.references import (
    SURFACE,
    Contact,
    ConversationReferences,
    message_ref,
    parse_message_ref,
)
from core.identity import IdentityMap, normalize_email
from core.notice_views import NoticeViews
from core.ports import MessageRef
from core.requests import AccessRequest

log = logging.getLogger(__name__)


def card_activity(content: cards.Card, summary: str = "") -> Activity:
    """A message holding one Adaptive Card; ``summary`` is what notifications show."""
    activity = Activity(
        type=ActivityTypes.message, attachments=[CardFactory.adaptive_card(content)]
    )
    if summary:
        activity.summary = fit.cut(" ".join(summary.split()), fit.SUMMARY_UNITS)
    return activity


def text_activity(text: str, *, one_line: bool = False) -> Activity:
    """A sentence as plain text: it quotes reasons and comments, which Teams would otherwise
    render as markdown (bold, links, lists). ``one_line`` for a notice, whose quoted comment
    must not start a line that reads like the bot's own."""
    shown = fit.cut(" ".join(text.split()) if one_line else text, fit.TEXT_UNITS)
    return Activity(type=ActivityTypes.message, text=shown, text_format=TextFormatTypes.plain)


class TeamsNotifier:
    surface = SURFACE

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        app_id: str | None,
        references: ConversationReferences,
        views: NoticeViews,
        identity: Callable[[], Awaitable[IdentityMap]] | None = None,
    ) -> None:
        self._adapter = adapter
        self._app_id = app_id
        self._references = references
        self._views = views  # the core's read side: what a card shows, the time, the admins
        self._identity = identity  # the mappings in force (the Dispatcher's `identity_map`)

    # -- the port ------------------------------------------------------------------------------

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        contacts, missing, failed = [], [], []
        for email in approvers:
            contact = await self._contact(email)
            if contact is None:
                missing.append(email)
            else:
                contacts.append(contact)
        required, now = self._required(request), self._views.now()
        user_ids = [c.user_id for c in contacts if c.user_id]
        refs: list[MessageRef] = []
        for contact in contacts:
            content = cards.approval_card(
                request, required=required, tz=contact.tz, now=now, refresh_user_ids=user_ids
            )
            ref = await self._post(contact.reference, card_activity(content, summary), contact.tz)
            if ref is None:
                failed.append(contact.email)
            else:
                refs.append(MessageRef(ref.surface, ref.ref, contact.email))
        channel = await self._references.approvals_channel()
        if channel is not None:
            content = cards.approval_card(
                request, required=required, now=now, refresh_user_ids=user_ids
            )
            ref = await self._post(channel.reference, card_activity(content, summary), "UTC")
            if ref is not None:
                refs.append(ref)
        if (
            missing or failed
        ):  # the requester is told by the fan-out if no other surface reached them
            log.info("Teams did not reach %s for %s", sorted(missing + failed), request.id)
        return refs

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        required, now = self._required(request), self._views.now()
        for ref in refs:
            parsed = parse_message_ref(ref)
            if parsed is None:
                continue
            reference, activity_id, tz = parsed
            content = cards.approval_card(request, required=required, tz=tz, now=now)
            update = card_activity(content)
            update.id = activity_id
            try:
                await self._continue(reference, _updater(update))
            except Exception:
                # One copy that cannot be updated (deleted chat, removed app) must not stop the
                # others; the decision itself is already recorded.
                log.warning(
                    "could not update a Teams copy of the card for %s", request.id, exc_info=True
                )

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        contact = await self._contact(email)
        if contact is None:
            log.info("no Teams chat with %s for a notice about %s", email, _id(request))
            return
        await self._continue(contact.reference, _sender(text_activity(text, one_line=True)))

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        """A line for the approvals channel (an auto-approval); nowhere else when none is set."""
        channel = await self._references.approvals_channel()
        if channel is None:
            log.info("no Teams approvals channel for a line about %s", _id(request))
            return
        await self._continue(channel.reference, _sender(text_activity(text, one_line=True)))

    async def alert_admins(self, text: str) -> None:
        channel = await self._references.approvals_channel()
        if channel is not None:
            await self._continue(channel.reference, _sender(text_activity(text, one_line=True)))
            return
        for admin in sorted(self._views.admins()):
            try:
                await self.tell(admin, text)
            except Exception:
                log.warning("could not alert %s in Teams", admin, exc_info=True)

    # -- plumbing ------------------------------------------------------------------------------

    async def _contact(self, email: str) -> Contact | None:
        """A person's chat: as kept for them, else as kept before a mapping made that account
        this person (an admin's `teams:<aad id>` or `email:OLD` mapping, an alias domain), so a
        mapped person is reached without writing to the bot again; in every case only while
        that account is still this person."""
        wanted = normalize_email(email)
        contact = await self._references.person(wanted)
        if self._identity is None:
            return contact
        mapped = await self._identity()
        candidates = [contact]
        for address in mapped.addresses_of(wanted)[1:]:
            candidates.append(await self._references.person(address))
        for aad_object_id in mapped.ids_of(wanted, SURFACE):
            candidates.append(await self._references.account(aad_object_id))
        for found in candidates:
            if found is None:
                continue
            # Only if that account is this person now: its own mapping may point elsewhere.
            account = f"{SURFACE}:{found.aad_object_id.lower()}" if found.aad_object_id else None
            if mapped.email(found.email, account) == wanted:
                return replace(found, email=wanted)
        return None

    async def _post(
        self, reference: ConversationReference, activity: Activity, tz: str
    ) -> MessageRef | None:
        sent: list[str] = []
        try:
            await self._continue(reference, _sender(activity, sent))
        except Exception:
            log.warning("could not post a Teams approval card", exc_info=True)
            return None
        return message_ref(reference, sent[0], tz) if sent and sent[0] else None

    async def _continue(self, reference: ConversationReference, callback: Any) -> None:
        await self._adapter.continue_conversation(reference, callback, bot_app_id=self._app_id)

    def _required(self, request: AccessRequest) -> int:
        return self._views.card_of(request).required


def _sender(activity: Activity, sent: list[str] | None = None) -> Any:
    async def send(turn_context: TurnContext) -> None:
        # A new post, not a reply to the continuation event botbuilder made up.
        turn_context.activity.id = None
        response = await turn_context.send_activity(activity)
        if sent is not None and response is not None and response.id:
            sent.append(response.id)

    return send


def _updater(activity: Activity) -> Any:
    async def update(turn_context: TurnContext) -> None:
        await turn_context.update_activity(activity)

    return update


def _id(request: AccessRequest | None) -> str:
    return request.id if request else "no request"
