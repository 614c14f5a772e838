"""A membership given for a while (an Entra ID or Okta group, a GitHub team), and given back.

Shared by the group granters so that every target keeps the same promises:
- what the person had before is noted in the bot's store *before* anything changes, so a grant
  retried after a lost answer never takes the granted membership for theirs;
- a person who already was a member (or more: a GitHub maintainer asked to be a member) is left
  as they were, and stays so after the access ends;
- several accesses giving one person the same membership share the note; the last to end
  restores;
- a change made by hand meanwhile (removed, or given another role) is never undone: the revoke
  leaves it and says so in its receipt (`manual_change`), which the admins are shown.

A release marks the note `restoring` before it writes, so a retry after a lost answer can tell
"our own removal went through" from "someone removed them by hand".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from adapters.providerhttp.errors import ProviderError
from adapters.providerhttp.heldroles import Gone, KeyValues
from core.errors import DomainError

MEMBER = "member"


class MembershipSlot(Protocol):
    """One person's place in one group or team."""

    key: str  # the note's key in the shared store, unique per target, group and person
    what: str  # "alice@example.com in Okta group SRE", for receipts and refusals

    async def read(self) -> str | None:
        """Their role there now (`member`, `maintainer`), None when not a member."""
        ...

    async def write(self, role: str | None) -> None:
        """Make them `role` there; None removes them. Idempotent."""
        ...

    def covers(self, current: str | None, target: str) -> bool:
        """Whether holding `current` already gives everything `target` would."""
        ...


@dataclass
class Note:
    before: str | None
    role: str
    holders: list[str] = field(default_factory=list)
    restoring: bool = False

    @classmethod
    def load(cls, raw: Any) -> Note | None:
        if not isinstance(raw, dict) or "role" not in raw:
            return None
        before = raw.get("before")
        return cls(
            None if before is None else str(before),
            str(raw["role"]),
            [str(h) for h in raw.get("holders") or ()],
            bool(raw.get("restoring")),
        )


def show(role: str | None) -> str:
    if role is None:
        return "not a member"
    return f"a {role}" if role[:1] not in "aeiou" else f"an {role}"


async def join(
    slot: MembershipSlot, notes: KeyValues, request_id: str, target: str = MEMBER
) -> dict[str, Any]:
    """Give `target` in `slot` for `request_id`; the receipt says what `leave` must restore."""
    note = Note.load(await notes.get(slot.key))
    current = await slot.read()
    if note is not None and request_id not in note.holders and note.role != target:
        raise DomainError(
            f"{slot.what} is {show(note.role)} for a while already (through "
            f"{', '.join(note.holders)}); roles do not stack, so this grant waits until that ends."
        )
    if note is None and slot.covers(current, target):
        return {"previous": current, "unchanged": True}  # theirs before us: never taken away
    note = note or Note(current, target)
    if request_id not in note.holders:
        note.holders.append(request_id)
        note.restoring = False
        await notes.put(slot.key, asdict(note))  # before the change, so a retry finds it
    if not slot.covers(current, target):
        try:
            await slot.write(target)
        except Exception as exc:
            if _refused(exc):
                await _drop_holder(slot, notes, note, request_id)  # nothing changed
            raise
    return {"previous": note.before}


async def leave(
    slot: MembershipSlot, notes: KeyValues, request_id: str, receipt: Mapping[str, Any]
) -> dict[str, Any]:
    """Give back what `join` gave, unless it was changed by hand or others still hold it."""
    if receipt.get("unchanged"):
        return {
            "unchanged": True,
            "left": f"{slot.what} was {show(receipt.get('previous'))} "
            "before this access and stays so.",
        }
    note = Note.load(await notes.get(slot.key))
    if note is None or request_id not in note.holders:
        return {"released": "already"}  # an earlier attempt finished; its answer was lost
    if len(note.holders) > 1:
        await _drop_holder(slot, notes, note, request_id)
        return {"kept_for": [h for h in note.holders if h != request_id]}
    try:
        current = await slot.read()
    except Gone:
        await notes.delete(slot.key)
        return {"manual_change": f"{slot.what} is gone (removed meanwhile); nothing to restore."}
    if current == note.role:
        note.restoring = True
        await notes.put(slot.key, asdict(note))
        await slot.write(note.before)
        result: dict[str, Any] = {"restored": note.before}
    elif current == note.before and note.restoring:
        result = {"restored": note.before}  # by an earlier attempt whose answer was lost
    elif current == note.before:
        result = {
            "manual_change": f"{slot.what} was made {show(current)} by hand while the access "
            "lasted; nothing was changed."
        }
    else:
        result = {
            "manual_change": f"{slot.what} is now {show(current)}, not {show(note.role)} as "
            f"granted, so it was left as it is instead of going back to {show(note.before)}."
        }
    await notes.delete(slot.key)
    return result


async def _drop_holder(slot: MembershipSlot, notes: KeyValues, note: Note, request_id: str) -> None:
    rest = [h for h in note.holders if h != request_id]
    if rest:
        await notes.put(slot.key, asdict(Note(note.before, note.role, rest, note.restoring)))
    else:
        await notes.delete(slot.key)


def _refused(exc: Exception) -> bool:
    """A definite no: the change did not happen. Timeouts and 5xx may have, so the note stays."""
    if isinstance(exc, DomainError):
        return True
    return isinstance(exc, ProviderError) and not exc.retryable and 400 <= (exc.status or 0) < 500


__all__ = ["MEMBER", "Gone", "KeyValues", "MembershipSlot", "join", "leave", "show"]
