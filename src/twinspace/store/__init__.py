"""Persistence: one store interface over SQLite (default) and PostgreSQL, with Alembic migrations."""

from twinspace.store.db import create_engine, migrate
from twinspace.store.errors import AlreadyExists, Conflict, NotFound, StoreError
from twinspace.store.records import (
    FAILED,
    PENDING,
    SENT,
    Agreement,
    Asset,
    ContractDefinition,
    DataToken,
    Negotiation,
    OutboxItem,
    PolicyDefinition,
    Transfer,
)
from twinspace.store.store import Store, Tx

__all__ = [
    "FAILED",
    "PENDING",
    "SENT",
    "Agreement",
    "AlreadyExists",
    "Asset",
    "Conflict",
    "ContractDefinition",
    "DataToken",
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
