"""When the requester was warned that a grant ends with their shift.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("warned_at", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("warned_at")
