"""The `aws-sso` granter: an IAM Identity Center account assignment of a permission set to the
person's user, for the duration of an access.

`grant: {type: aws-sso, instance_arn: ..., permission_set_arn: ..., account_id: "123456789012",
region: us-east-1}`. The identity store is the instance's (`ListInstances`); the user is found by
primary email, else by user name equal to the email (`GetUserId`).

An assignment the person already had is theirs: it is never created nor taken away. Otherwise a
note is written in the bot's store *before* the assignment is created, so a grant retried after a
lost answer (on any replica, after a restart) knows the assignment is the bot's to remove. Several
accesses giving one person the same assignment share the note; the last to end removes it. An
assignment removed by hand meanwhile is reported, not re-created or complained about twice.

Creating and deleting are asynchronous in AWS: the answer says IN_PROGRESS and the outcome is
read with DescribeAccountAssignmentCreationStatus (DeletionStatus), waiting a little longer each
time, up to about half a minute; a FAILED outcome is a refusal with AWS's reason.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from adapters.aws.client import AwsNotFound, AwsRefused, AwsUnavailable, IdentityCenter, action_of
from adapters.providerhttp.heldroles import KeyValues
from core.errors import DomainError
from core.ports import Grant, TargetHealth

KIND = "aws-sso"
POLL = (0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0)  # about 30 s for an assignment to settle


@dataclass(frozen=True, slots=True)
class Target:
    """Where the assignment is made: the policy's `grant:` mapping for this granter."""

    instance_arn: str
    permission_set_arn: str
    account_id: str
    region: str

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Target:
        values = {k: str(spec.get(k) or "").strip() for k in cls.__slots__}
        missing = [k for k, v in values.items() if not v]
        if missing:
            raise AwsRefused(f"An aws-sso grant needs {', '.join(missing)} in the policy.")
        return cls(**values)

    def params(self, principal_id: str) -> dict[str, str]:
        return {
            "InstanceArn": self.instance_arn,
            "TargetId": self.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": self.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": principal_id,
        }

    def note_key(self, principal_id: str) -> str:
        """Short enough for the store's keys whatever the ARNs' length."""
        whole = "|".join(
            (self.instance_arn, self.account_id, self.permission_set_arn, principal_id)
        )
        return f"{KIND}:{hashlib.sha256(whole.encode()).hexdigest()[:40]}"

    def show(self) -> str:
        name = self.permission_set_arn.rsplit("/", 1)[-1]
        return f"permission set {name} in account {self.account_id}"


@dataclass
class Note:
    """Who holds an assignment the bot created, and whether its removal has begun."""

    holders: list[str] = field(default_factory=list)
    removing: bool = False

    @classmethod
    def load(cls, raw: Any) -> Note | None:
        if not isinstance(raw, dict):
            return None
        return cls([str(h) for h in raw.get("holders") or ()], bool(raw.get("removing")))


class AwsSsoGranter:
    kind = KIND

    def __init__(
        self,
        notes: KeyValues,
        center_for: Callable[[str], IdentityCenter] | None = None,
        *,
        poll: tuple[float, ...] = POLL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._notes = notes
        self._centers: dict[str, IdentityCenter] = {}
        self._center_for = center_for or IdentityCenter
        self._stores: dict[tuple[str, str], str] = {}  # (region, instance) -> identity store id
        self._finding_store = asyncio.Lock()  # one ListInstances however many grants start at once
        self._poll, self._sleep = poll, sleep

    def center(self, region: str) -> IdentityCenter:
        if region not in self._centers:
            self._centers[region] = self._center_for(region)
        return self._centers[region]

    async def grant(self, grant: Grant) -> dict[str, Any]:
        target = Target.of(grant.spec)
        aws = self.center(target.region)
        principal = await self._user_id(aws, target, grant.email)
        receipt = {"type": KIND, **asdict(target), "principal_id": principal}
        key = target.note_key(principal)
        note = Note.load(await self._notes.get(key))
        present = await _assigned(aws, target, principal)
        if note is None and present:
            return {**receipt, "unchanged": True}  # theirs before this access: never taken away
        note = note or Note()
        if grant.request_id not in note.holders:
            note.holders.append(grant.request_id)
            await self._notes.put(key, asdict(note))  # before the change, so a retry finds it
        if not present:
            try:
                await self._change(aws, target, principal, "Create", "Creation")
            except AwsRefused:
                await self._leave(key, note, grant.request_id)  # nothing changed: no note to keep
                raise
        return receipt

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """The assignment stays until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("principal_id"):
            return {"type": KIND, "nothing_to_undo": True}
        if receipt.get("unchanged"):
            return {"type": KIND, "unchanged": True}
        target = Target.of(receipt)
        principal = str(receipt["principal_id"])
        aws = self.center(target.region)
        key = target.note_key(principal)
        note = Note.load(await self._notes.get(key))
        if note is None or grant.request_id not in note.holders:
            return {"type": KIND, "released": "already"}  # an earlier attempt finished
        others = [h for h in note.holders if h != grant.request_id]
        if others:
            await self._notes.put(key, asdict(Note(others, note.removing)))
            return {"type": KIND, "kept_for": others}
        if await _assigned(aws, target, principal):
            if not note.removing:
                await self._notes.put(key, asdict(Note(note.holders, True)))
            await self._change(aws, target, principal, "Delete", "Deletion")
            result: dict[str, Any] = {"type": KIND, "removed": target.show()}
        elif note.removing:
            result = {
                "type": KIND,
                "removed": target.show(),
            }  # by the attempt whose answer was lost
        else:
            result = {
                "type": KIND,
                "manual_change": f"{grant.email}'s assignment of {target.show()} was already "
                "removed (by hand, meanwhile), so there was nothing to remove.",
            }
        await self._notes.delete(key)
        return result

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """Read-only: the instance, its identity store, the permission set, and the right to
        list assignments. Creating and deleting are proven by the first grant and revoke."""
        try:
            target = Target.of(spec)
            aws = self.center(target.region)
            await self._identity_store(aws, target)
            await aws.call(
                "sso-admin",
                "DescribePermissionSet",
                InstanceArn=target.instance_arn,
                PermissionSetArn=target.permission_set_arn,
            )
            await aws.call(
                "sso-admin",
                "ListAccountAssignments",
                InstanceArn=target.instance_arn,
                AccountId=target.account_id,
                PermissionSetArn=target.permission_set_arn,
                MaxResults=1,
            )
        except DomainError as exc:
            return TargetHealth(False, exc.message)
        return TargetHealth(True, f"{target.show()} can be read in {target.region}")

    async def _identity_store(self, aws: IdentityCenter, target: Target) -> str:
        """The instance's identity store, looked up once per process (it never changes)."""
        known = self._stores.get((target.region, target.instance_arn))
        if known:
            return known
        async with self._finding_store:
            return self._stores.get((target.region, target.instance_arn)) or (
                await self._list_instances(aws, target)
            )

    async def _list_instances(self, aws: IdentityCenter, target: Target) -> str:
        token: str | None = None
        while True:
            page = await aws.call(
                "sso-admin", "ListInstances", **({"NextToken": token} if token else {})
            )
            for instance in page.get("Instances") or ():
                if instance.get("InstanceArn") == target.instance_arn:
                    store = str(instance["IdentityStoreId"])
                    self._stores[(target.region, target.instance_arn)] = store
                    return store
            token = page.get("NextToken")
            if not token:
                raise AwsRefused(
                    f"IAM Identity Center in {target.region} has no instance {target.instance_arn} "
                    "that these credentials can see."
                )

    async def _user_id(self, aws: IdentityCenter, target: Target, email: str) -> str:
        store = await self._identity_store(aws, target)
        for path in ("emails.value", "userName"):
            try:
                found = await aws.call(
                    "identitystore",
                    "GetUserId",
                    IdentityStoreId=store,
                    AlternateIdentifier={
                        "UniqueAttribute": {"AttributePath": path, "AttributeValue": email}
                    },
                )
            except AwsNotFound:
                continue
            return str(found["UserId"])
        raise AwsRefused(f"IAM Identity Center has no user whose email or user name is {email}.")

    async def _change(
        self, aws: IdentityCenter, target: Target, principal: str, verb: str, noun: str
    ) -> None:
        """Create or delete the assignment and wait for AWS to finish it."""
        answer = await aws.call("sso-admin", f"{verb}AccountAssignment", **target.params(principal))
        status = answer.get(f"AccountAssignment{noun}Status") or {}
        for delay in self._poll:
            if status.get("Status") != "IN_PROGRESS":
                break
            await self._sleep(delay)
            answer = await aws.call(
                "sso-admin",
                f"DescribeAccountAssignment{noun}Status",
                InstanceArn=target.instance_arn,
                **{f"AccountAssignment{noun}RequestId": str(status.get("RequestId"))},
            )
            status = answer.get(f"AccountAssignment{noun}Status") or {}
        state = status.get("Status")
        if state == "FAILED":
            raise AwsRefused(
                f"AWS could not {verb.lower()} the assignment of {target.show()}: "
                f"{status.get('FailureReason') or 'no reason given'}."
            )
        if state != "SUCCEEDED":
            raise AwsUnavailable(
                f"AWS had not finished {action_of('sso-admin', verb + 'AccountAssignment')} "
                f"for {target.show()} after {sum(self._poll):g} s; it is checked again on the retry."
            )

    async def _leave(self, key: str, note: Note, request_id: str) -> None:
        rest = [h for h in note.holders if h != request_id]
        if rest:
            await self._notes.put(key, asdict(Note(rest, note.removing)))
        else:
            await self._notes.delete(key)


async def _assigned(aws: IdentityCenter, target: Target, principal: str) -> bool:
    """Whether the person holds the assignment now: the person's own assignments in the account,
    which is one short page, where listing the permission set's would page through everyone."""
    token: str | None = None
    while True:
        page = await aws.call(
            "sso-admin",
            "ListAccountAssignmentsForPrincipal",
            InstanceArn=target.instance_arn,
            PrincipalId=principal,
            PrincipalType="USER",
            Filter={"AccountId": target.account_id},
            **({"NextToken": token} if token else {}),
        )
        for item in page.get("AccountAssignments") or ():
            if (
                item.get("PermissionSetArn") == target.permission_set_arn
                and item.get("AccountId") == target.account_id
            ):
                return True
        token = page.get("NextToken")
        if not token:
            return False
