"""JSM operations alerts read live for `request.incident` (`jsm:team/NAME`): who responds to an
open alert of a team, read the way Atlassian's published Get alert sample writes an alert, and
what the adapter asks the API for."""

from __future__ import annotations

import json
from typing import Any

from core.groups import GroupRef
from core.incidents import IncidentStatus
from tests.adapters.jsm.conftest import NOW, Make, seed_small
from tests.adapters.jsm.test_samples import shape
from tests.fakes.jsm import FakeJsm, Participant
from tests.reference_files import REFERENCE

SAMPLE = REFERENCE / "samples" / "jsm-ops" / "alerts.get.200.json"
SRE = GroupRef.parse("jsm:team/SRE")


def sample() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return body


async def test_the_published_sample_reads_as_a_closed_alert_of_its_team(
    jsm: FakeJsm, make: Make
) -> None:
    """Closed, so nobody responds any more; its team is named by id when the sync lacks it."""
    jsm.fail("*/v1/alerts/*", 200, body=sample())
    provider = make()

    alert = await provider.incidents.get("e0caa0ce-d52f-4500-81b9-d592d06970b6")

    assert alert is not None
    assert (alert.number, alert.status, alert.url) == (1234, IncidentStatus.RESOLVED, "")
    assert alert.title == "The CPU usage on Server XYZ has exceeded 80% for over 5 minutes."
    assert alert.service.name == "4513b7ea-3b91-438f-b7e4-e3e54af9147c"
    assert alert.label.startswith('JSM alert #1234 "The CPU usage')
    assert alert.assignees == frozenset()


async def test_the_published_sample_reopened_counts_its_user_not_escalations_or_owner_names(
    jsm: FakeJsm, make: Make
) -> None:
    site = seed_small(jsm)
    body = sample()
    body["status"] = "open"
    body["responders"][0]["id"] = site.sre.id
    body["responders"][1]["id"] = site.carol.account_id
    jsm.fail("*/v1/alerts/*", 200, body=body)
    provider = make()
    await provider.fetch()

    alert = await provider.incidents.get(body["id"])

    assert alert is not None
    assert alert.status is IncidentStatus.ACKNOWLEDGED  # open, and `acknowledged: true`
    assert alert.service == SRE
    # SRE's visible members and the user responder; "John Smith" (a display name), the
    # escalation and the schedule name nobody; dana hides her e-mail
    assert alert.assignees == {"alice@example.com", "bob@example.com", "carol@example.com"}


async def test_the_fake_answers_alerts_in_the_published_shape(jsm: FakeJsm, make: Make) -> None:
    site = seed_small(jsm)
    alert = jsm.open_alert("Disk full", [site.sre, site.carol, Participant("schedule", "s1")], NOW)
    jsm.assign_alert(alert, site.bob, NOW)
    provider = make()
    await provider.fetch()

    await provider.incidents.open_on([SRE])
    await provider.incidents.get(alert.id)

    allowed = shape(sample())
    listed = [r.body for r in jsm.requests_to("*/v1/alerts")]
    one = [r.body for r in jsm.requests_to("*/v1/alerts/*")]
    assert listed and one
    for body in listed:
        assert shape(body) - {"values", "links", "links.next"} <= {
            f"values[].{p}" for p in allowed
        } | {"values[]"}
    for body in one:
        assert shape(body) <= allowed


async def test_a_team_the_sync_missed_is_found_and_its_members_read_live(
    jsm: FakeJsm, make: Make
) -> None:
    site = seed_small(jsm)
    provider = make()
    await provider.fetch()
    late = jsm.add_team("Late", [site.carol])
    jsm.open_alert("New team paged", [late], NOW)

    found = await provider.incidents.assigned(
        "carol@example.com", [GroupRef.parse("jsm:team/Late")]
    )

    assert [a.title for a in found] == ["New team paged"]
    assert jsm.requests_to("/gateway/api/public/teams/v1/org/*/teams/*/members")


async def test_no_alert_call_for_a_team_nobody_has(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    provider = make()
    await provider.fetch()

    assert await provider.incidents.open_on([GroupRef.parse("jsm:team/Nope")]) == []
    assert not jsm.requests_to("*/v1/alerts")


async def test_a_deleted_alert_is_gone(jsm: FakeJsm, make: Make) -> None:
    assert await make().incidents.get("no-such-alert") is None
