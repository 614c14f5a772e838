"""The incident keys of the policy file: services are groups, `request.incident` names them,
`approve.auto_if_incident` and `end_with_incident` need them, and each mistake names its line."""

from __future__ import annotations

import pytest

from core.errors import PolicyError
from core.groups import GroupKind, GroupRef
from core.policy import parse_policy

ISSUE_EXAMPLE = """\
version: 1
resources:
  checkout-db:
    request: {incident: ["pagerduty:service/Checkout API"]}
    approve: {auto_if_incident: true, people: ["lead@example.com"]}
"""


def test_the_example_parses_and_ends_with_the_incident_by_default() -> None:
    res = parse_policy(ISSUE_EXAMPLE, "p.yaml").resources["checkout-db"]
    assert res.request.incident == (GroupRef.parse("pagerduty:service/Checkout API"),)
    assert res.request.incident[0].kind is GroupKind.SERVICE
    assert res.approve.auto_if_incident
    assert (res.ends_with_incident, res.end_on_reassign) == (True, True)
    assert not res.request.open_to_all


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            'request: {on_call: ["pagerduty:service/Checkout API"]}\n'
            '    approve: {people: ["lead@example.com"]}',
            "is a service: nobody is on call for it; name it in request.incident",
        ),
        (
            'request: {incident: ["pagerduty:schedule/Primary SRE"]}\n'
            '    approve: {people: ["lead@example.com"]}',
            "request.incident names services (PROVIDER:service/NAME)",
        ),
        (
            'request: {on_call: ["pagerduty:schedule/Primary SRE"]}\n'
            "    approve: {auto_if_incident: true}",
            "auto_if_incident needs request.incident services",
        ),
        (
            'request: {incident: ["file:service/Checkout"]}\n'
            '    approve: {people: ["lead@example.com"]}',
            "the roster file has no incidents",
        ),
        (
            'request: {incident: ["jsm:service/Checkout"]}\n'
            '    approve: {people: ["lead@example.com"]}',
            "JSM alerts are matched by responder team: write jsm:team/NAME, not jsm:service/Checkout",
        ),
        (
            'request: {people: ["a@example.com"]}\n'
            '    approve: {people: ["lead@example.com"]}\n'
            "    end_with_incident: true",
            "end_with_incident needs request.incident services",
        ),
        (
            'request: {incident: ["pagerduty:service/Checkout API"]}\n'
            "    approve: {auto_if_incidents: true}",
            "unknown key (check the spelling)",
        ),
    ],
    ids=[
        "service-on-call",
        "schedule-as-incident",
        "auto-without",
        "file",
        "jsm-service",
        "end-without",
        "typo",
    ],
)
def test_incident_mistakes_are_refused_with_their_line(body: str, problem: str) -> None:
    text = f"version: 1\nresources:\n  db:\n    {body}\n"
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "p.yaml")
    assert any(problem in p and p.startswith("p.yaml:") for p in refused.value.problems), (
        refused.value.problems
    )


def test_a_grant_webhook_may_not_be_signed_with_the_pagerduty_webhook_secret() -> None:
    """Its receiver would hold the secret that makes a delivery look like PagerDuty's, and could
    end anyone's incident access, or keep it, at will."""
    text = """\
version: 1
resources:
  db:
    approve: {people: [lead@example.com]}
    grant: {type: webhook, url: "https://hooks.example.com/x", secret_env: PAGERDUTY_WEBHOOK_SECRET}
"""
    with pytest.raises(PolicyError, match="one of the bot's own settings"):
        parse_policy(text, "p.yaml")


def test_opsgenie_services_are_accepted_with_every_incident_key() -> None:
    text = """\
version: 1
resources:
  db:
    request: {incident: ["opsgenie:service/Checkout"]}
    approve: {auto_if_incident: true, people: [lead@example.com]}
    end_with_incident: true
"""
    res = parse_policy(text, "p.yaml").resources["db"]
    assert [str(g) for g in res.request.incident] == ["opsgenie:service/Checkout"]
    assert res.approve.auto_if_incident and res.ends_with_incident


def test_jsm_teams_are_accepted_with_every_incident_key() -> None:
    """JSM alerts name responder teams, not services: `jsm:team/NAME` is what they are on."""
    text = """\
version: 1
resources:
  db:
    request: {incident: ["jsm:team/Platform"], members: ["jsm:team/Platform"]}
    approve: {auto_if_incident: true, people: [lead@example.com]}
    end_with_incident: true
"""
    res = parse_policy(text, "p.yaml").resources["db"]
    assert res.request.incident == (GroupRef.parse("jsm:team/Platform"),)
    assert res.ends_with_incident
