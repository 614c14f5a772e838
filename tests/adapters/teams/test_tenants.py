"""Microsoft 365 tenants: Teams serves the tenants the operator listed and refuses to start
without them, unless told loudly to serve any; an account of another tenant cannot act as, or be
messaged as, the person whose email its own directory gives it; and every audit event from Teams
names the account (tenant and Entra object id) beside the person."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.requests import Status
from tests.adapters.teams.conftest import (
    ALICE,
    BOB,
    LEAD,
    TENANT,
    Person,
    TeamsUnderTest,
    card_text,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector, TeamsMember
from tests.fakes.teams.identity import FakeIdentityProvider

OTHER_TENANT = "0b1c2d3e-0000-4000-8000-00000000beef"
SECOND_TENANT = "5e7f0000-0000-4000-8000-0000000005ec"
REFUSED = "This bot serves another Microsoft 365 organisation."

# Someone who controls another tenant and gave an account there the admin's email address.
IMPOSTOR = Person(
    TeamsMember(
        id="29:impostor-teams-id",
        name="Lee Lead",
        aad_object_id="00000000-0000-4000-8000-0000000bad00",
        email="lead@example.com",
        user_principal_name="lead@example.com",
        tenant_id=OTHER_TENANT,
    ),
    "a:impostor-chat",
)


def _from(person: Person, tenant: str, service_url: str) -> dict[str, str]:
    return {**person.envelope(service_url), "tenant_id": tenant}


async def test_teams_does_not_start_without_the_tenants_it_serves(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    with pytest.raises(ValueError, match="ONCALL_ACCESS_TEAMS_TENANTS") as raised:
        async with running_teams(
            identity, connector, tmp_path, sqlite_url, clock, microsoft_app_tenant_id=None
        ):
            pass
    assert "MICROSOFT_APP_TENANT_ID" in str(raised.value)
    assert "ONCALL_ACCESS_TEAMS_ALLOW_ANY_TENANT=true" in str(raised.value)


async def test_any_tenant_is_served_only_when_opened_explicitly_with_a_warning(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.teams.app")
    async with running_teams(
        identity,
        connector,
        tmp_path,
        sqlite_url,
        clock,
        microsoft_app_tenant_id=None,
        teams_allow_any_tenant=True,
    ) as teams:
        await teams.post(
            activities.personal_message("mine", **_from(ALICE, OTHER_TENANT, teams.service_url))
        )
        reply = await teams.next_in(ALICE)

    assert reply.text == "You have no requests. `list` shows what you may request."
    [warning] = [r for r in caplog.records if "ALLOW_ANY_TENANT is on" in r.message]
    assert warning.levelno == logging.WARNING


async def test_a_listed_second_tenant_is_served_and_any_other_refused(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    async with running_teams(
        identity,
        connector,
        tmp_path,
        sqlite_url,
        clock,
        teams_tenants_text=f"{SECOND_TENANT.upper()}, {TENANT}",
        microsoft_app_tenant_id=None,
    ) as teams:
        for tenant in (TENANT, SECOND_TENANT):
            await teams.post(
                activities.personal_message("mine", **_from(ALICE, tenant, teams.service_url))
            )
            assert (await teams.next_in(ALICE)).text.startswith("You have no requests")  # type: ignore[union-attr]
        await teams.post(
            activities.personal_message("mine", **_from(ALICE, OTHER_TENANT, teams.service_url))
        )
        assert (await teams.next_in(ALICE)).text == REFUSED


async def test_an_account_of_another_tenant_with_the_admins_email_is_neither_admin_nor_his_chat(
    teams: TeamsUnderTest,
) -> None:
    teams.connector.add_member(IMPOSTOR.member)
    await teams.install(LEAD)
    assert (await teams.next_in(LEAD)).text.startswith("Hi, I am On-call Access")  # type: ignore[union-attr]
    await teams.post(
        activities.installation_update(**_from(IMPOSTOR, OTHER_TENANT, teams.service_url))
    )
    await teams.post(
        activities.personal_message(
            "identity map teams:00000000-0000-4000-8000-0000000bad00 bob@example.com",
            **_from(IMPOSTOR, OTHER_TENANT, teams.service_url),
        )
    )

    assert (await teams.next_in(IMPOSTOR)).text == REFUSED
    assert (await teams.next_in(IMPOSTOR)).text == REFUSED
    assert not [c for c in teams.connector.calls if "/members/" in c.path and "bad00" in c.path]
    assert await teams.bot.identities.all() == {}
    await teams.bot.notifier.tell("lead@example.com", "Your access to prod-db ends in 10 minutes.")
    assert (await teams.next_in(LEAD)).text == "Your access to prod-db ends in 10 minutes."
    assert [a.text for a in teams.connector.activities if a.conversation_id == IMPOSTOR.chat] == [
        REFUSED,
        REFUSED,
    ]


async def test_every_audit_event_from_teams_names_the_account_beside_the_person(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    await teams.say(ALICE, 'request prod-db 1h "INC-1"')
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    card = await teams.click(BOB, "approve", {"request_id": request.id})
    assert "Approved by bob@example.com" in card_text(card)
    assert (await teams.bot.service.get(request.id)).status == Status.ACTIVE

    records = [r for r in await teams.bot.audit.records() if r.request_id == request.id]
    named = {r.event: (r.actor, r.detail.get("chat_identity")) for r in records}
    alice = f"teams:{TENANT}:{ALICE.member.aad_object_id}"
    bob = f"teams:{TENANT}:{BOB.member.aad_object_id}"
    assert named == {
        "request.created": ("alice@example.com", alice),
        "request.approved": ("bob@example.com", bob),
        "access.granted": ("bob@example.com", bob),
    }


async def test_an_identity_mapping_made_in_teams_names_the_admins_account(
    teams: TeamsUnderTest,
) -> None:
    key = f"teams:{BOB.member.aad_object_id.upper()}"  # type: ignore[union-attr]
    await teams.say(LEAD, f"identity map {key} bob@example.com")
    reply = await teams.next_in(LEAD)

    assert reply.text == f"Mapped {key.lower()} to bob@example.com."
    [mapped] = [r for r in await teams.bot.audit.records() if r.event == "identity.mapped"]
    assert (mapped.actor, mapped.detail["key"], mapped.detail["chat_identity"]) == (
        "lead@example.com",
        key.lower(),
        f"teams:{TENANT}:{LEAD.member.aad_object_id}",
    )
