"""twin broker: NGSI-LD entities, their types and attribute catalogue, temporal evolution,
subscriptions, the notification queue and @context documents

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from twinspace.store.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "twin_tenants",
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_twin_tenants")),
    )
    op.create_table(
        "twin_entities",
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("entity_id", sa.String(length=1024), nullable=False),
        sa.Column("entity_type", sa.String(length=1024), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("min_x", sa.Float(), nullable=True),
        sa.Column("min_y", sa.Float(), nullable=True),
        sa.Column("max_x", sa.Float(), nullable=True),
        sa.Column("max_y", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "entity_id", name=op.f("pk_twin_entities")),
    )
    op.create_index(
        "ix_twin_entities_bbox", "twin_entities", ["tenant", "min_x", "max_x"], unique=False
    )
    op.create_table(
        "twin_entity_types",
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("entity_id", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "entity_id", "type", name=op.f("pk_twin_entity_types")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_twin_entity_types_type",
        "twin_entity_types",
        ["tenant", "type", "entity_id"],
        unique=False,
    )
    op.create_table(
        "twin_catalogue",
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("entity_type", sa.String(length=1024), nullable=False),
        sa.Column("attr", sa.String(length=1024), nullable=False),
        sa.Column("attr_type", sa.String(length=32), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant", "entity_type", "attr", "attr_type", name=op.f("pk_twin_catalogue")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "twin_instances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("entity_id", sa.String(length=1024), nullable=False),
        sa.Column("entity_type", sa.String(length=1024), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.Column("observed_min", UTCDateTime(), nullable=True),
        sa.Column("observed_max", UTCDateTime(), nullable=True),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_instances")),
    )
    op.create_index(
        "ix_twin_instances_entity",
        "twin_instances",
        ["tenant", "entity_id", "observed_min"],
        unique=False,
    )
    op.create_index(
        "ix_twin_instances_type",
        "twin_instances",
        ["tenant", "entity_type", "observed_min"],
        unique=False,
    )
    _fast_compression("twin_entities", "doc")
    _fast_compression("twin_instances", "instances")
    op.create_table(
        "twin_subscriptions",
        sa.Column("id", sa.String(length=1024), nullable=False),
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.Column("times_sent", sa.Integer(), nullable=False),
        sa.Column("times_failed", sa.Integer(), nullable=False),
        sa.Column("last_notification", UTCDateTime(), nullable=True),
        sa.Column("last_success", UTCDateTime(), nullable=True),
        sa.Column("last_failure", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_subscriptions")),
    )
    op.create_index(
        "ix_twin_subscriptions_tenant", "twin_subscriptions", ["tenant", "id"], unique=False
    )
    op.create_index("ix_twin_subscriptions_owner", "twin_subscriptions", ["owner"], unique=False)
    op.create_table(
        "twin_notifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("subscription_id", sa.String(length=1024), nullable=False),
        sa.Column("endpoint", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_notifications")),
    )
    op.create_index(
        "ix_twin_notifications_due",
        "twin_notifications",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_twin_notifications_subscription",
        "twin_notifications",
        ["subscription_id", "status"],
        unique=False,
    )
    op.create_table(
        "twin_contexts",
        sa.Column("id", sa.String(length=1024), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_contexts")),
        sa.UniqueConstraint("url", name=op.f("uq_twin_contexts_url")),
    )


def _fast_compression(table: str, column: str) -> None:
    """PostgreSQL compresses values of a few kB (entity documents, temporal rows) on every write:
    lz4 costs a fraction of the default pglz's time. Only where the server was built with it."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    methods = bind.exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    if methods and "lz4" in methods:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    op.drop_table("twin_contexts")
    op.drop_index("ix_twin_notifications_subscription", table_name="twin_notifications")
    op.drop_index("ix_twin_notifications_due", table_name="twin_notifications")
    op.drop_table("twin_notifications")
    op.drop_index("ix_twin_subscriptions_owner", table_name="twin_subscriptions")
    op.drop_index("ix_twin_subscriptions_tenant", table_name="twin_subscriptions")
    op.drop_table("twin_subscriptions")
    op.drop_index("ix_twin_instances_type", table_name="twin_instances")
    op.drop_index("ix_twin_instances_entity", table_name="twin_instances")
    op.drop_table("twin_instances")
    op.drop_table("twin_catalogue")
    op.drop_index("ix_twin_entity_types_type", table_name="twin_entity_types")
    op.drop_table("twin_entity_types")
    op.drop_index("ix_twin_entities_bbox", table_name="twin_entities")
    op.drop_table("twin_entities")
    op.drop_table("twin_tenants")
