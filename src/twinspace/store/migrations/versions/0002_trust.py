"""trust: outbox audience, holder wallet, jti replay store, authority member register

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("audience", sa.String(length=512), nullable=True))
    op.create_table(
        "held_credentials",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("jwt", sa.Text(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_credentials")),
    )
    op.create_index(op.f("ix_held_credentials_type"), "held_credentials", ["type"], unique=False)
    op.create_table(
        "seen_tokens",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_seen_tokens")),
    )
    op.create_index(op.f("ix_seen_tokens_expires_at"), "seen_tokens", ["expires_at"], unique=False)
    op.create_table(
        "members",
        sa.Column("did", sa.String(length=512), nullable=False),
        sa.Column("legal_name", sa.String(length=512), nullable=False),
        sa.Column("registration_number", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("onboarded_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("did", name=op.f("pk_members")),
        sa.UniqueConstraint("status_index", name=op.f("uq_members_status_index")),
    )


def downgrade() -> None:
    op.drop_table("members")
    op.drop_index(op.f("ix_seen_tokens_expires_at"), table_name="seen_tokens")
    op.drop_table("seen_tokens")
    op.drop_index(op.f("ix_held_credentials_type"), table_name="held_credentials")
    op.drop_table("held_credentials")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("audience")
