"""Approvers see the incident a request rests on: its number, title and link, in the Slack
message and the Teams card alike, as plain text a title cannot break out of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.slack import render
from adapters.teams import cards
from core.evidence import Evidence, Rule
from core.groups import GroupRef
from core.incidents import Incident, IncidentStatus
from core.requests import AccessRequest, Status

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHECKOUT = GroupRef.parse("pagerduty:service/Checkout API")
INCIDENT = Incident(
    provider=CHECKOUT.provider,
    id="PT4KHLK",
    number=1234,
    title="Checkout *down* <@here>",
    url="https://acme.pagerduty.com/incidents/PT4KHLK",
    status=IncidentStatus.TRIGGERED,
    service=CHECKOUT,
    assignees=frozenset({"alice@example.com"}),
)


def _request() -> AccessRequest:
    return AccessRequest(
        id="r7k2m9p",
        resource="checkout-db",
        requester="alice@example.com",
        duration=timedelta(hours=1),
        reason=INCIDENT.label,
        status=Status.PENDING,
        created_at=NOW,
        timeout_at=NOW + timedelta(minutes=30),
        evidence=Evidence(Rule.REQUEST_INCIDENT, group=CHECKOUT, incident=INCIDENT),
    )


def test_the_slack_approval_message_names_and_links_the_incident() -> None:
    shown = str(render.approval_message(_request(), "UTC", NOW))
    assert "incident #1234" in shown
    assert "https://acme.pagerduty.com/incidents/PT4KHLK" in shown
    assert "<@here>" not in shown  # the title is text, not a mention


def test_the_teams_approval_card_names_and_links_the_incident() -> None:
    shown = str(cards.approval_card(_request(), tz="UTC", now=NOW))
    assert 'PagerDuty incident #1234 "Checkout *down* <@here>" on Checkout API (PagerDuty)' in shown
    assert "https://acme.pagerduty.com/incidents/PT4KHLK" in shown
