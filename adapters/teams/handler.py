"""Teams activities in, core calls out: the ``TeamsActivityHandler`` of the bot.

Typed commands (personal chat, ``/access`` slash command, @mention in a channel), card buttons
and dialogs all go through the core's one front door (``Dispatcher``): a button builds the same
command the typed ``approve``/``deny`` parses to, so the core decides every authorisation
question and a refusal changes nothing. Every turn first checks the tenant, maps the sender to a
person (with the admins' identity mappings), and keeps the conversation reference of personal
chats, under that person, for later proactive messages.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
)
from botbuilder.schema.teams import TaskModuleRequest, TaskModuleResponse, TeamInfo
from msrest.exceptions import HttpOperationError

from adapters.teams import cards
from adapters.teams.dialogs import Dialogs, close_with
from adapters.teams.identity import IdentityRefused, TeamsIdentity, TeamsUser, channel_data_of
from adapters.teams.notifier import card_activity, text_activity
from adapters.teams.references import ConversationReferences, copy_reference
from core.commands import MAX_TEXT, Approve, Deny, Disconnect, strip_prefix
from core.connection_form import form_of
from core.dispatcher import Dispatcher
from core.errors import DomainError, Unavailable
from core.identity import Actor
from core.replies import Reply

SURFACE = "teams"

WELCOME_PERSONAL = (
    "Hi, I am On-call Access: I ask the right approvers for just-in-time access and tell you "
    "what happens to your requests. Type `help` for the commands, e.g. "
    '`request prod-db 2h "INC-4411 failover"`.'
)
WELCOME_TEAM = (
    "Hi, I am On-call Access. Mention me with a command, e.g. `@On-call Access help`. "
    "An admin can type `@On-call Access approvals here` to have approval cards posted here."
)
STALE_BUTTON = "This button is no longer available; type `help` for the commands."

_MAX_RAW = 2 * MAX_TEXT  # a command with its mention markup; longer is refused by the parser
_AT_CASE = str.maketrans("AT", "at")  # lower-cases the tag's letters only: indexes stay put


def _mentions(text: str) -> Iterator[tuple[int, int, str]]:
    """Each `<at ...>NAME</at>` as (start, end, NAME), in one pass. A lazy regex rescans the
    rest of the text from every unclosed `<at`: quadratic, seconds for a long message."""
    folded = text.translate(_AT_CASE)
    at = 0
    while (start := folded.find("<at", at)) >= 0:
        opened = folded.find(">", start + 3)
        closed = folded.find("</at>", opened + 1) if opened >= 0 else -1
        if closed < 0:
            return  # nothing later closes either
        yield start, closed + 5, text[opened + 1 : closed]
        at = closed + 5


def _sub_mentions(text: str, replace: Callable[[str], str | None]) -> str:
    """Each mention replaced by ``replace(NAME)``, or kept as written where that is None."""
    kept, last = [], 0
    for start, end, name in _mentions(text):
        instead = replace(name)
        if instead is not None:
            kept += [text[last:start], instead]
            last = end
    kept.append(text[last:])
    return "".join(kept)


def command_text(activity: Activity) -> str:
    """The command a person typed, without the bot's @mention and the `/access` prefix."""
    raw = activity.text or ""
    if len(raw) > _MAX_RAW:
        return raw  # unread: the parser refuses it by its length alone
    bot_id = activity.recipient.id if activity.recipient else None
    names: set[str] = set()
    for entity in activity.entities or []:
        if entity is None:  # `"entities": [null]` deserializes to None
            continue
        props = entity.additional_properties or {}
        mentioned = props.get("mentioned") or {}
        if entity.type and entity.type.lower() == "mention" and mentioned.get("id") == bot_id:
            shown = _sub_mentions(str(props.get("text") or "")[:_MAX_RAW], lambda name: name)
            names.add(shown.lstrip("@").strip())
            names.add(str(mentioned.get("name") or "").strip())
    names.discard("")
    text = _sub_mentions(raw, lambda name: "" if name.lstrip("@").strip() in names else None)
    # Teams' own examples disagree about the entity's text; a leading mention is the bot's.
    text = text.lstrip()
    first = next(_mentions(text), None)
    if first is not None and first[0] == 0:
        text = text[first[1] :]
    text = html.unescape(text).replace("\xa0", " ").strip()
    text = strip_prefix(text)
    return text[1:].strip() if text.startswith("/") else text


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    if conversation is None:
        return False
    if conversation.conversation_type:
        return bool(conversation.conversation_type == "personal")
    return not conversation.is_group


def card_response(content: cards.Card) -> AdaptiveCardInvokeResponse:
    return AdaptiveCardInvokeResponse(status_code=200, type=cards.CONTENT_TYPE, value=content)


class AccessTeamsBot(TeamsActivityHandler):
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        identity: TeamsIdentity,
        references: ConversationReferences,
        dialogs: Dialogs,
    ) -> None:
        self._dispatcher = dispatcher
        self._identity = identity
        self._references = references
        self._dialogs = dialogs

    # -- who -----------------------------------------------------------------------------------

    async def _sender(self, turn_context: TurnContext) -> tuple[Actor, TeamsUser]:
        """Who sent this activity (see `_person`), with their personal chat remembered."""
        actor, user = await self._person(turn_context)
        if is_personal(turn_context.activity):
            await self._references.remember_person(
                actor.email,
                TurnContext.get_conversation_reference(turn_context.activity),
                user_id=user.user_id,
                aad_object_id=user.aad_object_id,
                tenant_id=user.tenant_id,
                tz=user.tz,
            )
        return actor, user

    async def _person(self, turn_context: TurnContext) -> tuple[Actor, TeamsUser]:
        """The person behind the activity, resolved by the front door; a refusal to identify
        them is raised as `IdentityRefused` with its sentence."""
        user = await self._identity.resolve(turn_context)
        claimed = Actor(
            user.email,
            surface=SURFACE,
            tz=user.tz,
            user_key=f"teams:{user.aad_object_id.lower()}" if user.aad_object_id else None,
            workspace=user.tenant_id,
        )
        try:
            actor = await self._dispatcher.resolve(claimed)
        except DomainError as exc:
            raise IdentityRefused(exc.message) from None
        return actor, user

    def _refusal(self, turn_context: TurnContext, exc: IdentityRefused | Unavailable) -> str:
        """Why the sender could not be identified, said inside the card or dialog (an invoke
        response) rather than as a new post; call it in the `except` block."""
        if isinstance(exc, IdentityRefused):
            return exc.message
        sender = turn_context.activity.from_property
        who = Actor(f"teams:{getattr(sender, 'id', '') or 'unknown'}", surface=SURFACE)
        return self._dispatcher.internal_error(who, turn_context.activity.type or "invoke").text

    # -- messages ------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        try:
            actor, _ = await self._sender(turn_context)
        except IdentityRefused as exc:
            await turn_context.send_activity(exc.message)
            return
        activity = turn_context.activity
        if isinstance(activity.value, dict) and not (activity.text or "").strip():
            await self._on_card_submit(turn_context, actor, activity.value)
            return
        await self._on_command(turn_context, actor, command_text(activity))

    async def _on_command(self, turn_context: TurnContext, actor: Actor, text: str) -> None:
        words = text.lower().split()
        if words[:2] == ["approvals", "here"]:
            await self._approvals_here(turn_context, actor)
            return
        chosen = (
            form_of(self._dispatcher.views.connection_forms(), words[1])
            if len(words) == 2 and words[0] == "disconnect"
            else None
        )
        if chosen is not None and actor.is_admin:
            content = cards.confirm_disconnect_card(chosen.provider, chosen.label)
            await turn_context.send_activity(card_activity(content, "Confirm disconnect"))
            return
        reply = await self._dispatcher.handle(actor, text)
        await self._send_reply(turn_context, reply, actor)

    async def _send_reply(self, turn_context: TurnContext, reply: Reply, actor: Actor) -> None:
        if cards.needs_card(reply):
            content = cards.reply_card(reply, tz=actor.tz, now=self._dispatcher.now())
            await turn_context.send_activity(card_activity(content, reply.text))
        else:
            await turn_context.send_activity(text_activity(reply.text))

    async def _approvals_here(self, turn_context: TurnContext, actor: Actor) -> None:
        if not actor.is_admin:
            await turn_context.send_activity(
                "Only admins can choose the approvals channel (ONCALL_ACCESS_ADMINS)."
            )
            return
        activity = turn_context.activity
        channel_data = channel_data_of(activity)
        channel = channel_data.channel if channel_data else None
        if channel is None or not channel.id:
            await turn_context.send_activity(
                "Type this in the team channel that should get approval cards: "
                "`@On-call Access approvals here`."
            )
            return
        reference = copy_reference(TurnContext.get_conversation_reference(activity))
        # Cards start new posts in the channel instead of replying in this thread.
        reference.conversation.id = channel.id
        await self._references.set_approvals_channel(
            reference, name=channel.name or "", set_by=actor.email
        )
        await turn_context.send_activity(
            "Done: approval cards and admin alerts will be posted in this channel."
        )

    # -- buttons -------------------------------------------------------------------------------

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        action = invoke_value.action if isinstance(invoke_value.action, Mapping) else {}
        verb = str(action.get("verb") or "")
        data = action.get("data")
        data = data if isinstance(data, dict) else {}
        try:
            actor, _ = await self._sender(turn_context)
        except (IdentityRefused, Unavailable) as exc:
            return card_response(cards.result_card(self._refusal(turn_context, exc), ok=False))
        try:
            return card_response(await self._button(actor, verb, data))
        except Exception:
            reply = self._dispatcher.internal_error(actor, f"card action {verb}")
            return card_response(cards.result_card(reply.text, ok=False))

    async def _on_card_submit(
        self, turn_context: TurnContext, actor: Actor, value: Mapping[str, Any]
    ) -> None:
        """``Action.Submit``: the fallback of clients without Universal Actions."""
        verb = str(value.get("verb") or "")
        content = await self._button(actor, verb, value)
        reply_to = turn_context.activity.reply_to_id
        if reply_to:
            # The clicked card shows the outcome, as the invoke response does for Action.Execute.
            update = card_activity(content)
            update.id = reply_to
            try:
                await turn_context.update_activity(update)
                return
            except (HttpOperationError, DeserializationError):  # that message is gone, or never was
                pass
        await turn_context.send_activity(card_activity(content))

    async def _button(self, actor: Actor, verb: str, data: Mapping[str, Any]) -> cards.Card:
        if verb in (cards.APPROVE, cards.DENY, cards.REFRESH):
            return await self._decide(actor, verb, data)
        if verb in (cards.DISCONNECT, cards.KEEP_CONNECTED):
            reply = await self._disconnect(actor, verb, str(data.get("provider") or ""))
            return cards.result_card(reply.text, reply.ok)
        return cards.result_card(STALE_BUTTON, ok=False)

    async def _decide(self, actor: Actor, verb: str, data: Mapping[str, Any]) -> cards.Card:
        """Approve, deny or look: the card for the current state, plus the refusal if any."""
        request_id = str(data.get("request_id") or "").strip()
        note = str(data.get("reason") or "").strip()
        reply: Reply | None = None
        if verb == cards.APPROVE:
            reply = await self._dispatcher.execute(actor, Approve(request_id, note))
        elif verb == cards.DENY:
            reply = await self._dispatcher.execute(actor, Deny(request_id, note))
        try:
            card = await self._dispatcher.request_card(actor, request_id)
        except DomainError:
            return cards.result_card(reply.text if reply else STALE_BUTTON, ok=False)
        return cards.approval_card(
            card.request,
            required=card.required,
            tz=actor.tz,
            now=self._dispatcher.now(),
            message=None if reply is None or reply.ok else reply.text,
        )

    async def _disconnect(self, actor: Actor, verb: str, provider: str) -> Reply:
        chosen = form_of(self._dispatcher.views.connection_forms(), provider)
        if chosen is None:
            return Reply(STALE_BUTTON, ok=False)
        if verb == cards.KEEP_CONNECTED:
            return Reply(f"{chosen.label} stays connected.")
        return await self._dispatcher.execute(actor, Disconnect(provider))

    # -- dialogs -------------------------------------------------------------------------------

    async def on_teams_task_module_fetch(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> TaskModuleResponse:
        try:
            actor, _ = await self._sender(turn_context)
        except (IdentityRefused, Unavailable) as exc:
            return close_with(self._refusal(turn_context, exc))
        data = _dialog_data(task_module_request)
        return (await self._dialogs.fetch(actor, data)).response

    async def on_teams_task_module_submit(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> TaskModuleResponse:
        try:
            actor, _ = await self._sender(turn_context)
        except (IdentityRefused, Unavailable) as exc:
            return close_with(self._refusal(turn_context, exc))
        data = _dialog_data(task_module_request)
        result = await self._dialogs.submit(actor, data)
        if result.post is not None:
            await self._send_reply(turn_context, result.post, actor)
        return result.response

    # -- installation --------------------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context, greet_team=True)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        try:
            self._identity.check_tenant(turn_context.activity)
        except IdentityRefused:
            return
        sender = turn_context.activity.from_property
        aad_object_id = getattr(sender, "aad_object_id", None)
        if is_personal(turn_context.activity) and aad_object_id:
            await self._references.forget_account(aad_object_id)

    async def on_teams_members_added(
        self,
        teams_members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(member.id == bot_id for member in teams_members_added):
            await self._installed(turn_context, greet_team=False)

    async def _installed(self, turn_context: TurnContext, *, greet_team: bool) -> None:
        """The app was added: keep the installer's personal chat and say what the bot does."""
        activity = turn_context.activity
        if not is_personal(activity):
            if greet_team:
                await turn_context.send_activity(WELCOME_TEAM)
            return
        try:
            actor, user = await self._person(turn_context)
        except IdentityRefused as exc:
            await turn_context.send_activity(exc.message)
            return
        new = await self._references.remember_person(
            actor.email,
            TurnContext.get_conversation_reference(activity),
            user_id=user.user_id,
            aad_object_id=user.aad_object_id,
            tenant_id=user.tenant_id,
            tz=user.tz,
        )
        if new:
            await turn_context.send_activity(WELCOME_PERSONAL)


def _dialog_data(request: TaskModuleRequest | None) -> dict[str, Any]:
    """The dialog's data; an invoke without a `value` reaches the handler as None."""
    data = getattr(request, "data", None)
    return data if isinstance(data, dict) else {}
