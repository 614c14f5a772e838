"""The access workflow end to end: chat text in, replies and state out, through in-memory ports.

The world: Tuesday 4 March 2031, 12:00 UTC. PagerDuty was synced 10 minutes ago.
    Primary SRE    members alice, carol, dave; alice on call 08:00-16:00, dave's shift 06:00-10:00
    Secondary SRE  bob on call 08:00-20:00
admin@example.com is the admin; lead@example.com and cto@example.com are named approvers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from core.audit import verify_chain
from core.commands import HELP_TEXT
from core.dispatcher import Dispatcher
from core.groups import Provider
from core.identity import Actor
from core.lifecycle import Lifecycle
from core.policy import parse_policy
from core.replies import Reply
from core.requests import AccessRequest, Status
from core.roster import RosterSnapshot, Shift
from core.service import AccessService, AccessSettings, RosterCache
from core.sync import RosterSyncer
from tests.core.builders import PRIMARY, SECONDARY, group, shift, snapshot
from tests.core.fakes import (
    FakeAuditLog,
    FakeClock,
    FakeNotifier,
    FakeRecordGranter,
    FakeRequestStore,
    FakeRosterProvider,
    FakeRosterStore,
    PortFailure,
)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2031, 3, 4, hour, minute, second, tzinfo=UTC)


NOW = at(12)
MAX_AGE = timedelta(minutes=45)
ALICE, BOB, CAROL, DAVE = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dave"))
LEAD, CTO, ADMIN = "lead@example.com", "cto@example.com", "admin@example.com"

POLICY = parse_policy(
    """\
version: 1
defaults: {default_duration: 1h, max_duration: 8h, approval_timeout: 30m}
resources:
  prod-db:
    description: Read-write on the production database
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve:
      on_call: ["pagerduty:schedule/Secondary SRE"]
      people: [lead@example.com]
    max_duration: 4h
    require_reason: true
  grafana-admin:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {auto_if_on_call: true, people: [lead@example.com]}
  prod-ssh:
    request: {members: ["pagerduty:schedule/Primary SRE"]}
    approve:
      people: [lead@example.com, cto@example.com]
      required: 2
"""
)


def pagerduty(taken_at: datetime, *overrides: Shift) -> RosterSnapshot:
    return snapshot(
        taken_at,
        group(
            PRIMARY,
            members=[ALICE, CAROL, DAVE],
            shifts=[shift(ALICE, at(8), at(16)), shift(DAVE, at(6), at(10)), *overrides],
        ),
        group(SECONDARY, shifts=[shift(BOB, at(8), at(20))]),
    )


class World:
    def __init__(self, *, synced: bool = True, connected: bool = True) -> None:
        self.clock = FakeClock(NOW)
        self.audit = FakeAuditLog()
        self.store = FakeRequestStore(self.audit)
        self.rosters = FakeRosterStore(
            self.audit, [pagerduty(NOW - timedelta(minutes=10))] if synced else []
        )
        self.notifier = FakeNotifier()
        self.granter = FakeRecordGranter()
        self.overrides: list[Shift] = []  # made in PagerDuty after the last sync
        self.provider = FakeRosterProvider(
            Provider.PAGERDUTY, lambda: pagerduty(self.clock.now(), *self.overrides)
        )
        self.service = AccessService(
            policy=lambda: POLICY,
            store=self.store,
            audit=self.audit,
            roster=RosterCache(self.rosters),
            granters={"record": self.granter},
            notifier=self.notifier,
            clock=self.clock,
            settings=AccessSettings(roster_max_age=MAX_AGE, admins=frozenset({ADMIN})),
            providers=lambda: [self.provider] if connected else [],
        )
        self.syncer = RosterSyncer(
            lambda: [self.provider], self.rosters, self.notifier, self.clock, lambda: POLICY
        )
        self.dispatcher = Dispatcher(self.service, self.syncer)

    async def say(self, email: str, text: str, tz: str = "UTC") -> Reply:
        return await self.dispatcher.handle(Actor(email, tz=tz), text)

    async def request(self, email: str, text: str) -> AccessRequest:
        reply = await self.say(email, text)
        assert reply.ok, reply.text
        assert reply.request is not None
        return reply.request

    async def stored(self, request_id: str) -> AccessRequest:
        found = await self.store.get(request_id)
        assert found is not None
        return found


@pytest.fixture
def world() -> World:
    return World()


PROD_DB_REQUEST = 'request prod-db 2h "INC-4411 failover"'


# -- refusals that create nothing -----------------------------------------------------------------

REFUSED = [
    (
        "not-on-call",
        CAROL,
        PROD_DB_REQUEST,
        "You are not on call for Primary SRE (PagerDuty).",
    ),
    (
        "shift-ended",
        DAVE,
        PROD_DB_REQUEST,
        "Your shift for Primary SRE (PagerDuty) ended at 10:00 UTC.",
    ),
    (
        "longer-than-maximum",
        ALICE,
        "request prod-db 5h INC-4411",
        "5h is longer than the 4h maximum for prod-db.",
    ),
    (
        "reason-required",
        ALICE,
        "request prod-db 2h",
        "prod-db needs a reason: `request prod-db 2h REASON`.",
    ),
    (
        "reason-required-default-duration",
        ALICE,
        "request prod-db",
        "prod-db needs a reason: `request prod-db 1h REASON`.",
    ),
    (
        "unknown-resource-close-match",
        ALICE,
        "request prod-bd 1h INC-4411",
        "There is no resource `prod-bd`. Did you mean `prod-db`?",
    ),
    (
        "unknown-resource-no-match",
        ALICE,
        "request kafka 1h INC-4411",
        "There is no resource `kafka`. Type `list` to see what you may request.",
    ),
    (
        "mistyped-verb",
        ALICE,
        "reqest prod-db 1h INC-4411",
        "I don't know `reqest`. Did you mean `request`? Type `help` for the commands.",
    ),
]


@pytest.mark.parametrize(
    ("email", "text", "sentence"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
async def test_refused_request_says_why_and_creates_nothing(
    world: World, email: str, text: str, sentence: str
) -> None:
    reply = await world.say(email, text)
    assert not reply.ok
    assert reply.text == sentence
    assert world.store.all == []
    assert world.audit.events == []
    assert world.notifier.asked == []


async def test_stale_roster_refuses_until_an_admin_syncs(world: World) -> None:
    world.clock.advance(timedelta(minutes=36))  # the 11:50 sync is now 46 minutes old
    refused = await world.say(ALICE, PROD_DB_REQUEST)
    assert not refused.ok
    assert refused.text == (
        "The on-call roster is out of date (last good sync 11:50 UTC, 46m ago); "
        "an admin can run `sync`."
    )
    assert world.store.all == []

    synced = await world.say(ADMIN, "sync")
    assert synced.ok
    assert synced.text.startswith("PagerDuty: synced 2 groups, 0 people, 3 shifts in ")
    assert world.audit.events == ["roster.synced"]

    accepted = await world.say(ALICE, PROD_DB_REQUEST)
    assert accepted.ok
    assert accepted.request is not None
    assert accepted.request.status == Status.PENDING


async def test_override_made_after_the_last_sync_is_confirmed_live(world: World) -> None:
    world.overrides.append(shift(CAROL, at(11), at(18)))
    reply = await world.say(CAROL, PROD_DB_REQUEST)
    assert reply.ok, reply.text
    assert reply.request is not None
    assert reply.request.status == Status.PENDING
    evidence = reply.request.evidence
    assert (evidence.group, evidence.shift_end) == (PRIMARY, at(18))
    assert evidence.live_confirm is True


async def test_duplicate_request_points_at_the_open_one(world: World) -> None:
    first = await world.request(ALICE, PROD_DB_REQUEST)
    again = await world.say(ALICE, "request prod-db 1h INC-4412")
    assert not again.ok
    assert again.text == (
        f"You already have request {first.id} for prod-db, waiting for approval; see `mine`."
    )
    assert len(world.store.all) == 1


# -- request, approve, grant, expire --------------------------------------------------------------


async def test_request_approved_by_on_call_approver_is_granted_then_expires(world: World) -> None:
    asked = await world.say(ALICE, PROD_DB_REQUEST)
    assert asked.request is not None
    rid = asked.request.id
    assert asked.text == f"Request {rid} for prod-db (2h) is waiting for approval."

    ((asked_id, approvers, summary),) = world.notifier.asked
    assert asked_id == rid
    assert sorted(approvers) == [BOB, LEAD]
    assert f'alice@example.com requests prod-db for 2h "INC-4411 failover" ({rid})' in summary
    assert "on call for Primary SRE (PagerDuty) until" in summary
    assert len((await world.stored(rid)).message_refs) == 2

    world.clock.advance(timedelta(minutes=5))
    approved = await world.say(BOB, f"approve {rid.upper()} looks right")
    assert approved.ok
    assert approved.text == f"Approved {rid}: alice@example.com has prod-db for 2h."
    active = await world.stored(rid)
    assert active.status == Status.ACTIVE
    assert (active.decided_by, active.decision_note) == (BOB, "looks right")
    assert (active.granted_at, active.expires_at) == (at(12, 5), at(14, 5))
    (grant,) = world.granter.granted
    assert (grant.email, grant.resource, grant.approvers) == (ALICE, "prod-db", (BOB,))
    assert (grant.start, grant.end, grant.reason) == (at(12, 5), at(14, 5), "INC-4411 failover")
    assert world.notifier.told_to(ALICE) == [
        f"Your request {rid} for prod-db was approved by bob@example.com; access for 2h."
    ]
    assert (rid, Status.ACTIVE) in [
        (i, s) for i, s, refs in world.notifier.changed if len(refs) == 2
    ]

    world.clock.advance(timedelta(minutes=30))
    mine = await world.say(ALICE, "mine")
    assert mine.lines == (f"{rid}  prod-db  2h  active, 1h30m left",)

    world.clock.advance(timedelta(hours=1, minutes=29, seconds=59))
    assert await Lifecycle(world.service).expire_due_grants() == 0
    assert world.granter.revoked == []
    world.clock.advance(timedelta(seconds=1))
    assert await Lifecycle(world.service).expire_due_grants() == 1
    expired = await world.stored(rid)
    assert (expired.status, expired.ended_at) == (Status.EXPIRED, at(14, 5))
    assert [g.request_id for g in world.granter.revoked] == [rid]
    assert world.notifier.told_to(ALICE)[-1] == f"Your access to prod-db ({rid}) has expired."
    assert await Lifecycle(world.service).expire_due_grants() == 0

    records = await world.audit.records()
    assert [(r.event, r.actor) for r in records] == [
        ("request.created", ALICE),
        ("request.approved", BOB),
        ("access.granted", BOB),
        ("access.expired", "system"),
    ]
    assert records[1].detail["evidence"]["group"] == str(SECONDARY)
    assert records[1].detail["comment"] == "looks right"
    assert records[0].detail["evidence"]["group"] == str(PRIMARY)
    assert verify_chain(records) is None


async def test_on_call_requester_is_approved_at_once_with_evidence(world: World) -> None:
    reply = await world.say(ALICE, "request grafana-admin 2h")
    assert reply.request is not None
    rid = reply.request.id
    assert reply.ok
    assert reply.text == (
        f"Approved at once (you are on call): grafana-admin is yours until 14:00 UTC ({rid})."
    )
    assert (await world.stored(rid)).status == Status.ACTIVE
    assert world.notifier.asked == []
    assert world.notifier.told_to(ALICE) == [
        f"Your request {rid} for grafana-admin was approved automatically (you are on call); "
        "access for 2h."
    ]
    (approval,) = world.audit.of("request.approved")
    assert approval.actor == "system"
    assert approval.detail["auto"] is True
    evidence = approval.detail["evidence"]
    assert evidence["rule"] == "approve.auto_if_on_call"
    assert evidence["group"] == "pagerduty:schedule/Primary SRE"
    assert evidence["shift_end"] == at(16).isoformat()
    assert evidence["snapshot_at"] == at(11, 50).isoformat()
    assert world.audit.events == ["request.created", "request.approved", "access.granted"]


async def test_auto_approval_that_cannot_be_granted_says_so(world: World) -> None:
    world.granter.fail_on["grant"] = PortFailure("webhook 502")
    reply = await world.say(ALICE, "request grafana-admin 2h")
    assert reply.request is not None
    assert not reply.ok
    assert (
        reply.text == f"{reply.request.id} was approved, but granting it failed; admins are told."
    )
    assert (await world.stored(reply.request.id)).status == Status.APPROVED
    assert world.notifier.alerts == [
        f"Granting {reply.request.id} (grafana-admin for alice@example.com) failed: "
        "PortFailure. Retrying."
    ]
    assert world.audit.events[-1] == "access.grant_failed"


@pytest.mark.parametrize(
    ("approver", "sentence"),
    [
        (ALICE, "You cannot decide your own request; `cancel ID` withdraws it."),
        (
            CAROL,
            "You may not approve this: you are not on call for Secondary SRE (PagerDuty) "
            "and not a named approver.",
        ),
    ],
    ids=["self-approval", "not-an-approver"],
)
async def test_approval_by_someone_who_may_not_is_refused_and_changes_nothing(
    world: World, approver: str, sentence: str
) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    reply = await world.say(approver, f"approve {pending.id}")
    assert not reply.ok
    assert reply.text == sentence
    assert (await world.stored(pending.id)).status == Status.PENDING
    assert world.audit.events == ["request.created"]


@pytest.mark.parametrize(
    "second", ["approve {rid}", "deny {rid} too late"], ids=["second-approve", "deny-after"]
)
async def test_decision_after_approval_says_it_is_already_approved(
    world: World, second: str
) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    await world.say(BOB, f"approve {pending.id}")
    records_before = await world.audit.records()

    reply = await world.say(LEAD, second.format(rid=pending.id))
    assert not reply.ok
    assert reply.text == f"Request {pending.id} is already approved by bob@example.com and active."
    assert await world.audit.records() == records_before
    assert len(world.granter.granted) == 1
    assert (await world.stored(pending.id)).decided_by == BOB


async def test_two_approvers_clicking_at_once_yield_one_decision(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    replies = await asyncio.gather(
        world.say(BOB, f"approve {pending.id}"), world.say(LEAD, f"approve {pending.id}")
    )
    assert sorted(r.ok for r in replies) == [False, True]
    (refused,) = [r for r in replies if not r.ok]
    assert refused.text.startswith(f"Request {pending.id} ")
    assert "already approved by" in refused.text
    assert len(world.granter.granted) == 1
    assert world.audit.events.count("request.approved") == 1
    assert world.audit.events.count("access.granted") == 1


async def test_deny_with_reason_tells_the_requester(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    reply = await world.say(BOB, f'deny {pending.id} "not during the freeze"')
    assert reply.ok
    assert reply.text == f"Denied {pending.id} (prod-db for alice@example.com)."
    denied = await world.stored(pending.id)
    assert (denied.status, denied.decided_by, denied.decision_note) == (
        Status.DENIED,
        BOB,
        "not during the freeze",
    )
    assert world.notifier.told_to(ALICE) == [
        f"Your request {pending.id} for prod-db was denied by bob@example.com: not during the freeze"
    ]
    ((changed_id, status, refs),) = world.notifier.changed
    assert (changed_id, status, len(refs)) == (pending.id, Status.DENIED, 2)
    (record,) = world.audit.of("request.denied")
    assert (record.actor, record.detail["reason"]) == (BOB, "not during the freeze")
    assert world.granter.granted == []

    late = await world.say(LEAD, f"approve {pending.id}")
    assert late.text == f"Request {pending.id} was already denied by bob@example.com."


async def test_undecided_request_times_out(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    world.clock.advance(timedelta(minutes=29, seconds=59))
    assert await Lifecycle(world.service).time_out_pending() == 0
    world.clock.advance(timedelta(seconds=1))
    assert await Lifecycle(world.service).time_out_pending() == 1
    assert (await world.stored(pending.id)).status == Status.TIMED_OUT
    assert world.notifier.told_to(ALICE) == [
        f"Nobody decided your request {pending.id} for prod-db in time; it timed out."
    ]
    (record,) = world.audit.of("request.timed_out")
    assert record.actor == "system"

    late = await world.say(BOB, f"approve {pending.id}")
    assert late.text == f"Request {pending.id} timed out before anyone decided."
    assert world.granter.granted == []


async def test_two_required_approvals_need_two_distinct_approvers(world: World) -> None:
    asked = await world.say(CAROL, "request prod-ssh 1h")
    assert asked.request is not None
    rid = asked.request.id
    assert asked.text == f"Request {rid} for prod-ssh (1h) is waiting for approval."
    assert sorted(world.notifier.asked[0][1]) == [CTO, LEAD]

    first = await world.say(LEAD, f"approve {rid}")
    assert first.text == f"Approval recorded for {rid}: 1 of 2."
    assert world.notifier.told_to(CAROL) == [f"lead@example.com approved {rid} (1 of 2 approvals)."]
    assert (await world.stored(rid)).status == Status.PENDING

    again = await world.say(LEAD, f"approve {rid}")
    assert not again.ok
    assert again.text == f"You already approved {rid}; it needs 2 approvals."
    assert (await world.stored(rid)).status == Status.PENDING
    assert world.granter.granted == []

    second = await world.say(CTO, f"approve {rid}")
    assert second.text == f"Approved {rid}: carol@example.com has prod-ssh for 1h."
    assert (await world.stored(rid)).status == Status.ACTIVE
    assert world.granter.granted[0].approvers == (LEAD, CTO)
    assert world.audit.events == [
        "request.created",
        "request.approval_added",
        "request.approval_added",
        "request.approved",
        "access.granted",
    ]


# -- giving back, cancelling, extending -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "told"),
    [(ALICE, "revoked by you."), (ADMIN, "revoked by admin@example.com.")],
    ids=["requester-gives-back", "admin-takes-away"],
)
async def test_revoke_takes_access_back_early(world: World, who: str, told: str) -> None:
    active = await world.request(ALICE, "request grafana-admin 2h")
    reply = await world.say(who, f"revoke {active.id}")
    assert reply.text == f"Revoked {active.id} (grafana-admin for alice@example.com)."
    assert (await world.stored(active.id)).status == Status.REVOKED
    assert [g.request_id for g in world.granter.revoked] == [active.id]
    assert world.notifier.told_to(ALICE)[-1] == (
        f"Your access to grafana-admin ({active.id}) was {told}"
    )
    assert world.audit.of("access.revoked")[0].actor == who


@pytest.mark.parametrize("verb", ["revoke", "cancel", "extend {rid} 1h"], ids=str)
async def test_only_requester_or_admin_may_change_a_request(world: World, verb: str) -> None:
    active = await world.request(ALICE, "request grafana-admin 2h")
    text = verb.format(rid=active.id) if "{" in verb else f"{verb} {active.id}"
    reply = await world.say(BOB, text)
    assert not reply.ok
    assert reply.text == (f"Only alice@example.com or an admin can {text.split()[0]} {active.id}.")
    assert (await world.stored(active.id)).status == Status.ACTIVE


async def test_requester_cancels_pending_request_and_buttons_are_updated(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    reply = await world.say(ALICE, f"cancel {pending.id}")
    assert reply.text == f"Cancelled {pending.id}."
    assert (await world.stored(pending.id)).status == Status.CANCELLED
    ((changed_id, status, refs),) = world.notifier.changed
    assert (changed_id, status, len(refs)) == (pending.id, Status.CANCELLED, 2)


async def test_on_call_requester_extends_auto_approved_grant(world: World) -> None:
    active = await world.request(ALICE, "request grafana-admin 2h")
    reply = await world.say(ALICE, f"extend {active.id} 1h")
    assert reply.text == f"Extended {active.id}: grafana-admin until 15:00 UTC."
    extended = await world.stored(active.id)
    assert (extended.expires_at, extended.duration) == (at(15), timedelta(hours=3))
    assert world.audit.of("access.extended")[0].detail["by"] == "1h"


async def test_extending_past_the_shift_end_goes_through_approval_never_at_once(
    world: World,
) -> None:
    active = await world.request(ALICE, "request grafana-admin 2h")  # until 14:00; shift to 16:00

    reply = await world.say(ALICE, f"extend {active.id} 5h")

    assert reply.ok and reply.request is not None
    assert (reply.request.kind, reply.request.status) == ("extension", Status.PENDING)
    assert (await world.stored(active.id)).expires_at == at(14)  # nothing moved yet
    assert world.audit.of("access.extended") == []
    assert (await world.say(ALICE, f"approve {reply.request.id}")).ok is False  # not her own
    assert (await world.say(ADMIN, f"extend {active.id} 1h")).ok  # an admin may, at once
    assert (await world.stored(active.id)).expires_at == at(15)


@pytest.mark.parametrize(
    ("request_text", "extend_by", "sentence"),
    [
        (
            "request grafana-admin 2h",
            "7h",
            "That would make {rid} longer than the 8h maximum for grafana-admin.",
        ),
        (
            PROD_DB_REQUEST,
            "4h",
            "That would make {rid} longer than the 4h maximum for prod-db.",
        ),
    ],
    ids=["beyond-maximum", "beyond-maximum-needing-approval"],
)
async def test_extension_refused_says_why(
    world: World, request_text: str, extend_by: str, sentence: str
) -> None:
    created = await world.request(ALICE, request_text)
    if created.status == Status.PENDING:
        await world.say(BOB, f"approve {created.id}")
    before = await world.stored(created.id)
    reply = await world.say(ALICE, f"extend {created.id} {extend_by}")
    assert not reply.ok
    assert reply.text == sentence.format(rid=created.id)
    assert (await world.stored(created.id)).expires_at == before.expires_at


async def test_extension_without_auto_approval_goes_through_approval(world: World) -> None:
    created = await world.request(ALICE, PROD_DB_REQUEST)
    await world.say(BOB, f"approve {created.id}")
    before = await world.stored(created.id)
    assert before.expires_at is not None

    reply = await world.say(ALICE, f"extend {created.id} 1h")

    assert reply.ok and reply.request is not None
    extension = reply.request
    assert (extension.kind, extension.extends, extension.status) == (
        "extension",
        created.id,
        Status.PENDING,
    )
    assert (await world.stored(created.id)).expires_at == before.expires_at  # nothing moved yet
    assert (await world.say(BOB, f"approve {extension.id}")).ok
    after = await world.stored(created.id)
    assert after.expires_at == before.expires_at + timedelta(hours=1)
    assert world.audit.of("access.extended")[0].actor == BOB


# -- what people ask to see -----------------------------------------------------------------------


async def test_list_shows_what_i_may_request_and_why(world: World) -> None:
    reply = await world.say(DAVE, "list")
    assert reply.text == "Resources (✓ you may request now):"
    assert reply.lines == (
        "✗ prod-db (Read-write on the production database): "
        "Your shift for Primary SRE (PagerDuty) ended at 10:00 UTC.",
        "✗ grafana-admin: Your shift for Primary SRE (PagerDuty) ended at 10:00 UTC.",
        "✓ prod-ssh: You are a member of Primary SRE (PagerDuty).",
    )
    alice = await world.say(ALICE, "list", tz="Europe/Berlin")
    assert alice.lines[0] == (
        "✓ prod-db (Read-write on the production database): "
        "You are on call for Primary SRE (PagerDuty) until 17:00 CET."
    )


async def test_mine_lists_my_requests_newest_first_with_time_left(world: World) -> None:
    empty = await world.say(ALICE, "mine")
    assert empty.text == "You have no requests. `list` shows what you may request."

    denied = await world.request(ALICE, PROD_DB_REQUEST)
    await world.say(BOB, f"deny {denied.id}")
    world.clock.advance(timedelta(minutes=1))
    active = await world.request(ALICE, "request grafana-admin 2h")
    world.clock.advance(timedelta(minutes=30))

    mine = await world.say(ALICE, "mine")
    assert mine.text == "Your requests, newest first:"
    assert mine.lines == (
        f"{active.id}  grafana-admin  2h  active, 1h30m left",
        f"{denied.id}  prod-db  2h  denied",
    )
    assert (await world.say(BOB, "mine")).text.startswith("You have no requests.")


async def test_pending_shows_approvers_what_waits_for_them(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    reply = await world.say(BOB, "pending")
    assert reply.text == "Waiting for you (`approve ID` or `deny ID REASON`):"
    assert reply.lines == (
        f'alice@example.com requests prod-db for 2h "INC-4411 failover" ({pending.id}); '
        "on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    )
    for not_an_approver in (ALICE, CAROL):
        nothing = await world.say(not_an_approver, "pending")
        assert nothing.text == "Nothing is waiting for your approval."
        assert nothing.lines == ()


ONCALL = [
    (
        "all-groups",
        "oncall",
        "UTC",
        (
            "Primary SRE (PagerDuty): alice@example.com until 16:00 UTC",
            "Secondary SRE (PagerDuty): bob@example.com until 20:00 UTC",
        ),
    ),
    (
        "group-by-name",
        "oncall secondary",
        "UTC",
        ("Secondary SRE (PagerDuty): bob@example.com until 20:00 UTC",),
    ),
    (
        "group-by-reference",
        'oncall "pagerduty:schedule/Primary SRE"',
        "UTC",
        ("Primary SRE (PagerDuty): alice@example.com until 16:00 UTC",),
    ),
    (
        "viewer-time-zone",
        "oncall primary",
        "Europe/Berlin",
        ("Primary SRE (PagerDuty): alice@example.com until 17:00 CET",),
    ),
]


@pytest.mark.parametrize(
    ("text", "tz", "lines"), [o[1:] for o in ONCALL], ids=[o[0] for o in ONCALL]
)
async def test_oncall_shows_who_is_on_call_until_when(
    world: World, text: str, tz: str, lines: tuple[str, ...]
) -> None:
    reply = await world.say(CAROL, text, tz=tz)
    assert reply.ok
    assert reply.text == "On call now (PagerDuty synced 10m ago):"
    assert reply.lines == lines


async def test_oncall_for_unknown_group_says_so(world: World) -> None:
    reply = await world.say(CAROL, "oncall kafka")
    assert not reply.ok
    assert reply.text == "No group matches `kafka`; `oncall` lists them all."


async def test_oncall_before_any_sync_says_what_to_do() -> None:
    reply = await World(synced=False).say(CAROL, "oncall")
    assert not reply.ok
    assert reply.text == "No roster yet: an admin can connect a provider and run `sync`."


@pytest.mark.parametrize("text", ["status", "sync", "connect", "disconnect pagerduty"], ids=str)
async def test_admin_commands_are_refused_to_others(world: World, text: str) -> None:
    reply = await world.say(CAROL, text)
    assert not reply.ok
    assert reply.text == "Only admins can do that (ONCALL_ACCESS_ADMINS)."
    assert world.provider.fetches == 0


@pytest.mark.parametrize(
    ("text", "form"), [("connect", "connect"), ("request", "request")], ids=str
)
async def test_surfaces_with_forms_are_told_to_open_one(world: World, text: str, form: str) -> None:
    assert (await world.say(ADMIN, text)).open_form == form


@pytest.mark.parametrize("text", ["help", "", "/access"], ids=["help", "empty", "bare-prefix"])
async def test_help_shows_the_grammar(world: World, text: str) -> None:
    assert (await world.say(CAROL, text)).text == HELP_TEXT


# -- outages --------------------------------------------------------------------------------------

OUTAGES = [
    ("request-store", "store", "by_requester", PROD_DB_REQUEST),
    ("notifier", "notifier", "ask_approvers", PROD_DB_REQUEST),
    ("roster-store", "rosters", "latest", "oncall"),
    ("request-store-listing", "store", "with_status", "pending"),
]


@pytest.mark.parametrize(
    ("port", "method", "text"), [o[1:] for o in OUTAGES], ids=[o[0] for o in OUTAGES]
)
async def test_failure_inside_a_port_becomes_a_generic_message_with_an_error_id(
    world: World, caplog: pytest.LogCaptureFixture, port: str, method: str, text: str
) -> None:
    getattr(world, port).fail_on[method] = PortFailure("connect to 10.0.0.5 password=hunter2")
    with caplog.at_level(logging.ERROR, logger="core.dispatcher"):
        reply = await world.say(ALICE, text)
    assert not reply.ok
    found = re.fullmatch(
        r"Something went wrong on our side \(error id ([0-9a-f]{8})\); an admin can look it up\.",
        reply.text,
    )
    assert found, reply.text
    assert "hunter2" not in reply.full_text
    assert any(found[1] in r.getMessage() for r in caplog.records)


# -- known bugs -----------------------------------------------------------------------------------


async def test_approval_whose_grant_fails_does_not_claim_access_was_given(world: World) -> None:
    pending = await world.request(ALICE, PROD_DB_REQUEST)
    world.granter.fail_on["grant"] = PortFailure("webhook 502")
    reply = await world.say(BOB, f"approve {pending.id}")
    assert (await world.stored(pending.id)).status == Status.APPROVED
    assert not reply.ok
    assert "granting it failed" in reply.text


async def test_approval_summary_reads_times_against_the_service_clock(world: World) -> None:
    await world.request(ALICE, PROD_DB_REQUEST)
    ((_, _, summary),) = world.notifier.asked
    assert summary.endswith("on call for Primary SRE (PagerDuty) until 16:00 UTC.")


async def test_approvers_are_not_told_anyone_may_request_when_the_provider_is_disconnected() -> (
    None
):
    world = World(synced=False, connected=False)  # disconnected: no connection, no stored roster
    reply = await world.say(CAROL, PROD_DB_REQUEST)
    assert reply.request is not None
    ((_, approvers, summary),) = world.notifier.asked
    assert approvers == (LEAD,)
    assert "anyone may request it" not in summary


async def test_a_stored_roster_is_never_bypassed_by_the_disconnected_fallback() -> None:
    world = World(connected=False)  # the roster is still stored and fresh: it decides
    reply = await world.say(CAROL, PROD_DB_REQUEST)
    assert not reply.ok
    assert reply.text == "You are not on call for Primary SRE (PagerDuty)."
    assert world.notifier.asked == []
