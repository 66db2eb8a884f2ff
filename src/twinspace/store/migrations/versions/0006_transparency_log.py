"""transparency log: the log service's leaves and checkpoints, participants' submissions

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("submitter", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_leaves")),
    )
    op.create_index(op.f("ix_log_leaves_subject"), "log_leaves", ["subject"], unique=False)
    op.create_index(op.f("ix_log_leaves_leaf_hash"), "log_leaves", ["leaf_hash"], unique=False)
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_checkpoints")),
    )
    op.create_table(
        "log_submissions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("logged_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_submissions")),
    )
    op.create_index(
        op.f("ix_log_submissions_subject"), "log_submissions", ["subject"], unique=False
    )
    op.create_index(
        "ix_log_submissions_due", "log_submissions", ["state", "next_attempt_at"], unique=False
    )
    op.create_table(
        "seen_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.JSON(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_seen_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("seen_checkpoints")
    op.drop_index("ix_log_submissions_due", table_name="log_submissions")
    op.drop_index(op.f("ix_log_submissions_subject"), table_name="log_submissions")
    op.drop_table("log_submissions")
    op.drop_table("log_checkpoints")
    op.drop_index(op.f("ix_log_leaves_leaf_hash"), table_name="log_leaves")
    op.drop_index(op.f("ix_log_leaves_subject"), table_name="log_leaves")
    op.drop_table("log_leaves")
