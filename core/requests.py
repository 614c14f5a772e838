"""Access requests and the one state machine they move through.

    pending -> approved -> active -> expired | revoked
    pending -> denied | cancelled | timed_out
    active -> active (extended)

Every move is a compare-and-set in the store, so two approvers clicking at once, or a retried
webhook, produce exactly one decision.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.errors import DomainError
from core.evidence import NO_EVIDENCE, Evidence


class Kind(StrEnum):
    REQUEST = "request"
    EXTENSION = "extension"
    BIRTHRIGHT = "birthright"
    BREAK_GLASS = "break_glass"


class ReviewState(StrEnum):
    """A break-glass access's review: open until an approver closes it as ok or flagged."""

    OPEN = "open"
    OK = "ok"
    FLAG = "flag"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DENIED = "denied"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_final(self) -> bool:
        return self in FINAL


FINAL = frozenset(
    {Status.EXPIRED, Status.REVOKED, Status.DENIED, Status.CANCELLED, Status.TIMED_OUT}
)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.DENIED, Status.CANCELLED, Status.TIMED_OUT}),
    Status.APPROVED: frozenset({Status.ACTIVE, Status.REVOKED}),
    Status.ACTIVE: frozenset(
        {Status.ACTIVE, Status.EXPIRED, Status.REVOKED}
    ),  # active->active: extend
}


class InvalidTransition(DomainError):
    """A move the state machine does not allow (e.g. approving a denied request)."""


def check_transition(current: Status, new: Status) -> None:
    if new not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"A request that is {current.value} cannot become {new.value}.")


def check_new(request: AccessRequest) -> None:
    """A request enters every store pending, and moves on from there by compare-and-set."""
    if request.status != Status.PENDING:
        raise InvalidTransition(f"A request is created pending, not {request.status.value}.")


def check_update(expected: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
    """What every store checks before a compare-and-set: a status moves only from the status
    it names, and only along the state machine."""
    if "status" not in changes:
        return
    if "status" not in expected:
        raise InvalidTransition("A status change must name the status it moves from.")
    check_transition(Status(expected["status"]), Status(changes["status"]))


_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: ids are typed by hand


def new_request_id() -> str:
    return "r" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: str
    resource: str
    requester: str
    duration: timedelta
    reason: str
    status: Status
    created_at: datetime
    timeout_at: datetime
    approvals: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str = ""
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    evidence: Evidence = NO_EVIDENCE
    message_refs: tuple[tuple[str, str], ...] = ()
    version: int = 0
    kind: Kind = Kind.REQUEST
    extends: str | None = None  # an extension's original request
    grant_receipt: dict[str, Any] | None = None  # what the granter returned, to undo it exactly
    attempts: int = 0  # failed grant or revoke attempts in a row
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    end_as: Status | None = None  # REVOKED while a manual revoke is being retried
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    review: ReviewState | None = None  # break-glass only
    review_note: str | None = None
    warned_at: datetime | None = None  # told that the grant ends with the shift

    def with_changes(self, **changes: Any) -> AccessRequest:
        return replace(self, **changes)

    def time_left(self, now: datetime) -> timedelta:
        return max(self.expires_at - now, timedelta(0)) if self.expires_at else timedelta(0)
