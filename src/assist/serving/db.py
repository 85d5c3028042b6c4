"""Engine, sessions and migrations of the case store.

Sizing: the API runs sync routes on anyio's thread pool (:data:`API_THREADS`, 40 by default),
so each engine's pool holds that many connections and a request never waits for one.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` stated explicitly (every
commit is on disk before it returns, so an audit row committed before a response survives a
power cut; it costs one fsync, ~4 ms here, per commit: :class:`assist.serving.audit.AuditWriter`
lets concurrent reads share one) and a 30 s busy timeout.

Every engine hides statement parameters (``hide_parameters=True``): a failed statement's
exception and SQLAlchemy's own logging never show the values (pseudonyms, notes, scores).
JSON columns are parsed by pydantic-core (:func:`json_loads`): a referral list reads hundreds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from assist.serving.errors import ApiError

MIGRATIONS = Path(__file__).parent / "migrations"
#: worker threads of the API (anyio's default limiter); pools are sized to match
API_THREADS = 40
#: seconds a SQLite writer waits for the file lock
SQLITE_BUSY_SECONDS = 30.0


def json_loads(text: str | bytes) -> Any:  # noqa: ANN401 - any JSON value
    """A JSON column's value: parsed by pydantic-core (several times faster than :mod:`json`
    on the lists and dicts the store holds); the standard parser takes what it refuses (a lone
    surrogate escape), so every stored value still reads back."""
    try:
        return pydantic_core.from_json(text)
    except ValueError:
        return json.loads(text)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with a pool matched to the API's threads and statement parameters
    hidden from errors and logs; SQLite gets foreign keys, WAL, full sync and a busy timeout
    (see the module doc)."""
    if url.startswith("sqlite"):
        database = make_url(url).database or ""
        pool = {} if database in ("", ":memory:") else {"pool_size": API_THREADS,
                                                         "max_overflow": 10}
        engine = create_engine(url, **pool, hide_parameters=True, json_deserializer=json_loads,
                               connect_args={"check_same_thread": False,
                                             "timeout": SQLITE_BUSY_SECONDS})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:  # noqa: ANN001
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    # one connection per API thread, a few spare for the CLI-in-process and health checks
    return create_engine(url, pool_size=API_THREADS, max_overflow=10, pool_pre_ping=True,
                         hide_parameters=True, json_deserializer=json_loads)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session per request: committed by the service, closed (rolled back) here."""
    with factory() as session:
        yield session


def alembic_config(url: str):  # noqa: ANN201 - alembic Config
    """Alembic config pointing at the packaged migrations and ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the store at ``url`` to ``revision`` (creates a SQLite file's folder)."""
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the store at ``url`` down to ``revision``."""
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def flush_versioned(session: Session, *, what: str) -> None:
    """Flush an update guarded by its version column (``UPDATE ... WHERE version = read``); when
    another edit won, roll back and answer 409 naming ``body.version`` (nothing is half saved)."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ApiError(409, "version_conflict", f"the {what} changed concurrently: reload and "
                       "retry", field="body.version") from None
