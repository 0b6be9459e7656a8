"""Alembic environment for the state store: one migration chain for SQLite and PostgreSQL.

Run through :func:`cohort.store.migrate.upgrade`, which hands over a connection already inside
a locked transaction (``config.attributes["connection"]``). Running ``alembic`` by hand with
``sqlalchemy.url`` set also works.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from cohort.store.sql_engine import make_engine
from cohort.store.sql_tables import metadata

config = context.config


def _configure(connection: sa.Connection) -> None:
    """Configure the context; SQLite gets batch mode, as it cannot ALTER most things."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL for ``sqlalchemy.url`` without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to ``sqlalchemy.url``."""
    given = config.attributes.get("connection")
    if isinstance(given, sa.Connection):
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    info = make_engine(url)
    try:
        with info.engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        info.engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
