"""The request state machine of DESIGN.md, and request ids people type by hand."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from core.errors import DomainError
from core.requests import AccessRequest, InvalidTransition, Status, check_transition, new_request_id
from tests.core.builders import utc

P, AP, AC = Status.PENDING, Status.APPROVED, Status.ACTIVE
EX, RV, DN, CA, TO = (
    Status.EXPIRED,
    Status.REVOKED,
    Status.DENIED,
    Status.CANCELLED,
    Status.TIMED_OUT,
)

# pending -> approved -> active -> expired | revoked;  pending -> denied | cancelled | timed_out.
# approved -> revoked: an approved request whose grant failed can still be taken back.
ALLOWED = {
    (P, AP),
    (P, DN),
    (P, CA),
    (P, TO),
    (AP, AC),
    (AP, RV),
    (AC, AC),  # extend
    (AC, EX),
    (AC, RV),
}
FORBIDDEN = sorted(set(itertools.product(Status, Status)) - ALLOWED)


@pytest.mark.parametrize(
    ("current", "new"), sorted(ALLOWED), ids=[f"{a}->{b}" for a, b in sorted(ALLOWED)]
)
def test_allowed_move_passes(current: Status, new: Status) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_any_other_move_is_refused_with_a_sentence(current: Status, new: Status) -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_transition(current, new)
    assert isinstance(refused.value, DomainError)
    assert refused.value.message == (
        f"A request that is {current.value} cannot become {new.value}."
    )


@pytest.mark.parametrize("status", [EX, RV, DN, CA, TO], ids=str)
def test_final_state_is_final_and_leads_nowhere(status: Status) -> None:
    assert status.is_final
    for new in Status:
        with pytest.raises(InvalidTransition):
            check_transition(status, new)


@pytest.mark.parametrize("status", [P, AP, AC], ids=str)
def test_open_state_is_not_final(status: Status) -> None:
    assert not status.is_final


def test_request_ids_use_only_characters_that_cannot_be_misread() -> None:
    ids = [new_request_id() for _ in range(500)]
    for request_id in ids:
        assert len(request_id) == 7
        assert request_id.startswith("r")
        assert request_id == request_id.lower()
    body = set("".join(i[1:] for i in ids))
    assert not body & set("01ilo")
    assert body <= set("23456789abcdefghjkmnpqrstuvwxyz")


def _request(**changes: object) -> AccessRequest:
    base = AccessRequest(
        id="r7k2m9p",
        resource="prod-db",
        requester="alice@example.com",
        duration=timedelta(hours=2),
        reason="INC-4411",
        status=Status.ACTIVE,
        created_at=utc(24, 12),
        timeout_at=utc(24, 12, 30),
        granted_at=utc(24, 12),
        expires_at=utc(24, 14),
    )
    return base.with_changes(**changes)


@pytest.mark.parametrize(
    ("now", "left"),
    [
        (utc(24, 12, 30), timedelta(hours=1, minutes=30)),
        (utc(24, 14), timedelta(0)),
        (utc(24, 15), timedelta(0)),
    ],
    ids=["half-an-hour-in", "at-the-end", "after-the-end"],
)
def test_time_left_never_goes_below_zero(now: datetime, left: timedelta) -> None:
    assert _request().time_left(now) == left


def test_request_without_grant_has_no_time_left() -> None:
    assert _request(status=Status.PENDING, expires_at=None).time_left(utc(24, 12)) == timedelta(0)
