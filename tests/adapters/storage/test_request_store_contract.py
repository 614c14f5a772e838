"""One contract, every request store: the in-memory store the core's tests use, and the SQL store
on a real SQLite file and a real PostgreSQL. Whatever the core relies on — compare-and-set,
the state machine, one decision under concurrency, distinct approvers, the lists it reads —
is asserted against each, so a test that passes on the fast store says something about the
real one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.storage.engine import make_engine
from adapters.storage.migrate import upgrade
from adapters.storage.requests import SqlRequestStore
from core.audit import AuditEvent
from core.evidence import Evidence, Rule
from core.groups import GroupRef
from core.ports import RequestStore
from core.requests import AccessRequest, InvalidTransition, Status
from tests.core.fakes import FakeAuditLog, FakeRequestStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sql"])
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[RequestStore]:
    """`database_url` runs each case on SQLite and PostgreSQL; `memory` ignores it (and so runs
    twice, which costs nothing)."""
    if request.param == "memory":
        yield FakeRequestStore(FakeAuditLog())
        return
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        yield SqlRequestStore(engine)
    finally:
        await engine.dispose()


def _request(
    request_id: str, requester: str = "alice@example.com", **changes: object
) -> AccessRequest:
    return AccessRequest(
        id=request_id,
        resource="prod-db",
        requester=requester,
        duration=timedelta(hours=1),
        reason="INC-1",
        status=Status.PENDING,
        created_at=NOW,
        timeout_at=NOW + timedelta(minutes=30),
    ).with_changes(**changes)


def _event(name: str, request_id: str) -> AuditEvent:
    return AuditEvent(name, NOW, "someone@example.com", request_id=request_id, resource="prod-db")


async def test_a_created_request_reads_back_as_it_was(store: RequestStore) -> None:
    evidence = Evidence(
        Rule.REQUEST_ON_CALL,
        group=GroupRef.parse("pagerduty:schedule/Primary SRE"),
        snapshot_at=NOW - timedelta(minutes=5),
        roster_age_s=300,
        live_confirm=False,
        shift_start=NOW - timedelta(hours=1),
        shift_end=NOW + timedelta(hours=6),
        level=1,
    )
    made = _request("r2222aa", evidence=evidence)
    await store.create(made, _event("request.created", made.id))
    found = await store.get(made.id)
    assert found is not None
    assert (found.id, found.status, found.duration, found.created_at, found.evidence) == (
        made.id,
        Status.PENDING,
        timedelta(hours=1),
        NOW,
        evidence,
    )
    assert await store.get("r9999zz") is None


async def test_concurrent_transitions_make_exactly_one_decision(store: RequestStore) -> None:
    made = _request("r2222ab")
    await store.create(made, _event("request.created", made.id))

    decided = await asyncio.gather(
        *(
            store.transition(
                made.id,
                Status.PENDING,
                Status.APPROVED if i % 2 else Status.DENIED,
                {"decided_by": f"approver{i}@example.com", "decided_at": NOW},
                _event("request.decided", made.id),
            )
            for i in range(10)
        )
    )

    winners = [d for d in decided if d is not None]
    assert len(winners) == 1
    stored = await store.get(made.id)
    assert stored is not None and stored.status == winners[0].status
    assert stored.decided_by == winners[0].decided_by


async def _stored_as(store: RequestStore, request_id: str, *path: Status) -> AccessRequest:
    """A new request moved along the state machine, as the workflow would move it."""
    made = _request(request_id)
    await store.create(made, _event("request.created", made.id))
    current = made
    for new in path:
        moved = await store.transition(
            request_id, current.status, new, _moved_to(new), _event(f"to.{new}", request_id)
        )
        assert moved is not None
        current = moved
    return current


def _moved_to(status: Status) -> dict[str, object]:
    if status == Status.ACTIVE:
        return {"granted_at": NOW, "expires_at": NOW + timedelta(hours=1)}
    return {"decided_at": NOW} if status in (Status.APPROVED, Status.DENIED) else {}


async def test_a_request_enters_the_store_pending(store: RequestStore) -> None:
    with pytest.raises(InvalidTransition, match="created pending, not active"):
        await store.create(_request("r2222af", status=Status.ACTIVE), _event("x", "r2222af"))
    assert await store.get("r2222af") is None


async def test_a_move_the_state_machine_forbids_is_refused_and_changes_nothing(
    store: RequestStore,
) -> None:
    made = await _stored_as(store, "r2222ac", Status.DENIED)
    with pytest.raises(InvalidTransition, match="denied cannot become approved"):
        await store.transition(made.id, Status.DENIED, Status.APPROVED, {}, _event("x", made.id))
    with pytest.raises(InvalidTransition, match="must name the status it moves from"):
        await store.update_if(made.id, {}, {"status": Status.ACTIVE})
    stored = await store.get(made.id)
    assert stored is not None and stored.status == Status.DENIED


async def test_a_compare_and_set_on_a_stale_value_changes_nothing(store: RequestStore) -> None:
    made = await _stored_as(store, "r2222ad", Status.APPROVED, Status.ACTIVE)
    stale = {"status": Status.ACTIVE, "expires_at": NOW}
    assert await store.update_if(made.id, stale, {"expires_at": NOW + timedelta(hours=2)}) is None
    fresh = {"status": Status.ACTIVE, "expires_at": NOW + timedelta(hours=1)}
    moved = await store.update_if(made.id, fresh, {"expires_at": NOW + timedelta(hours=2)})
    assert moved is not None and moved.expires_at == NOW + timedelta(hours=2)
    assert moved.version == made.version + 1


async def test_approvals_count_distinct_approvers_of_pending_requests(store: RequestStore) -> None:
    made = _request("r2222ae")
    await store.create(made, _event("request.created", made.id))
    assert await store.add_approval(made.id, "bob@example.com", NOW) == 1
    assert await store.add_approval(made.id, "bob@example.com", NOW) is None  # once each
    assert await store.add_approval(made.id, "lead@example.com", NOW) == 2
    stored = await store.get(made.id)
    assert stored is not None and set(stored.approvals) == {"bob@example.com", "lead@example.com"}
    await store.transition(made.id, Status.PENDING, Status.CANCELLED, {}, _event("x", made.id))
    assert await store.add_approval(made.id, "cto@example.com", NOW) is None  # decided already


async def test_lists_find_requests_by_status_and_by_requester_newest_first(
    store: RequestStore,
) -> None:
    paths: tuple[tuple[Status, ...], ...] = ((), (Status.APPROVED, Status.ACTIVE), (Status.DENIED,))
    for i, path in enumerate(paths):
        made = _request(f"r2222b{i + 2}", created_at=NOW + timedelta(minutes=i))
        await store.create(made, _event("request.created", made.id))
        current = made.status
        for new in path:
            assert await store.transition(
                made.id, current, new, _moved_to(new), _event("x", made.id)
            )
            current = new
    await store.create(
        other := _request("r2222c2", requester="bob@example.com"),
        _event("request.created", other.id),
    )

    pending = {r.id for r in await store.with_status(Status.PENDING)}
    assert pending == {"r2222b2", "r2222c2"}
    assert {r.id for r in await store.with_status(Status.ACTIVE, Status.DENIED)} == {
        "r2222b3",
        "r2222b4",
    }
    assert [r.id for r in await store.by_requester("alice@example.com")] == [
        "r2222b4",
        "r2222b3",
        "r2222b2",
    ]
