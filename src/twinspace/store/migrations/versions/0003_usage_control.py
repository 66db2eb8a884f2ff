"""usage control: caller claims on processes, use counters, duties, usage log, acceptance rules

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("negotiations") as batch:
        batch.add_column(sa.Column("caller_claims", sa.JSON(), nullable=True))
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("caller_claims", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.String(length=512), nullable=True))
    op.create_table(
        "usage_counters",
        sa.Column("agreement_id", sa.String(length=512), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_use_at", UTCDateTime(), nullable=False),
        sa.Column("last_use_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_usage_counters")),
    )
    op.create_table(
        "duties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agreement_id", sa.String(length=512), nullable=False),
        sa.Column("transfer_id", sa.String(length=512), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duties")),
    )
    op.create_index(op.f("ix_duties_agreement_id"), "duties", ["agreement_id"], unique=False)
    op.create_index("ix_duties_due", "duties", ["state", "due_at"], unique=False)
    op.create_table(
        "usage_log",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("agreement_id", sa.String(length=512), nullable=False),
        sa.Column("transfer_id", sa.String(length=512), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_log")),
    )
    op.create_index(op.f("ix_usage_log_agreement_id"), "usage_log", ["agreement_id"], unique=False)
    op.create_table(
        "acceptance_rules",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_rules")),
    )


def downgrade() -> None:
    op.drop_table("acceptance_rules")
    op.drop_index(op.f("ix_usage_log_agreement_id"), table_name="usage_log")
    op.drop_table("usage_log")
    op.drop_index("ix_duties_due", table_name="duties")
    op.drop_index(op.f("ix_duties_agreement_id"), table_name="duties")
    op.drop_table("duties")
    op.drop_table("usage_counters")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("purpose")
        batch.drop_column("caller_claims")
    with op.batch_alter_table("negotiations") as batch:
        batch.drop_column("caller_claims")
