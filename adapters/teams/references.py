"""Where the bot can reach people and channels later: Bot Framework conversation references,
kept in the database (the bot's key-value store) so that every replica can send proactively.

A person is keyed by email (the core's identity) and indexed by Entra object id; the approvals
channel an admin chose is one more key. A sent message is a ``MessageRef`` whose opaque text is
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

_PERSON = "teams:person:"
_AAD = "teams:aad:"
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
    def __init__(self, kv: KeyValues) -> None:
        self._kv = kv

    async def remember_person(
        self,
        email: str,
        reference: ConversationReference,
        *,
        user_id: str,
        aad_object_id: str | None,
        tz: str,
    ) -> bool:
        """Store (or refresh) how to reach ``email``; True when it was not known before.

        Written only when something changed: this runs on every message a person sends.
        """
        email = normalize_email(email)
        record = {
            "reference": dump_reference(_without_activity(reference)),
            "user_id": user_id,
            "aad_object_id": aad_object_id,
            "tz": tz,
        }
        old = await self._kv.get(_PERSON + email)
        if old != record:
            await self._kv.put(_PERSON + email, record)
        if aad_object_id and (old or {}).get("aad_object_id") != aad_object_id:
            await self._kv.put(_AAD + aad_object_id.lower(), email)
        return old is None

    async def person(self, email: str) -> Contact | None:
        email = normalize_email(email)
        record = await self._kv.get(_PERSON + email)
        if not record:
            return None
        return Contact(
            email=email,
            reference=load_reference(record["reference"]),
            user_id=record.get("user_id", ""),
            aad_object_id=record.get("aad_object_id"),
            tz=record.get("tz") or "UTC",
        )

    async def email_of(self, aad_object_id: str) -> str | None:
        email: str | None = await self._kv.get(_AAD + aad_object_id.lower())
        return email

    async def forget_person(self, email: str) -> None:
        await self._kv.delete(_PERSON + normalize_email(email))

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


def copy_reference(reference: ConversationReference) -> ConversationReference:
    """A deep copy: botbuilder's references share objects with the activity they came from."""
    return load_reference(dump_reference(reference))


def _without_activity(reference: ConversationReference) -> ConversationReference:
    """A reference to the conversation, not to one message in it: proactive messages start
    new posts instead of replying to whatever was said when the reference was taken."""
    copy = copy_reference(reference)
    copy.activity_id = None
    return copy
