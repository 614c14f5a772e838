"""The note of a role given for a while, shared by the Opsgenie and PagerDuty role granters.

The role a person had is written down (in the bot's shared key-value store) *before* it is
changed, so a grant retried after a lost answer never records the elevated role as "before";
several accesses giving one person the same role share it, and the last to end restores it;
a role changed by hand meanwhile is left alone and reported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from adapters.providerhttp.errors import ProviderError
from core.errors import DomainError


class KeyValues(Protocol):
    """The bot's small shared store (`SqlKeyValues` in production): every replica sees a note."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def put(self, key: str, value: Any) -> None: ...

    async def delete(self, key: str) -> None: ...


class Gone(DomainError):
    """The user or team is no longer there: there is nothing to restore."""


class RoleSlot(Protocol):
    """One place a role is given (a person's role, a team membership), as `hold` needs it."""

    key: str
    what: str

    async def read(self) -> str | None: ...

    async def write(self, role: str | None) -> None: ...

    def same(self, a: str | None, b: str | None) -> bool: ...

    def covers(self, current: str | None, target: str) -> bool: ...

    def show(self, role: str | None) -> str: ...


@dataclass
class Held:
    """The note: the role before (None: none at all), the role given, and who holds it."""

    before: str | None
    role: str
    holders: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, raw: Any) -> Held | None:
        if not isinstance(raw, dict) or "role" not in raw:
            return None
        before = raw.get("before")
        holders = [str(h) for h in raw.get("holders") or ()]
        return cls(None if before is None else str(before), str(raw["role"]), holders)


async def hold(
    slot: RoleSlot,
    notes: KeyValues,
    request_id: str,
    target: str,
    prepare: Callable[[], Awaitable[None]],
) -> dict[str, Any]:
    """Give `target` in `slot` for `request_id`; returns the receipt fields saying what to restore."""
    held = Held.load(await notes.get(slot.key))
    current = await slot.read()
    if held is not None and request_id not in held.holders and not slot.same(held.role, target):
        raise DomainError(
            f"{slot.what} is {slot.show(held.role)} for a while already (through "
            f"{', '.join(held.holders)}); roles do not stack, so this grant waits until that ends."
        )
    if held is None and slot.covers(current, target):
        return {"previous_role": current, "unchanged": True}  # theirs before us: never taken away
    changing = not slot.same(current, target)
    if changing:
        await prepare()
    held = held or Held(current, target)
    if request_id not in held.holders:
        held.holders.append(request_id)
        await notes.put(slot.key, asdict(held))  # before the change, so a retry finds it
    if changing:
        try:
            await slot.write(target)
        except Exception as exc:
            if _refused(exc):
                await _leave(slot, notes, held, request_id)  # nothing changed: no note to keep
            raise
    return {"previous_role": held.before}


async def release(
    slot: RoleSlot, notes: KeyValues, request_id: str, receipt: Mapping[str, Any]
) -> dict[str, Any]:
    """Give back what `hold` gave, unless it was changed by hand or others still hold it."""
    if receipt.get("unchanged"):
        return {"unchanged": True}
    held = Held.load(await notes.get(slot.key))
    if held is not None and request_id not in held.holders:
        return {"released": "already"}  # an earlier attempt finished; its answer was lost
    if held is not None and len(held.holders) > 1:
        await _leave(slot, notes, held, request_id)
        return {"kept_for": [h for h in held.holders if h != request_id]}
    before = held.before if held else receipt.get("previous_role")
    role = held.role if held else str(receipt.get("role") or "")
    try:
        current = await slot.read()
        if slot.same(current, role):
            await slot.write(before)
            result: dict[str, Any] = {"restored": before}
        elif slot.same(current, before):
            result = {"restored": before}  # by an earlier attempt whose answer was lost
        else:
            result = {
                "manual_change": f"{slot.what} is now {slot.show(current)}, not "
                f"{slot.show(role)} as granted, so it was left as it is instead of going back "
                f"to {slot.show(before)}."
            }
    except Gone:
        result = {
            "manual_change": f"{slot.what} is gone (removed meanwhile), so nothing was restored."
        }
    if held is not None:
        await notes.delete(slot.key)
    return result


async def _leave(slot: RoleSlot, notes: KeyValues, held: Held, request_id: str) -> None:
    rest = [h for h in held.holders if h != request_id]
    if rest:
        await notes.put(slot.key, asdict(Held(held.before, held.role, rest)))
    else:
        await notes.delete(slot.key)


def _refused(exc: Exception) -> bool:
    """A definite no (a 4xx other than 408/429, or a refusal of ours): the change did not happen.
    Anything else (timeouts, 5xx) may have happened, so the note stays for the retry."""
    if isinstance(exc, DomainError):
        return True
    return isinstance(exc, ProviderError) and not exc.retryable and 400 <= (exc.status or 0) < 500
