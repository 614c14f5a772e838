"""Notices across chat surfaces: an approver one surface could not reach but another did is no
news; one no surface reached is told to the requester once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.notify import FanOutNotifier
from core.ports import MessageRef
from core.requests import AccessRequest, Status


class FakeSurface:
    def __init__(self, surface: str, reaches: set[str]) -> None:
        self.surface = surface
        self.reaches = reaches
        self.told: list[tuple[str, str]] = []

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        return [
            MessageRef(self.surface, f"{self.surface}:{a}", a)
            for a in approvers
            if a in self.reaches
        ]

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        return None

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        self.told.append((email, text))

    async def alert_admins(self, text: str) -> None:
        return None


def a_request() -> AccessRequest:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    return AccessRequest(
        "rabc234", "prod-db", "alice@example.com", timedelta(hours=1), "x", Status.PENDING, now, now
    )


async def test_an_approver_reached_by_any_surface_is_not_reported() -> None:
    slack, teams = FakeSurface("slack", {"bob@example.com"}), FakeSurface("teams", set())
    refs = await FanOutNotifier([slack, teams]).ask_approvers(a_request(), ["bob@example.com"], "")
    assert [r.recipient for r in refs] == ["bob@example.com"]
    assert slack.told == [] and teams.told == []


async def test_an_approver_no_surface_reached_is_reported_to_the_requester_once() -> None:
    slack, teams = FakeSurface("slack", {"bob@example.com"}), FakeSurface("teams", set())
    await FanOutNotifier([slack, teams]).ask_approvers(
        a_request(), ["bob@example.com", "lead@example.com"], ""
    )
    expected = (
        "alice@example.com",
        "lead@example.com was not reached in any chat app (not installed, or not found by email), "
        "so they did not get the approval message for rabc234.",
    )
    assert slack.told == [expected] and teams.told == [expected]  # one notice, on every surface
