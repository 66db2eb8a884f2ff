"""Alembic environment: migrations run on a connection handed in by ``twinspace.store.migrate``."""

from __future__ import annotations

from alembic import context

from twinspace.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("run migrations through twinspace.store.migrate(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
