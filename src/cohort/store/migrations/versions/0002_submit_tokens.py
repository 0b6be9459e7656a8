"""Submit tokens: retry-safe job submission records, scoped by study, submitter and token.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``submit_tokens`` with its scope as primary key and an index on ``job_id``."""
    op.create_table(
        "submit_tokens",
        sa.Column("study", sa.String(), nullable=False),
        sa.Column("submitter", sa.String(), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("content_sha256", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("deleted_time", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("study", "submitter", "token", name="pk_submit_tokens"),
    )
    with op.batch_alter_table("submit_tokens") as batch:
        batch.create_index("ix_submit_tokens_job_id", ["job_id"])


def downgrade() -> None:
    """Drop ``submit_tokens``."""
    with op.batch_alter_table("submit_tokens") as batch:
        batch.drop_index("ix_submit_tokens_job_id")
    op.drop_table("submit_tokens")
