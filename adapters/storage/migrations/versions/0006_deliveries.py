"""Slack deliveries already handled, kept for as long as their signature is accepted, so a signed
request replayed (or retried by Slack) runs once across the fleet.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("seen_at", UTCDateTime, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
