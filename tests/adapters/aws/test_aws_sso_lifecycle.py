"""aws-sso grants end to end: a real bot on a SQLite file, IAM Identity Center served by moto over
real HTTP through a proxy that throttles and refuses as AWS does. What a person notices: the
assignment appears in the account when access is granted and is gone when it ends; standing
access is never taken away; a missing permission is named; throttling only slows things down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from adapters.aws.granter import AwsSsoGranter
from bot.scheduler import Scheduler
from core.identity import Actor
from core.ports import Grant
from core.requests import Status
from tests.adapters.aws.conftest import Aws
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.aws.identity_center import ACCOUNT, REGION

ALICE = "alice@example.com"


def policy(instance_arn: str, permission_set_arn: str) -> str:
    return dedent(
        f"""
        version: 1
        resources:
          prod-admin:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            max_duration: 2h
            grant:
              type: aws-sso
              instance_arn: "{instance_arn}"
              permission_set_arn: "{permission_set_arn}"
              account_id: "{ACCOUNT}"
              region: {REGION}
        """
    )


async def test_access_is_an_assignment_for_its_duration_removed_at_the_end_after_a_restart(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert active.status == Status.ACTIVE, active.last_error
        assert aws.world.assignments(admin) == [alice]
    finally:
        await bot.close()
    clock.advance(timedelta(minutes=30))
    policy_text = policy(aws.world.instance_arn, admin)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy_text)  # a new process
    try:
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert aws.world.assignments(admin) == []
    finally:
        await bot.close()


async def test_an_assignment_the_person_already_had_is_never_taken_away(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    aws.world.assign(admin, alice)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert active.status == Status.ACTIVE
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert aws.world.assignments(admin) == [alice]
        assert aws.proxy.calls["CreateAccountAssignment"] == 0
        assert aws.proxy.calls["DeleteAccountAssignment"] == 0
    finally:
        await bot.close()


async def test_a_user_found_by_user_name_when_no_email_matches(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user("a.ng@corp.example.net", user_name=ALICE)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert active.status == Status.ACTIVE, active.last_error
        assert aws.world.assignments(admin) == [alice]
    finally:
        await bot.close()


async def test_a_removal_by_hand_meanwhile_is_reported_to_the_admins(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    lines: list[str] = []
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin), lines=lines
    )
    try:
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        aws.world.unassign(admin, alice)
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert any(
            "to admins:" in line
            and "left a manual change alone" in line
            and "removed (by hand" in line
            for line in lines
        ), lines
        assert aws.proxy.calls["DeleteAccountAssignment"] == 0
    finally:
        await bot.close()


async def test_a_missing_permission_is_named_and_the_grant_retried_once_it_is_given(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    aws.proxy.deny.add("CreateAccountAssignment")
    lines: list[str] = []
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin), lines=lines
    )
    try:
        approved = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert approved.status == Status.APPROVED
        assert "lack the IAM permission sso:CreateAccountAssignment" in str(approved.last_error)
        assert any("to admins:" in line and "sso:CreateAccountAssignment" in line for line in lines)
        status = await bot.dispatcher.handle(Actor("lead@example.com"), "status")
        assert any(
            "Grant failing" in line and "sso:CreateAccountAssignment" in line
            for line in status.lines
        )

        aws.proxy.deny.clear()
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(approved.id)).status == Status.ACTIVE
        assert aws.world.assignments(admin) == [alice]
    finally:
        await bot.close()


async def test_throttling_only_slows_a_grant_down(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        aws.proxy.throttle_next = 2
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert active.status == Status.ACTIVE, active.last_error
        assert aws.proxy.throttled == 2
        assert aws.world.assignments(admin) == [alice]
    finally:
        await bot.close()


async def test_an_assignment_still_in_progress_is_followed_until_it_succeeds(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    aws.proxy.in_progress = True
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        active = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert active.status == Status.ACTIVE, active.last_error
        assert aws.proxy.calls["DescribeAccountAssignmentCreationStatus"] == 1
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert aws.proxy.calls["DescribeAccountAssignmentDeletionStatus"] == 1
        assert aws.world.assignments(admin) == []
        assert alice
    finally:
        await bot.close()


async def test_a_person_unknown_to_identity_center_is_told_in_one_sentence(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        approved = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert approved.status == Status.APPROVED
        assert approved.last_error == (
            "IAM Identity Center has no user whose email or user name is alice@example.com."
        )
    finally:
        await bot.close()


async def test_status_shows_the_target_and_names_a_missing_read_permission(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        ok = await bot.dispatcher.handle(Actor("lead@example.com"), "status")
        name = admin.rsplit("/", 1)[-1]
        assert f"Grant target aws-sso {name} in account {ACCOUNT} ({REGION}): OK" in "\n".join(
            ok.lines
        )
        aws.proxy.deny.add("DescribePermissionSet")
        failing = await bot.dispatcher.handle(Actor("lead@example.com"), "status")
        assert any(
            "FAILING" in line and "lack the IAM permission sso:DescribePermissionSet" in line
            for line in failing.lines
        ), failing.lines
    finally:
        await bot.close()


async def test_an_assignment_created_but_its_answer_lost_is_still_removed_at_the_end(
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the SDK gives up at once: the bot retries
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    aws.proxy.lose_answers["CreateAccountAssignment"] = 1
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(aws.world.instance_arn, admin))
    try:
        approved = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        assert approved.status == Status.APPROVED, aws.proxy.calls  # the bot never heard it worked
        assert aws.world.assignments(admin) == [alice]  # but it did
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        active = await bot.service.get(approved.id)
        assert active.status == Status.ACTIVE
        assert aws.proxy.calls["CreateAccountAssignment"] == 1  # not created twice
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(approved.id)).status == Status.EXPIRED
        assert aws.world.assignments(admin) == []  # the bot's, so removed, not taken for hers
    finally:
        await bot.close()


def two_resources(instance_arn: str, permission_set_arn: str) -> str:
    """Two resources that give the same assignment (say, one with a longer maximum)."""
    one = policy(instance_arn, permission_set_arn)
    body = one.split("resources:\n", 1)[1]
    return one + body.replace("prod-admin:", "prod-admin-long:", 1).replace(
        "max_duration: 2h", "max_duration: 8h"
    )


async def test_an_assignment_two_accesses_share_is_removed_when_the_last_one_ends(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, aws: Aws
) -> None:
    admin = aws.world.permission_set("AdministratorAccess")
    alice = aws.world.user(ALICE)
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=two_resources(aws.world.instance_arn, admin)
    )
    try:
        short = await bot.service.request(Actor(ALICE), "prod-admin", timedelta(minutes=30), "")
        long = await bot.service.request(Actor(ALICE), "prod-admin-long", timedelta(hours=1), "")
        assert (short.status, long.status) == (Status.ACTIVE, Status.ACTIVE)
        assert aws.proxy.calls["CreateAccountAssignment"] == 1
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(short.id)).status == Status.EXPIRED
        assert aws.world.assignments(admin) == [alice]  # still hers through the longer access
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(long.id)).status == Status.EXPIRED
        assert aws.world.assignments(admin) == []
    finally:
        await bot.close()


async def test_many_grants_at_once_stay_within_identity_centers_rate_limit(aws: Aws) -> None:
    """Twenty people granted together: the granter paces its requests below the 20 a second
    IAM Identity Center allows, so none is spent on being throttled."""
    admin = aws.world.permission_set("AdministratorAccess")
    emails = [f"person{i}@example.com" for i in range(20)]
    users = [aws.world.user(e) for e in emails]
    proxy = aws.proxy
    proxy.rate = 20.0
    notes = _Notes()
    granter = AwsSsoGranter(notes)
    start = datetime(2031, 1, 1, tzinfo=UTC)
    spec = {
        "type": "aws-sso",
        "instance_arn": aws.world.instance_arn,
        "permission_set_arn": admin,
        "account_id": ACCOUNT,
        "region": REGION,
    }
    grants = [
        Grant(f"r{i}", "prod-admin", e, start, start + timedelta(hours=1), (), "", spec)
        for i, e in enumerate(emails)
    ]
    await asyncio.gather(*(granter.grant(g) for g in grants))
    assert aws.world.assignments(admin) == sorted(users)
    assert proxy.throttled == 0


class _Notes:
    """The bot's key-value store in memory (the SQL one is exercised by the lifecycle tests)."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    async def get(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)

    async def put(self, key: str, value: object) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)
