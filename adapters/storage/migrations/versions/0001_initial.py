"""Initial schema: requests, approvals, audit trail, roster snapshots, sync health, job leases,
provider connections, key-values.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.storage.types import JSONText, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("resource", sa.String(200), nullable=False, index=True),
        sa.Column("requester", sa.String(320), nullable=False, index=True),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("timeout_at", UTCDateTime, nullable=False),
        sa.Column("decided_by", sa.String(320)),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("decision_note", sa.Text, nullable=False),
        sa.Column("granted_at", UTCDateTime),
        sa.Column("expires_at", UTCDateTime, index=True),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("evidence", JSONText, nullable=False),
        sa.Column("message_refs", JSONText, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("request_id", sa.String(16), primary_key=True),
        sa.Column("approver", sa.String(320), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(16), index=True),
        sa.Column("resource", sa.String(200)),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(320)),
        sa.Column("detail", JSONText, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "roster_snapshots",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("taken_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "sync_health",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("last_success", UTCDateTime),
        sa.Column("last_attempt", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("counts", JSONText, nullable=False),
    )
    op.create_table(
        "job_leases",
        sa.Column("job", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("lease_until", UTCDateTime, nullable=False),
    )
    op.create_table(
        "provider_connections",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("config", JSONText, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("connected_at", UTCDateTime, nullable=False),
        sa.Column("connected_by", sa.String(320), nullable=False),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", JSONText, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "kv",
        "provider_connections",
        "job_leases",
        "sync_health",
        "roster_snapshots",
        "audit_head",
        "audit_events",
        "approvals",
        "requests",
    ):
        op.drop_table(name)
