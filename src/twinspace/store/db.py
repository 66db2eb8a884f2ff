"""Engine creation and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

from twinspace.store.checkpoint import JOURNAL_SIZE_LIMIT, WRITER_AUTOCHECKPOINT


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers beyond 64 bits): the standard encoder
        return json.dumps(value, separators=(",", ":"))


#: JSON columns are encoded and decoded with orjson (several times faster than the standard
#: library on the twin's write path).
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite ``url`` (None: another backend, or an in-memory database)."""
    if not url.startswith("sqlite") or "///" not in url:
        return None
    path = url.split("///", 1)[1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def create_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and its folder created.
    ``background_checkpoints``: a ``WalCheckpointer`` will checkpoint the WAL, so writers only
    do so themselves as a backstop (see ``twinspace.store.checkpoint``)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # 8 KiB pages for a new file (an existing one keeps its size): twin entities and
            # their temporal rows run to 2-2.5 KB of JSON, one row per half-empty 4 KiB page,
            # which wrote twice the bytes per batch
            cur.execute("PRAGMA page_size=8192")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if background_checkpoints:
                cur.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
                cur.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **JSON_CODEC)


def alembic_config(conn: sa.Connection) -> Any:
    """An Alembic ``Config`` for the migrations shipped in the package, bound to ``conn``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (default: the newest migration)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
