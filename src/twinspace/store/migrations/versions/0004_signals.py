"""signals: events and states declared by the operator (policy facts event and state)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_signals")),
    )


def downgrade() -> None:
    op.drop_table("signals")
