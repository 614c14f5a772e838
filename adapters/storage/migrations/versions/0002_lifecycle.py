"""Lifecycle fields: request kinds (extension, birthright, break-glass), grant receipts, retry
bookkeeping for grants and revokes, reminders, escalation and break-glass reviews.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from adapters.storage.types import JSONText, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _columns() -> tuple[sa.Column[Any], ...]:
    """Fresh Column objects each time: a Column belongs to one table."""
    return (
        sa.Column("kind", sa.String(16), nullable=False, server_default="request"),
        sa.Column("extends", sa.String(16)),
        sa.Column("grant_receipt", JSONText),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("end_as", sa.String(16)),
        sa.Column("reminded_at", UTCDateTime),
        sa.Column("escalated_at", UTCDateTime),
        sa.Column("review", sa.String(8)),
        sa.Column("review_note", sa.Text),
    )


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for column in _columns():
            batch.add_column(column)
    op.create_index("ix_requests_kind", "requests", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_requests_kind", "requests")
    with op.batch_alter_table("requests") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
