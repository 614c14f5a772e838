"""A revision on each provider connection (replicas rebuild a provider when it moves on), and a
record of scheduled runs that finished (a sync slot runs once across the fleet, even when the
replica that started it was killed).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_connections") as batch:
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    with op.batch_alter_table("provider_connections") as batch:
        batch.drop_column("revision")
