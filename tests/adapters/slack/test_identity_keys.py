"""`identity map` from Slack: an admin cannot map his own account (to become an approver and
approve himself); the person an account is mapped to is told at once, in their own DMs; keys are
normalised to the ids Slack and Teams report, and a key that could never match is refused with a
sentence naming what is wrong."""

from __future__ import annotations

import pytest

from core.audit import AuditEvent
from core.dispatcher import OWN_IDENTITY
from tests.adapters.slack.rig import BOB, LEAD, SlackRig, text_of
from tests.fakes.slack.constants import TEAM_ID

ROBERT = "UROBERT001"  # bob's contractor account, robert@contractor.example


async def _map(rig: SlackRig, text: str) -> str:
    await rig.command(f"identity {text}", user=LEAD, name="map")
    return await rig.answer("map")


@pytest.mark.parametrize(
    "key", [f"slack:{LEAD}", f"slack:{LEAD.lower()}", "email:Lead@Example.com"]
)
async def test_an_admin_cannot_map_his_own_account(rig: SlackRig, key: str) -> None:
    assert await _map(rig, f"map {key} bob@example.com") == OWN_IDENTITY
    assert await rig.bot.identities.all() == {}
    assert "identity.mapped" not in [r.event for r in await rig.bot.audit.records()]


async def test_the_person_an_account_is_mapped_to_is_told_in_their_own_dms(
    rig: SlackRig,
) -> None:
    rig.fake.add_user(ROBERT, "robert@contractor.example", name="robert")

    assert await _map(rig, f"map slack:{ROBERT} bob@example.com") == (
        f"Mapped slack:{ROBERT} to bob@example.com."
    )

    await rig.fake.wait_until(lambda: rig.dm(BOB), what="bob's notice")
    [notice] = rig.dm(BOB)
    assert f"lead@example.com mapped the account slack:{ROBERT} to you" in text_of(notice)
    assert rig.dm(ROBERT) == []
    [mapped] = [r for r in await rig.bot.audit.records() if r.event == "identity.mapped"]
    assert (mapped.actor, mapped.detail["key"], mapped.detail["chat_identity"]) == (
        "lead@example.com",
        f"slack:{ROBERT}",
        f"slack:{TEAM_ID}:{LEAD}",
    )


async def test_keys_are_normalised_so_the_mapping_matches(rig: SlackRig) -> None:
    rig.fake.add_user(ROBERT, "robert@contractor.example", name="robert")

    assert await _map(rig, f"map slack:{ROBERT.lower()} bob@example.com") == (
        f"Mapped slack:{ROBERT} to bob@example.com."
    )
    assert await _map(rig, "map EMAIL:Mallory@Example.com carol@example.com") == (
        "Mapped email:mallory@example.com to carol@example.com."
    )
    teams_key = "teams:0A1B2C3D-0000-4000-8000-00000000ABCD"
    assert await _map(rig, f"map {teams_key} bob@example.com") == (
        f"Mapped {teams_key.lower()} to bob@example.com."
    )

    await rig.command("pending", user=ROBERT, name="robert")
    assert await rig.answer("robert") == "Nothing is waiting for your approval."  # as bob


@pytest.mark.parametrize(
    ("key", "sentence"),
    [
        ("slack:mallory", "`mallory` is not a Slack user id"),
        ("slack:", "names no id after `slack:`"),
        ("teams:29:1abc", "`29:1abc` is not a Microsoft Entra object id"),
        ("email:mallory", "`mallory` is not an email address."),
        ("gitlab:mallory", "`gitlab:mallory` is not a mapping key: write one of `slack:…`"),
    ],
)
async def test_a_key_that_could_never_match_is_refused_naming_what_is_wrong(
    rig: SlackRig, key: str, sentence: str
) -> None:
    answer = await _map(rig, f"map {key} bob@example.com")

    assert sentence in answer
    assert await rig.bot.identities.all() == {}


async def test_a_mapping_stored_before_keys_were_checked_can_still_be_removed(
    rig: SlackRig,
) -> None:
    event = AuditEvent("identity.mapped", rig.bot.clock.now(), "lead@example.com")
    await rig.bot.identities.put("slack:umal", "mallory@example.com", event)

    assert await _map(rig, "unmap slack:umal") == "Removed the mapping of slack:umal."
    assert await rig.bot.identities.all() == {}


async def test_the_person_a_mapping_pointed_at_is_told_when_it_is_removed(
    rig: SlackRig,
) -> None:
    rig.fake.add_user(ROBERT, "robert@contractor.example", name="robert")
    await _map(rig, f"map slack:{ROBERT} bob@example.com")
    await rig.fake.wait_until(lambda: len(rig.dm(BOB)) == 1, what="bob's first notice")

    assert await _map(rig, f"unmap slack:{ROBERT}") == f"Removed the mapping of slack:{ROBERT}."

    await rig.fake.wait_until(lambda: len(rig.dm(BOB)) == 2, what="bob's second notice")
    notice = rig.dm(BOB)[-1]
    assert f"lead@example.com removed the mapping of the account slack:{ROBERT} to you" in (
        text_of(notice)
    )
    assert rig.dm(ROBERT) == []
