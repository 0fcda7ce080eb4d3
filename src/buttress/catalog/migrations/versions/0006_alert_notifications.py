"""alerting: the notifications Alertmanager sent to buttress's webhook (alert history)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from buttress.catalog.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("alertname", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("group_key", sa.String(2000), nullable=False),
    )
    for column in ("received_at", "status", "alertname", "fingerprint"):
        op.create_index(f"ix_alert_notifications_{column}", "alert_notifications", [column])


def downgrade() -> None:
    op.drop_table("alert_notifications")
