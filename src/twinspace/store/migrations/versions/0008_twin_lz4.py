"""twin broker on PostgreSQL: its large JSON columns compressed with lz4 instead of pglz

Entity documents and temporal rows run to 2-3 KB, past PostgreSQL's TOAST threshold, so every
write compresses them; lz4 does so about a third faster than the default pglz, at the same size
for these documents. Only where the server supports it (PostgreSQL 14 and later, built with
lz4); elsewhere, and on SQLite, nothing changes. Existing values keep their compression until
they are rewritten.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (
    ("twin_entities", "doc"),
    ("twin_instances", "instances"),
    ("twin_notifications", "payload"),
)


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.dialect.server_version_info is None or bind.dialect.server_version_info < (14,):
        return
    for table, column in COLUMNS:
        try:
            with bind.begin_nested():  # a server built without lz4 refuses: keep pglz
                bind.execute(
                    sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")
                )
        except sa.exc.DBAPIError:
            return


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
