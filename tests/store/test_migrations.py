"""Alembic migrations: they create exactly the schema of ``tables.metadata`` and may run again."""

from __future__ import annotations

import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import Store, create_engine, migrate
from twinspace.store.tables import metadata

from .factories import asset

HEAD = "0008"


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _versions(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def test_the_fresh_database_is_empty(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()


def test_migrations_create_every_table_column_and_index(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        migrate(engine)
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == set(metadata.tables) | {"alembic_version"}
        for name, table in metadata.tables.items():
            columns = {c["name"]: c for c in inspector.get_columns(name)}
            assert set(columns) == {c.name for c in table.columns}, name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
            primary = inspector.get_pk_constraint(name)["constrained_columns"]
            assert primary == [c.name for c in table.primary_key.columns], name
            indexes = {  # PostgreSQL also lists the index behind each unique constraint
                i["name"]: i["column_names"]
                for i in inspector.get_indexes(name)
                if not i.get("duplicates_constraint")
            }
            expected = {i.name: [c.name for c in i.columns] for i in table.indexes}
            assert indexes == expected, name
    finally:
        engine.dispose()


def test_migrations_are_idempotent_and_keep_data(
    empty_database_url: str, clock: ManualClock
) -> None:
    first = Store.open(empty_database_url)
    try:
        with first.transaction() as tx:
            tx.assets.insert(asset("a-1", clock.now()))
        assert _versions(first) == [HEAD]
    finally:
        first.close()

    again = Store.open(empty_database_url)  # upgrades a database that is already at head
    try:
        migrate(again.engine)
        assert _versions(again) == [HEAD]
        assert _tables(empty_database_url) == set(metadata.tables) | {"alembic_version"}
        with again.transaction() as tx:
            assert tx.assets.get("a-1") == asset("a-1", clock.now())
    finally:
        again.close()


def test_open_without_upgrade_creates_nothing(empty_database_url: str) -> None:
    Store.open(empty_database_url, upgrade=False).close()
    assert _tables(empty_database_url) == set()


def test_the_store_fixture_is_migrated_and_empty(store: Store) -> None:
    assert _versions(store) == [HEAD]
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            assert count == 0, table.name


def test_upgrading_from_0001_keeps_queued_messages(empty_database_url: str) -> None:
    from alembic import command

    from twinspace.store.db import alembic_config

    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            config = alembic_config(conn)
            command.upgrade(config, "0001")
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (id, process_kind, process_id, message_type, url, payload,"
                    " status, attempts, next_attempt_at, created_at) VALUES ('m-1', 'negotiation',"
                    " 'p-1', 'X', 'http://x', '{}', 'PENDING', 0, '2026-01-01 00:00:00',"
                    " '2026-01-01 00:00:00')"
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, audience FROM outbox")).all()
        assert [tuple(r) for r in rows] == [("m-1", None)]
    finally:
        engine.dispose()


def test_the_twin_json_columns_use_lz4_on_postgresql(empty_database_url: str) -> None:
    """Migration 0008: where the server offers lz4, the twin's large JSON columns use it."""
    engine = create_engine(empty_database_url)
    try:
        migrate(engine)
        if engine.dialect.name != "postgresql":
            return  # SQLite: nothing to change, and the migration ran through
        with engine.connect() as conn:
            offered = conn.execute(
                sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
            ).scalar()
            rows = conn.execute(
                sa.text(
                    "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a"
                    " JOIN pg_class c ON c.oid = a.attrelid"
                    " WHERE c.relname IN ('twin_entities', 'twin_instances', 'twin_notifications')"
                    " AND a.attname IN ('doc', 'instances', 'payload')"
                    " AND c.relnamespace = to_regnamespace(current_schema())"
                )
            ).all()
        expected = "l" if offered and "lz4" in offered else ""
        assert sorted((r[0], r[1], r[2]) for r in rows) == [
            ("twin_entities", "doc", expected),
            ("twin_instances", "instances", expected),
            ("twin_notifications", "payload", expected),
        ]
    finally:
        engine.dispose()
