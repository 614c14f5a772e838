"""The schema. Alembic migrations in `migrations/versions` create exactly these tables."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from adapters.storage.types import JSONText, UTCDateTime

metadata = MetaData()

requests = Table(
    "requests",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("resource", String(200), nullable=False, index=True),
    Column("requester", String(320), nullable=False, index=True),
    Column("duration_seconds", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("timeout_at", UTCDateTime, nullable=False),
    Column("decided_by", String(320)),
    Column("decided_at", UTCDateTime),
    Column("decision_note", Text, nullable=False, default=""),
    Column("granted_at", UTCDateTime),
    Column("expires_at", UTCDateTime, index=True),
    Column("ended_at", UTCDateTime),
    Column("evidence", JSONText, nullable=False),
    Column("message_refs", JSONText, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("kind", String(16), nullable=False, default="request", index=True),
    Column("extends", String(16)),
    Column("grant_receipt", JSONText),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("last_error", Text),
    Column("end_as", String(16)),
    Column("reminded_at", UTCDateTime),
    Column("escalated_at", UTCDateTime),
    Column("review", String(8)),
    Column("review_note", Text),
    Column("warned_at", UTCDateTime),
)

approvals = Table(
    "approvals",
    metadata,
    Column("request_id", String(16), primary_key=True),
    Column("approver", String(320), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("event", String(64), nullable=False),
    Column("request_id", String(16), index=True),
    Column("resource", String(200)),
    Column("actor", String(320), nullable=False),
    Column("subject", String(320)),
    Column("detail", JSONText, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(32)),
    UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

roster_snapshots = Table(
    "roster_snapshots",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("data", Text, nullable=False),
)

sync_health = Table(
    "sync_health",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("last_success", UTCDateTime),
    Column("last_attempt", UTCDateTime),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("counts", JSONText, nullable=False),
)

job_leases = Table(
    "job_leases",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("lease_until", UTCDateTime, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False, index=True),
)

connections = Table(
    "provider_connections",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("config", JSONText, nullable=False),
    Column("secret", Text, nullable=False),
    Column("connected_at", UTCDateTime, nullable=False),
    Column("connected_by", String(320), nullable=False),
    Column("revision", Integer, nullable=False, server_default="1"),
)

kv = Table(
    "kv",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
