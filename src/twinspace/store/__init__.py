"""Persistence: one store interface over SQLite (default) and PostgreSQL, with Alembic migrations."""

from twinspace.store.db import create_engine, migrate
from twinspace.store.errors import AlreadyExists, Conflict, NotFound, StoreError
from twinspace.store.records import (
    FAILED,
    MEMBER_ACTIVE,
    MEMBER_REVOKED,
    MEMBER_SUSPENDED,
    PENDING,
    SENT,
    Agreement,
    Asset,
    ContractDefinition,
    DataToken,
    HeldCredential,
    Member,
    Negotiation,
    OutboxItem,
    PolicyDefinition,
    Transfer,
)
from twinspace.store.store import Store, Tx

__all__ = [
    "FAILED",
    "MEMBER_ACTIVE",
    "MEMBER_REVOKED",
    "MEMBER_SUSPENDED",
    "PENDING",
    "SENT",
    "Agreement",
    "AlreadyExists",
    "Asset",
    "Conflict",
    "ContractDefinition",
    "DataToken",
    "HeldCredential",
    "Member",
    "Negotiation",
    "NotFound",
    "OutboxItem",
    "PolicyDefinition",
    "Store",
    "StoreError",
    "Transfer",
    "Tx",
    "create_engine",
    "migrate",
]
