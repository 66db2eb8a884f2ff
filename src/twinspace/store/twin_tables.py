"""Tables of the NGSI-LD twin broker: entities (with their type side table and the per-tenant
attribute catalogue), temporal evolution, subscriptions, their notification queue and the
hosted/cached @context documents.

They are defined on the shared ``twinspace.store.tables.metadata`` (``tables`` imports this module),
so one metadata describes the whole schema and Alembic migration 0007 creates exactly these tables.

JSON columns are plain ``sa.JSON`` (``json`` on PostgreSQL, text on SQLite): the broker always reads
and writes whole documents and never queries inside them in SQL, so the verbatim ``json`` type is
cheaper than ``jsonb`` on both paths (no binary decomposition on write, no re-serialisation on read)
and keeps the members in the order they were written.

Every index costs each bulk write a B-tree insertion per row, so there are only those the query
paths use: entities by id (primary key), by type (``twin_entity_types``) and by location bounding
box; temporal rows by entity and by first type, each with the start of their observed range.
"""

from __future__ import annotations

import sqlalchemy as sa

from twinspace.store.db import UTCDateTime
from twinspace.store.tables import metadata

TENANT = 256  # lengths of the key columns (SQLite ignores them; PostgreSQL checks them)
IRI = 1024

# SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid), so BigInteger becomes Integer there.
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

twin_tenants = sa.Table(  # tenants that ever held data (the default tenant "" is implicit)
    "twin_tenants",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

twin_entities = sa.Table(  # the current state of each entity: its canonical document
    "twin_entities",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("entity_id", sa.String(IRI), primary_key=True),
    sa.Column("entity_type", sa.String(IRI), nullable=False),  # the first (sorted) expanded type
    sa.Column("types", sa.JSON, nullable=False),
    sa.Column("doc", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("min_x", sa.Float),  # bounding box of the default `location` instance, if any
    sa.Column("min_y", sa.Float),
    sa.Column("max_x", sa.Float),
    sa.Column("max_y", sa.Float),
    sa.Index("ix_twin_entities_bbox", "tenant", "min_x", "max_x"),
)

twin_entity_types = sa.Table(  # one row per (entity, type): multi-typed entities, /types
    "twin_entity_types",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("entity_id", sa.String(IRI), primary_key=True),
    sa.Column("type", sa.String(IRI), primary_key=True),
    sa.Index("ix_twin_entity_types_type", "tenant", "type", "entity_id"),
    sqlite_with_rowid=False,  # small rows: the primary key is the table, one B-tree fewer
)

twin_catalogue = sa.Table(  # per tenant: how many entities of a type have an attribute of a kind
    "twin_catalogue",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("entity_type", sa.String(IRI), primary_key=True),
    sa.Column("attr", sa.String(IRI), primary_key=True),  # "" (with attr_type ""): the type itself
    sa.Column("attr_type", sa.String(32), primary_key=True),  # Property, Relationship ...
    sa.Column("entities", sa.Integer, nullable=False),  # > 0; rows reaching 0 are deleted
    sqlite_with_rowid=False,
)

twin_instances = sa.Table(  # temporal evolution: one row per entity change (its changed instances)
    "twin_instances",
    metadata,
    sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("entity_id", sa.String(IRI), nullable=False),
    sa.Column("entity_type", sa.String(IRI), nullable=False),  # the first type at the change
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column(
        "observed_min", UTCDateTime
    ),  # range of the instances' observedAt; null: none has one
    sa.Column("observed_max", UTCDateTime),
    sa.Column("instances", sa.JSON, nullable=False),  # {attr: [[observedAt | null, instance], ...]}
    sa.Index("ix_twin_instances_entity", "tenant", "entity_id", "observed_min"),
    sa.Index("ix_twin_instances_type", "tenant", "entity_type", "observed_min"),
)

twin_subscriptions = sa.Table(
    "twin_subscriptions",
    metadata,
    sa.Column("id", sa.String(IRI), primary_key=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("doc", sa.JSON, nullable=False),  # expanded canonical form, opaque to the store
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("times_sent", sa.Integer, nullable=False),
    sa.Column("times_failed", sa.Integer, nullable=False),
    sa.Column("last_notification", UTCDateTime),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_failure", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("owner", sa.String(512)),  # e.g. "transfer:<id>" for data-space subscriptions
    sa.Index("ix_twin_subscriptions_tenant", "tenant", "id"),
    sa.Index("ix_twin_subscriptions_owner", "owner"),
)

twin_notifications = sa.Table(  # the notification outbox (same lease semantics as `outbox`)
    "twin_notifications",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("subscription_id", sa.String(IRI), nullable=False),
    sa.Column("endpoint", sa.JSON, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_twin_notifications_due", "status", "next_attempt_at"),
    sa.Index("ix_twin_notifications_subscription", "subscription_id", "status"),
)

twin_contexts = sa.Table(  # @context documents: Hosted (uploaded) or Cached (fetched)
    "twin_contexts",
    metadata,
    sa.Column("id", sa.String(IRI), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("doc", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
)

__all__ = [
    "twin_catalogue",
    "twin_contexts",
    "twin_entities",
    "twin_entity_types",
    "twin_instances",
    "twin_notifications",
    "twin_subscriptions",
    "twin_tenants",
]
