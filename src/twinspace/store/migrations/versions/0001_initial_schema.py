"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("negotiation_id", sa.String(length=512), nullable=False),
        sa.Column("asset_id", sa.String(length=512), nullable=False),
        sa.Column("provider_id", sa.String(length=512), nullable=False),
        sa.Column("consumer_id", sa.String(length=512), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("private_properties", sa.JSON(), nullable=False),
        sa.Column("data_address", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
    )
    op.create_table(
        "contract_definitions",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("access_policy_id", sa.String(length=512), nullable=False),
        sa.Column("contract_policy_id", sa.String(length=512), nullable=False),
        sa.Column("assets_selector", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_definitions")),
    )
    op.create_table(
        "data_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("transfer_id", sa.String(length=512), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_data_tokens")),
    )
    with op.batch_alter_table("data_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_tokens_transfer_id"), ["transfer_id"], unique=False
        )

    op.create_table(
        "inbox",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_inbox")),
    )
    op.create_table(
        "negotiations",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("provider_pid", sa.String(length=512), nullable=True),
        sa.Column("consumer_pid", sa.String(length=512), nullable=True),
        sa.Column("counter_party_id", sa.String(length=512), nullable=True),
        sa.Column("counter_party_address", sa.String(length=2048), nullable=False),
        sa.Column("asset_id", sa.String(length=512), nullable=True),
        sa.Column("offer", sa.JSON(), nullable=True),
        sa.Column("agreement_id", sa.String(length=512), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_negotiations")),
    )
    with op.batch_alter_table("negotiations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_negotiations_consumer_pid"), ["consumer_pid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_negotiations_provider_pid"), ["provider_pid"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("process_kind", sa.String(length=16), nullable=False),
        sa.Column("process_id", sa.String(length=512), nullable=False),
        sa.Column("message_type", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_process_id"), ["process_id"], unique=False)

    op.create_table(
        "policy_definitions",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_definitions")),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("provider_pid", sa.String(length=512), nullable=True),
        sa.Column("consumer_pid", sa.String(length=512), nullable=True),
        sa.Column("agreement_id", sa.String(length=512), nullable=False),
        sa.Column("asset_id", sa.String(length=512), nullable=True),
        sa.Column("format", sa.String(length=256), nullable=False),
        sa.Column("counter_party_id", sa.String(length=512), nullable=True),
        sa.Column("counter_party_address", sa.String(length=2048), nullable=False),
        sa.Column("data_destination", sa.JSON(), nullable=True),
        sa.Column("data_address", sa.JSON(), nullable=True),
        sa.Column("bytes_transferred", sa.BigInteger(), nullable=False),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfers_consumer_pid"), ["consumer_pid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_provider_pid"), ["provider_pid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_provider_pid"))
        batch_op.drop_index(batch_op.f("ix_transfers_consumer_pid"))

    op.drop_table("transfers")
    op.drop_table("policy_definitions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_process_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("negotiations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_negotiations_provider_pid"))
        batch_op.drop_index(batch_op.f("ix_negotiations_consumer_pid"))

    op.drop_table("negotiations")
    op.drop_table("inbox")
    with op.batch_alter_table("data_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_tokens_transfer_id"))

    op.drop_table("data_tokens")
    op.drop_table("contract_definitions")
    op.drop_table("assets")
    op.drop_table("agreements")
