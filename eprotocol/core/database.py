"""Database engine set-up and the two kinds of transaction the archive uses.

Writes that number or chain anything run in :meth:`Database.write`: on SQLite
that is ``BEGIN IMMEDIATE`` (the write lock is taken before the first read, so
two writers can never read the same counter value); on PostgreSQL the writer
locks rows explicitly (see :mod:`eprotocol.core.audit` and
:mod:`eprotocol.core.numbering`). Connection-level failures become
:class:`~eprotocol.core.errors.DatabaseUnavailable`.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from eprotocol.core.errors import DatabaseUnavailable, InvalidInput

_BEGIN_OPTION = "eprotocol_sqlite_begin"
_URL_FORM = "sqlite:///path/to/file.db or postgresql+psycopg://user:password@host:port/name"


def _database_url(url: str) -> sa.URL:
    """``url`` parsed, if it names a database eprotocol runs on (``InvalidInput`` if not)."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(
            f"the database URL is not a URL like {_URL_FORM}", field="database_url"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise InvalidInput(
            f"eprotocol runs on SQLite or PostgreSQL, not {backend!r} ({_URL_FORM})",
            field="database_url",
        )
    if backend == "sqlite" and parsed.database in {None, "", ":memory:"}:
        # Every pooled connection would open a database of its own.
        raise InvalidInput(
            "an SQLite database must be a file, e.g. sqlite:///var/eprotocol.db",
            field="database_url",
        )
    return parsed


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself: pysqlite's own
        # implicit BEGIN is always DEFERRED, which is not enough for numbering.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class _WriteLock:
    """Writers of one process one at a time, then one process at a time (``flock``)."""

    def __init__(self, path: Path) -> None:
        self._threads = threading.Lock()
        self._path = path
        self._file: IO[bytes] | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._file is None:
                self._file = self._path.open("ab")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except OSError:
            self._threads.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (it is opened again by the next writer)."""
        with self._threads:
            if self._file is not None:
                self._file.close()
                self._file = None


class Database:
    """An engine plus read and write sessions with eprotocol's locking rules."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, **engine_options: Any) -> None:
        url_obj = _database_url(url)
        sqlite = url_obj.get_backend_name() == "sqlite"
        #: The SQLite database's file (``None`` on a server): made by :meth:`create_directory`
        #: and the first connection, which only ``eprotocol init`` should be.
        self.file = Path(str(url_obj.database)) if sqlite else None
        # A pool big enough for the server's worker threads: a connection that does not fit
        # is closed on return and reopened (with its pragmas) on the next checkout.
        options: dict[str, Any] = {
            "pool_pre_ping": not sqlite,
            "pool_size": 16,
            "max_overflow": 16,
            **engine_options,
        }
        if sqlite:
            options.setdefault(
                "connect_args", {"timeout": busy_timeout, "check_same_thread": False}
            )
        try:
            self.engine = sa.create_engine(url_obj, **options)
        except ImportError as exc:
            raise InvalidInput(
                f"the database driver {url_obj.get_driver_name()!r} is not installed "
                f"(eprotocol uses {_URL_FORM})",
                field="database_url",
            ) from exc
        if sqlite:
            _configure_sqlite(self.engine, busy_timeout)
            self._write_engine: Engine = self.engine.execution_options(
                **{_BEGIN_OPTION: "IMMEDIATE"}
            )
        else:
            self._write_engine = self.engine
        # SQLite lets one writer in at a time anyway; queueing this process's writers on a
        # lock is far cheaper than letting them sleep-poll in SQLite's busy handler, which
        # sleeps up to 100 ms between tries. Other processes (server workers, the jobs, the
        # command line) queue on a file lock beside the database for the same reason.
        self._write_lock: _WriteLock | None = None
        if self.file is not None:
            self._write_lock = _WriteLock(self.file.with_name(f"{self.file.name}.write-lock"))

    def create_directory(self) -> None:
        """Make the directory of the SQLite database's file, if it is missing."""
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"the database directory {self.file.parent} cannot be made: {exc.strerror}"
            ) from exc

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for reading; its transaction is rolled back at the end."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(_reason(exc)) from exc

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A connection whose work commits at the end of the block, or not at all."""
        try:
            with self._write_lock or nullcontext(), self._write_engine.begin() as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(_reason(exc)) from exc

    def dispose(self) -> None:
        """Close every pooled connection (and the write-lock file)."""
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()


def _reason(exc: DBAPIError) -> str:
    """The driver's message on one line (psycopg's spans several: a log line, a CLI message)."""
    return "database error: " + " ".join(str(exc.orig).split())
