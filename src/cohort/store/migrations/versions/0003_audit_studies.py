"""Studies registry, audit log, and the submitter's org and role on each job.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``studies``, ``study_sites``, ``study_users`` and ``audit_log``; add
    ``jobs.submitter_org`` and ``jobs.submitter_role`` (empty for jobs submitted before)."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("submitter_org", sa.String(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("submitter_role", sa.String(), nullable=False, server_default="")
        )
    op.create_table(
        "studies",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_studies"),
    )
    op.create_table(
        "study_sites",
        sa.Column("study", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study"],
            ["studies.name"],
            name="fk_study_sites_study_studies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study", "site", name="pk_study_sites"),
    )
    op.create_table(
        "study_users",
        sa.Column("study", sa.String(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study"],
            ["studies.name"],
            name="fk_study_users_study_studies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study", "user", name="pk_study_users"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("org", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index("ix_audit_log_time", ["time"])


def downgrade() -> None:
    """Drop the tables and columns :func:`upgrade` added."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_time")
    for table in ("audit_log", "study_users", "study_sites", "studies"):
        op.drop_table(table)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("submitter_role")
        batch.drop_column("submitter_org")
