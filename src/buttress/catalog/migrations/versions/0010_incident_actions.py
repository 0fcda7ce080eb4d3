"""incidents: the runs of the automated action rules

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from buttress.catalog.tables import UTCDateTime

revision = "0010"
# MERGE: 0009 (post-mortems) is on another branch; set this to "0009" when both are merged
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_action_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("incident_id", "rule", "status", name="uq_incident_action_runs_once"),
    )
    op.create_index("ix_incident_action_runs_rule_at", "incident_action_runs", ["rule", "at"])


def downgrade() -> None:
    op.drop_index("ix_incident_action_runs_rule_at", table_name="incident_action_runs")
    op.drop_table("incident_action_runs")
