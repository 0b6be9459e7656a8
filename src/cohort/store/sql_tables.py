"""Table definitions of the SQL state store (SQLAlchemy Core, portable types only).

This metadata is the single source the Alembic migrations are checked against
(``tests/store/test_migrations.py`` fails when they drift), so any change here needs a new
migration under ``migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "api_tokens",
    "audit_log",
    "jobs",
    "metadata",
    "rounds",
    "sites",
    "studies",
    "study_sites",
    "study_users",
    "submit_tokens",
    "tasks",
    "updates",
]

# Named constraints: Alembic batch mode on SQLite can only alter constraints that have names,
# and stable names keep PostgreSQL and SQLite schemas comparable.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# POSIX seconds need more than the 24 bits of mantissa a single precision float gives.
_Time = sa.Double


def _job_fk() -> sa.ForeignKey:
    """A reference to ``jobs.job_id`` that goes away with its job."""
    return sa.ForeignKey("jobs.job_id", ondelete="CASCADE")


jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("study", sa.String(), nullable=False),
    sa.Column("submitter", sa.String(), nullable=False),
    # The submitter's org and role from its certificate (migration 0003): a site's policy may
    # refuse jobs from given roles.
    sa.Column("submitter_org", sa.String(), nullable=False, server_default=""),
    sa.Column("submitter_role", sa.String(), nullable=False, server_default=""),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("meta", sa.JSON(), nullable=False),
    sa.Column("job_sha256", sa.String(), nullable=False),
    sa.Column("submit_time", _Time(), nullable=False),
    sa.Column("start_time", _Time(), nullable=True),
    sa.Column("end_time", _Time(), nullable=True),
    sa.Column("status_reason", sa.Text(), nullable=False),
    sa.Column("current_round", sa.Integer(), nullable=True),
    sa.Column("total_rounds", sa.Integer(), nullable=True),
    sa.Column("site_errors", sa.JSON(), nullable=False),
    sa.Column("sites", sa.JSON(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("org", sa.String(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("first_seen", _Time(), nullable=False),
    sa.Column("last_seen", _Time(), nullable=False),
)

rounds = sa.Table(
    "rounds",
    metadata,
    sa.Column("job_id", sa.String(), _job_fk(), primary_key=True),
    sa.Column("round", sa.Integer(), primary_key=True),
    sa.Column("model_path", sa.String(), nullable=False),
    sa.Column("model_sha256", sa.String(), nullable=False),
    sa.Column("num_updates", sa.Integer(), nullable=False),
    sa.Column("num_samples", sa.Integer(), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("created", _Time(), nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", sa.String(), primary_key=True),
    sa.Column("job_id", sa.String(), _job_fk(), nullable=False),
    sa.Column("site", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("model_path", sa.String(), nullable=False),
    sa.Column("created", _Time(), nullable=False),
    sa.Column("deadline", _Time(), nullable=False),
    sa.Column("meta", sa.JSON(), nullable=False),
    # The site agents poll for their open tasks of a job: this index serves that query.
    sa.Index(None, "job_id", "site", "status"),
)

updates = sa.Table(
    "updates",
    metadata,
    sa.Column(
        "task_id",
        sa.String(),
        sa.ForeignKey("tasks.task_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("job_id", sa.String(), _job_fk(), nullable=False),
    sa.Column("site", sa.String(), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("path", sa.String(), nullable=False),
    sa.Column("sha256", sa.String(), nullable=False),
    sa.Column("num_samples", sa.Integer(), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("received", _Time(), nullable=False),
    # The aggregator reads a round's updates of a job.
    sa.Index(None, "job_id", "round"),
)

# Retry-safe submit records. Not a child of ``jobs``: a record outlives its deleted job (state
# "job_deleted"), so that a retried submit cannot silently recreate what was deleted. The
# primary key is the token's scope; inserting it is what makes concurrent submits create one job.
submit_tokens = sa.Table(
    "submit_tokens",
    metadata,
    sa.Column("study", sa.String(), primary_key=True),
    sa.Column("submitter", sa.String(), primary_key=True),
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("content_sha256", sa.String(), nullable=False),
    sa.Column("job_id", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("created", _Time(), nullable=False),
    sa.Column("deleted_time", _Time(), nullable=True),
    # delete_job marks the records of one job.
    sa.Index(None, "job_id"),
)

# Studies (migration 0003): a named group of enrolled sites and admin users. Jobs of a study
# are dispatched only to its sites.
studies = sa.Table(
    "studies",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("created_by", sa.String(), nullable=False),
    sa.Column("created", _Time(), nullable=False),
)


def _study_fk() -> sa.ForeignKey:
    """A reference to ``studies.name`` that goes away with its study."""
    return sa.ForeignKey("studies.name", ondelete="CASCADE")


study_sites = sa.Table(
    "study_sites",
    metadata,
    sa.Column("study", sa.String(), _study_fk(), primary_key=True),
    sa.Column("site", sa.String(), primary_key=True),
    sa.Column("org", sa.String(), nullable=False),
)

study_users = sa.Table(
    "study_users",
    metadata,
    sa.Column("study", sa.String(), _study_fk(), primary_key=True),
    sa.Column("user", sa.String(), primary_key=True),
)

# Who did what, when, with what outcome (migration 0003). Append-only.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("time", _Time(), nullable=False),
    sa.Column("user", sa.String(), nullable=False),
    sa.Column("org", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("outcome", sa.String(), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Index(None, "time"),
)

# Bearer API keys of the REST API. Only the SHA-256 of a key's secret is kept; the key itself is
# shown once, when it is created. A revoked key keeps its row (``revoked`` set) so listings can
# say who was cut off and when.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(), nullable=False),
    sa.Column("created", _Time(), nullable=False),
    sa.Column("expires", _Time(), nullable=True),
    sa.Column("revoked", _Time(), nullable=True),
)
