"""An admin's mapping cannot make a second account of his into his own approver: an account
mapped by the requester does not decide the requester's request, whatever it is mapped to;
the same mapping made by another admin does. Through the front door, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from core.identity import Actor
from core.requests import Status
from core.service_state import MAPPED_BY_REQUESTER
from tests.builders import make_bot
from tests.conftest import FakeClock

ALICE = Actor("alice@example.com", surface="slack", user_key="slack:UALICE0001")
LEAD = Actor("lead@example.com", surface="slack", user_key="slack:ULEAD00001")
SECOND = Actor("alice.second@example.com", surface="slack", user_key="slack:UALICE0002")


async def test_an_account_the_requester_mapped_cannot_approve_her_request(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    admins = "alice@example.com,lead@example.com"
    async with await make_bot(tmp_path, database_url, clock, admins=admins) as bot:
        door = bot.dispatcher
        mapped = await door.handle(ALICE, "identity map slack:UALICE0002 bob@example.com")
        assert mapped.ok, mapped.text
        filed = await door.handle(ALICE, 'request prod-db 1h "failover"')
        assert filed.ok, filed.text
        [request] = await bot.requests.with_status(Status.PENDING)

        refused = await door.handle(SECOND, f"approve {request.id}")

        assert (refused.ok, refused.text) == (False, MAPPED_BY_REQUESTER)
        assert (await bot.requests.get(request.id)).status is Status.PENDING  # type: ignore[union-attr]

        # the same account, mapped by another admin, is bob's to use
        again = await door.handle(LEAD, "identity map slack:UALICE0002 bob@example.com")
        assert again.ok, again.text
        approved = await door.handle(SECOND, f"approve {request.id}")
        assert approved.ok, approved.text
        assert (await bot.requests.get(request.id)).status is Status.ACTIVE  # type: ignore[union-attr]
        [decided] = [r for r in await bot.audit.records() if r.event == "request.approved"]
        assert decided.actor == "bob@example.com"
