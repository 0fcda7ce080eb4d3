"""backup: the index of archived WAL files

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from buttress.catalog.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wal_segments",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("timeline", sa.BigInteger(), nullable=False),
        sa.Column("segno", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("raw_size", sa.BigInteger(), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("ready_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime(), nullable=False),
        sa.Column("destinations", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
    )
    op.create_index("ix_wal_segments_ready_at", "wal_segments", ["ready_at"])


def downgrade() -> None:
    op.drop_index("ix_wal_segments_ready_at", table_name="wal_segments")
    op.drop_table("wal_segments")
