"""An admin's `identity map jsm:ACCOUNT_ID EMAIL` reaches the JSM provider at the next sync, for
people whose profile hides their email."""

from __future__ import annotations

from datetime import datetime

from bot.providers import AccountMappedProvider
from core.audit import AuditEvent
from tests.adapters.jsm.conftest import NOW, Make, seed_small
from tests.fakes.jsm import FakeJsm


class MemoryOverrides:
    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    async def all(self) -> dict[str, str]:
        return dict(self.found)

    async def mappers(self) -> dict[str, str]:
        return {}

    async def put(self, key: str, email: str, event: AuditEvent) -> None:
        self.found[key] = email

    async def remove(self, key: str, event: AuditEvent) -> bool:
        return self.found.pop(key, None) is not None


async def test_a_mapping_made_while_running_is_used_at_the_next_sync(
    jsm: FakeJsm, make: Make
) -> None:
    site = seed_small(jsm)
    overrides = MemoryOverrides()
    provider = AccountMappedProvider(make(), overrides)

    before = (await provider.fetch()).snapshot
    assert any("Dana Private" in w for w in before.warnings)

    event = AuditEvent("identity.mapped", datetime.now(NOW.tzinfo), "admin@example.com")
    await overrides.put(f"jsm:{site.dana.account_id}", "dana@example.com", event)
    after = (await provider.fetch()).snapshot
    assert not any("Dana Private" in w for w in after.warnings)
    assert any("dana@example.com" in g.members for g in after.groups.values())
