"""Where the bot can reach people and channels later: Bot Framework conversation references,
kept in the database (the bot's key-value store) so that every replica can send proactively.

A chat is kept under its account, (tenant, Entra object id), never under an email the account
claims; the person the front door resolved the account to points at it (``teams:person:EMAIL``),
and is reached there only while that account still resolves to them. The approvals channel an
admin chose is one more key. A sent message is a ``MessageRef`` whose opaque text is
the conversation reference plus the sent activity id, so any replica can update it later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from botbuilder.schema import ConversationReference

from core.identity import normalize_email
from core.ports import MessageRef

SURFACE = "teams"

_ACCOUNT = "teams:account:"  # <tenant>:<aad id> -> the personal chat and whom it was last
_PERSON = "teams:person:"  # email -> {"account": <tenant>:<aad id>}
_AAD = "teams:aad:"  # aad id -> <tenant>:<aad id>
_APPROVALS_CHANNEL = "teams:approvals-channel"


class KeyValues(Protocol):
    """The bot's small shared store (``SqlKeyValues`` in production)."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def put(self, key: str, value: Any) -> None: ...

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Contact:
    """One person's personal chat with the bot, and what cards sent there need to know."""

    email: str
    reference: ConversationReference
    user_id: str  # the Teams user id ("29:…"), for Adaptive Card refresh
    aad_object_id: str | None
    tz: str
    tenant_id: str | None = None


@dataclass(frozen=True)
class ChannelContact:
    """The channel approval cards and admin alerts go to, and who chose it."""

    reference: ConversationReference
    name: str
    set_by: str


def dump_reference(reference: ConversationReference) -> dict[str, Any]:
    data: dict[str, Any] = reference.serialize()
    return data


def load_reference(data: dict[str, Any]) -> ConversationReference:
    reference: ConversationReference = ConversationReference().deserialize(data)
    return reference


def message_ref(reference: ConversationReference, activity_id: str, tz: str = "UTC") -> MessageRef:
    """A sent card; ``tz`` is its reader's time zone, so an updated copy shows times alike."""
    payload = {"conversation": dump_reference(reference), "activity_id": activity_id, "tz": tz}
    return MessageRef(SURFACE, json.dumps(payload, separators=(",", ":"), sort_keys=True))


def parse_message_ref(ref: MessageRef) -> tuple[ConversationReference, str, str] | None:
    """Reference, activity id and time zone of a card this surface sent; None otherwise."""
    if ref.surface != SURFACE:
        return None
    try:
        payload = json.loads(ref.ref)
        reference = load_reference(payload["conversation"])
        return reference, str(payload["activity_id"]), str(payload.get("tz") or "UTC")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ConversationReferences:
    """``tenants``: the tenants served (None: any); a chat kept in another tenant, e.g. before the
    operator narrowed the list, is never used to reach anyone."""

    def __init__(self, kv: KeyValues, tenants: frozenset[str] | None = None) -> None:
        self._kv = kv
        self._tenants = tenants

    async def remember_person(
        self,
        email: str,
        reference: ConversationReference,
        *,
        user_id: str,
        aad_object_id: str | None,
        tenant_id: str | None,
        tz: str,
    ) -> bool:
        """Store (or refresh) the personal chat of this account, and that ``email`` (the person
        the front door resolved it to) is reached there; True when the person had no chat kept.

        Written only when something changed: this runs on every message a person sends.
        """
        email = normalize_email(email)
        account = account_key(tenant_id, aad_object_id or user_id)
        record = {
            "reference": dump_reference(_without_activity(reference)),
            "user_id": user_id,
            "aad_object_id": aad_object_id,
            "tenant_id": (tenant_id or "").lower() or None,
            "tz": tz,
            "email": email,
        }
        if await self._kv.get(_ACCOUNT + account) != record:
            await self._kv.put(_ACCOUNT + account, record)
        old = await self._kv.get(_PERSON + email)
        if old != {"account": account}:
            await self._kv.put(_PERSON + email, {"account": account})
        if aad_object_id and await self._kv.get(_AAD + aad_object_id.lower()) != account:
            await self._kv.put(_AAD + aad_object_id.lower(), account)
        return old is None

    async def person(self, email: str) -> Contact | None:
        """Where ``email`` is reached: the chat of the account that was last this person."""
        email = normalize_email(email)
        found = await self._kv.get(_PERSON + email)
        if not found:
            return None
        if "account" in found:
            record = await self._kv.get(_ACCOUNT + str(found["account"]))
            if not record or record.get("email") != email:
                return None  # that account has been someone else since
        else:
            record = found  # kept before chats were kept per account
        return self._contact(email, record)

    async def account(self, aad_object_id: str) -> Contact | None:
        """The chat of the account with this Entra object id, as the person it was last."""
        found = await self._kv.get(_AAD + aad_object_id.lower())
        if not isinstance(found, str) or not found:
            return None
        if "@" in found:  # kept before chats were kept per account: the person's email
            return await self.person(found)
        record = await self._kv.get(_ACCOUNT + found)
        return self._contact(str(record.get("email") or ""), record) if record else None

    async def forget_account(self, aad_object_id: str) -> None:
        """The app was removed from this account's personal chat: forget the chat, and the
        person's pointer to it."""
        contact = await self.account(aad_object_id)
        if contact is None:
            return
        account = account_key(contact.tenant_id, aad_object_id)
        pointer = await self._kv.get(_PERSON + contact.email)
        if pointer is not None and pointer.get("account", account) == account:
            await self._kv.delete(_PERSON + contact.email)
        await self._kv.delete(_ACCOUNT + account)
        await self._kv.delete(_AAD + aad_object_id.lower())

    def _contact(self, email: str, record: dict[str, Any]) -> Contact | None:
        reference = load_reference(record["reference"])
        conversation = reference.conversation
        tenant = record.get("tenant_id") or (conversation.tenant_id if conversation else None)
        tenant = str(tenant).lower() if tenant else None
        if self._tenants is not None and tenant not in self._tenants:
            return None
        return Contact(
            email=email,
            reference=reference,
            user_id=record.get("user_id", ""),
            aad_object_id=record.get("aad_object_id"),
            tz=record.get("tz") or "UTC",
            tenant_id=tenant,
        )

    async def set_approvals_channel(
        self, reference: ConversationReference, *, name: str, set_by: str
    ) -> None:
        record = {
            "reference": dump_reference(_without_activity(reference)),
            "name": name,
            "set_by": normalize_email(set_by),
        }
        await self._kv.put(_APPROVALS_CHANNEL, record)

    async def approvals_channel(self) -> ChannelContact | None:
        record = await self._kv.get(_APPROVALS_CHANNEL)
        if not record:
            return None
        return ChannelContact(
            load_reference(record["reference"]), record.get("name", ""), record.get("set_by", "")
        )


def account_key(tenant_id: str | None, user_id: str) -> str:
    """``<tenant>:<Entra object id>``: a Teams account is an id within one organisation."""
    return f"{(tenant_id or '').lower()}:{user_id.lower()}"


def copy_reference(reference: ConversationReference) -> ConversationReference:
    """A deep copy: botbuilder's references share objects with the activity they came from."""
    return load_reference(dump_reference(reference))


def _without_activity(reference: ConversationReference) -> ConversationReference:
    """A reference to the conversation, not to one message in it: proactive messages start
    new posts instead of replying to whatever was said when the reference was taken."""
    copy = copy_reference(reference)
    copy.activity_id = None
    return copy
