"""An admin's identity mapping typed in Slack: an address hiding a zero-width character is
refused, and a full-width one is stored as the plain address it reads as."""

from __future__ import annotations

from tests.adapters.slack.rig import LEAD, SlackRig


async def test_a_mapping_to_an_address_with_a_zero_width_character_is_refused(
    rig: SlackRig,
) -> None:
    await rig.command("identity map slack:U0SOMEONE bob\u200b@example.com", user=LEAD)

    assert "is not an email address" in await rig.answer()
    assert await rig.bot.identities.all() == {}  # type: ignore[union-attr]


async def test_a_full_width_address_is_mapped_as_the_plain_one(rig: SlackRig) -> None:
    await rig.command("identity map slack:U0SOMEONE ＢＯＢ@example.com", user=LEAD)

    await rig.answer()
    assert set((await rig.bot.identities.all()).values()) == {"bob@example.com"}  # type: ignore[union-attr]
