"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, a store, a clock.

PostgreSQL isolation: every test gets its own schema (``ts_<random>``) in the one test database,
selected with the libpq option ``-csearch_path=ts_<random>`` carried in the URL's query. All
unqualified names, Alembic's ``alembic_version`` included, then live in that schema, so tests may
run beside other processes that use the same database without ever seeing their rows. The schema
is dropped (CASCADE) afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from twinspace.clock import ManualClock
from twinspace.store import Store, create_engine, migrate

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """The PostgreSQL server the tests use (``TWINSPACE_TEST_POSTGRES_URL``)."""
    return os.environ.get("TWINSPACE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def in_ci() -> bool:
    """Whether the CI environment variable is set to something truthy."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its connections' ``search_path`` set to ``schema`` (libpq ``options``)."""
    parsed = sa.make_url(url)
    options = parsed.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    options = f"{options} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL test database; fails in CI, skips elsewhere."""
    url = postgres_url()
    shown = sa.make_url(url).render_as_string(hide_password=True)
    engine = sa.create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = f"PostgreSQL not reachable at {shown} ({' '.join(cause[:2])})"
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the PostgreSQL tests must run, not skip. "
                "Start PostgreSQL or set TWINSPACE_TEST_POSTGRES_URL.",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set TWINSPACE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_admin: Engine) -> Iterator[str]:
    """A URL onto a fresh, empty schema of its own in the PostgreSQL test database."""
    schema = f"ts_{uuid.uuid4().hex[:16]}"
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(postgres_url(), schema)
    finally:
        with postgres_admin.connect() as conn:
            conn.execute(sa.text("SET lock_timeout = '30s'"))
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database with no tables at all (not migrated), on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'twinspace.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A fresh, empty, migrated database on each backend (SQLite file / PostgreSQL schema)."""
    engine = create_engine(empty_database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return empty_database_url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store over ``database_url``; opening it runs the Alembic migrations (a no-op here)."""
    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
