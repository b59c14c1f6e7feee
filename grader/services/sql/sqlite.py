"""The embedded backend: instances held in SQLite in memory, learner SQL behind an authorizer and limits.

An instance is built once into a SQLite file in the cache (verified by digest) and loaded into memory
once per process; a query runs on that copy read-only, a session on a private writable copy. Learner
SQL runs under an authorizer (no ATTACH, PRAGMA or extensions; writes only where allowed), SQLite's
own limits, a heap limit, and a deadline in CPU time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import marshal
import os
import re
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from grader.errors import ServiceError
from grader.services.cache import cache_dir, private_scratch, read_verified, write_verified
from grader.services.sql.functions import SQLITE_FUNCTIONS
from grader.services.sql.results import (
    CHECKING, TABLES_ADVICE, NotAllowed, OverLimit, QueryFailed, QueryResult, SqlError, SqlInstance,
    UnsupportedFunction, _describe, _fetch, _timed_out,
)

if TYPE_CHECKING:
    from grader.services.sql.policy import Statement

# The parser (sqlglot, about 0.1 s to import) loads with the first learner SQL or the first trusted query
# no earlier grade translated: a grade that runs only trusted queries it has met before (learner_db's)
# never loads it.

# SQLite's own limits on the connections that run learner SQL (Connection.setlimit, Python 3.11+)
SQLITE_LIMITS = {
    "SQLITE_LIMIT_LENGTH": 1_000_000,  # one string, blob or row, in bytes
    "SQLITE_LIMIT_SQL_LENGTH": 1_000_000,  # one statement as SQLite receives it
    "SQLITE_LIMIT_COLUMN": 200,
    "SQLITE_LIMIT_EXPR_DEPTH": 100,
    "SQLITE_LIMIT_COMPOUND_SELECT": 50,
    "SQLITE_LIMIT_VDBE_OP": 250_000,
    "SQLITE_LIMIT_LIKE_PATTERN_LENGTH": 200,  # LIKE's matching time grows with the pattern
    "SQLITE_LIMIT_ATTACHED": 0,
    "SQLITE_LIMIT_TRIGGER_DEPTH": 10,
}
# Every SQLite connection of the process together (sqlite3_hard_heap_limit64; SQLite 3.31+). The
# instances held in memory take about 12 MB; the rest is room for queries, sorts and temporary tables.
SQLITE_HEAP_LIMIT = 256 * 2**20
MYSQL_HINT = (
    "To run it on MySQL, grade with --mysql-url mysql://user:password@host:3306 "
    "(or set GRADER_MYSQL_URL)."
)


_DENIED_ACTIONS = {
    sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_PRAGMA,
}
_WRITE_ACTIONS = {
    sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_CREATE_TABLE,
    sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_TRIGGER,
    sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_DROP_TRIGGER,
    sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_INDEX,
    sqlite3.SQLITE_CREATE_TEMP_VIEW, sqlite3.SQLITE_CREATE_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_TABLE,
    sqlite3.SQLITE_REINDEX, sqlite3.SQLITE_ANALYZE,
    sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE,
}


_PROTECTED_TARGET = {  # action -> which authorizer argument names the table
    sqlite3.SQLITE_INSERT: 0, sqlite3.SQLITE_UPDATE: 0, sqlite3.SQLITE_DELETE: 0, sqlite3.SQLITE_DROP_TABLE: 0,
    sqlite3.SQLITE_ALTER_TABLE: 1, sqlite3.SQLITE_CREATE_INDEX: 1, sqlite3.SQLITE_CREATE_TRIGGER: 1,
}


def _authorizer(writes: bool, protected: frozenset[str]) -> Callable[..., int]:
    """SQLite's authorizer for learner SQL: no ATTACH, PRAGMA or extensions; writes only where allowed."""

    def decide(action: int, arg1: str | None, arg2: str | None, dbname: str | None, source: str | None) -> int:
        if action in _DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
            return sqlite3.SQLITE_DENY
        if action in _WRITE_ACTIONS:
            if not writes:
                return sqlite3.SQLITE_DENY
            position = _PROTECTED_TARGET.get(action)
            if position is not None and ((arg1, arg2)[position] or "").lower() in protected:
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return decide


def _clear_authorizer(conn: sqlite3.Connection) -> None:
    """Remove the authorizer; before Python 3.11 `set_authorizer(None)` denies everything instead."""
    if sys.version_info >= (3, 11):
        conn.set_authorizer(None)
    else:
        conn.set_authorizer(lambda *args: sqlite3.SQLITE_OK)


def load_sqlite(conn: sqlite3.Connection, instance: SqlInstance) -> None:
    """Create the instance's tables in `conn` and insert its rows."""
    for statement in instance.ddl("sqlite"):
        conn.execute(statement)
    for table, columns, rows in instance.tables():
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    conn.commit()


def sqlite_bytes(instance: SqlInstance) -> bytes:
    """The instance as the bytes of a SQLite database file, built once and cached (verified by digest) by its key."""
    path = cache_dir() / f"{instance.key}.sqlite"
    data = read_verified(path)
    if data is None:
        scratch = private_scratch(".sqlite")
        try:
            conn = sqlite3.connect(scratch)
            try:
                conn.execute("PRAGMA journal_mode=OFF")
                load_sqlite(conn, instance)
            finally:
                conn.close()
            data = scratch.read_bytes()
        finally:
            scratch.unlink(missing_ok=True)
        write_verified(path, data)
    return data


def sqlite_file(instance: SqlInstance) -> Path:
    """The cached SQLite file of the instance (verified, built when missing or damaged)."""
    sqlite_bytes(instance)
    return cache_dir() / f"{instance.key}.sqlite"


def _load_bytes(conn: sqlite3.Connection, data: bytes) -> None:
    """Make the database of `conn` (in memory) the one in `data`, without reading the cache a second time."""
    if hasattr(conn, "deserialize"):  # Python 3.11+
        conn.deserialize(data)
        return
    scratch = private_scratch(".sqlite")
    try:
        scratch.write_bytes(data)
        source = sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)
        try:
            source.backup(conn)
        finally:
            source.close()
    finally:
        scratch.unlink(missing_ok=True)


def _configure(conn: sqlite3.Connection) -> None:
    for name, (arity, func) in SQLITE_FUNCTIONS.items():
        conn.create_function(name, arity, func, deterministic=name != "NOW")


def protect_sqlite(conn: sqlite3.Connection) -> None:
    """Bound what SQL on `conn` can take: SQLite's limits, temporary b-trees in memory, the process's heap limit.

    `Connection.setlimit` exists from Python 3.11; on 3.10 the other bounds still hold. The heap limit
    is SQLite's, for every connection of the process, and a PRAGMA can only lower it.
    """
    setlimit = getattr(conn, "setlimit", None)
    if setlimit is not None:
        for name, value in SQLITE_LIMITS.items():
            category = getattr(sqlite3, name, None)
            if category is not None:
                setlimit(category, value)
    conn.execute("PRAGMA temp_store = MEMORY")  # sorts and temporary tables count against the heap limit
    conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_LIMIT}")


def _out_of_memory(filename: str) -> OverLimit:
    return OverLimit(f"{filename}: the query needed more than {SQLITE_HEAP_LIMIT // 2**20} MB of memory and was "
                     "stopped. Check the joins: a missing join condition multiplies the rows.")


def _sqlite_error(exc: sqlite3.Error, filename: str, timeout: float, what: str = "the query") -> SqlError:
    message = str(exc)
    if message == "interrupted":
        return _timed_out(f"{filename}: {what}", timeout)
    if message == "string or blob too big":
        return OverLimit(f"{filename}: a value grew beyond {SQLITE_LIMITS['SQLITE_LIMIT_LENGTH']:,} bytes, the "
                         "grader's limit for one string or row. No answer here needs values that long.")
    missing = re.match(r"no such function: (\w+)", message)
    if missing:
        name = missing.group(1).upper()
        return UnsupportedFunction(
            f"{filename}: the function {name} cannot run on the embedded SQLite backend. {MYSQL_HINT}"
        )
    if "not authorized" in message:
        return NotAllowed(f"{filename}: that statement is not allowed here.")
    return QueryFailed(f"{filename}: the database refused the query: {message}")


@functools.lru_cache(maxsize=256)
def _select_for_sqlite(text: str, filename: str) -> str:
    """A learner's SELECT as SQLite runs it, remembered like parse_select."""
    from grader.services.sql.policy import parse_select

    return _translate(parse_select(text, filename), filename)


TRUSTED_KEPT = 4096  # trusted queries whose translation the cache folder keeps; more are translated each time
_trusted: dict[str, str] | None = None  # this process's: a query's text -> its SQLite text
_trusted_lock = threading.Lock()


def _trusted_for_sqlite(text: str) -> str:
    """A trusted query (the grader's own SQL, MySQL dialect) as SQLite runs it, remembered: the hidden tests
    of an exercise send the same few queries hundreds of times, and every grade of it the same ones. So
    the translations are kept in the cache folder too (`_trusted_file`), under a digest of the code that
    translates them, and a later process reads them instead of loading the parser. Never for learner
    SQL, which goes through parse_learner_sql's checks on every call and is never kept."""
    global _trusted
    known = _trusted
    if known is None:
        known = _trusted = _read_trusted()
    sql = known.get(text)
    if sql is None:
        import sqlglot

        from grader.services.sql.dialect import to_sqlite
        from grader.services.sql.policy import Statement

        sql = to_sqlite(Statement(text, sqlglot.parse_one(text, read="mysql")))
        with _trusted_lock:
            if len(known) < TRUSTED_KEPT:
                known[text] = sql
                _write_trusted(dict(known))
    return sql


def _trusted_file() -> Path | None:
    """Where the translations of trusted queries are kept: named for the files of the translating code
    (dialect.py, policy.py, sqlglot's __init__.py: their paths, sizes and times) and for the Python that
    wrote them, so another translator never reads them. None without a cache folder."""
    try:
        spec = importlib.util.find_spec("sqlglot")
        sources = [Path(__file__).with_name("dialect.py"), Path(__file__).with_name("policy.py"),
                   Path(spec.origin if spec and spec.origin else "")]
        key = "|".join(f"{os.path.abspath(f)}|{os.stat(f).st_size}|{os.stat(f).st_mtime_ns}" for f in sources)
        key += f"|{sys.version_info[:2]}|marshal {marshal.version}"
        return cache_dir() / f"trusted-sqlite-{hashlib.sha256(key.encode()).hexdigest()[:20]}.marshal"
    except (OSError, ServiceError, ValueError):
        return None


def _read_trusted() -> dict[str, str]:
    """The kept translations (verified by their digest, as every file of the cache folder), or none."""
    path = _trusted_file()
    data = read_verified(path) if path else None
    try:
        kept = marshal.loads(data) if data else {}
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(kept, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in kept.items()):
        return {}
    return kept


def _write_trusted(known: dict[str, str]) -> None:
    path = _trusted_file()
    if path is not None:
        with contextlib.suppress(OSError, ServiceError):
            write_verified(path, marshal.dumps(known))


def _translate(statement: Statement, filename: str) -> str:
    """The statement as SQLite runs it; raises SqlError when it cannot be translated."""
    import sqlglot

    from grader.services.sql.dialect import to_sqlite

    try:
        return to_sqlite(statement)
    except sqlglot.errors.SqlglotError as exc:
        raise QueryFailed(f"{filename}: the query cannot be translated for SQLite: {exc}. {MYSQL_HINT}") from None
    except RecursionError:
        raise OverLimit(f"{filename}: {_describe(statement.text)} is nested too deeply for the grader to read; "
                        "use a WITH clause to name the inner parts.") from None


@contextlib.contextmanager
def _deadline(conn: sqlite3.Connection, timeout: float) -> Iterator[None]:
    """Interrupt SQLite after `timeout` seconds of CPU time of this thread.

    CPU time, not wall-clock time: SQLite in memory never waits, so a query is stopped at the same
    point on an idle machine and on a busy one (the same submission gets the same feedback).
    """
    limit = time.thread_time() + timeout
    conn.set_progress_handler(lambda: int(time.thread_time() > limit), 20_000)
    try:
        yield
    finally:
        conn.set_progress_handler(None, 0)


class SqliteSession:
    """A private, writable copy of one instance on SQLite (foreign keys enforced)."""

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, timeout: float, protected: Sequence[str]) -> None:
        self.conn = conn
        self.timeout = timeout
        self.protected = tuple(protected)

    def run_script(self, text: str, *, filename: str) -> None:
        """Run learner SQL (several statements) with the exercise's safety rules, all of it within the timeout."""
        from grader.services.sql.policy import parse_learner_sql

        statements = parse_learner_sql(text, filename=filename, writes=True, protected=self.protected)
        self.conn.set_authorizer(_authorizer(True, frozenset(p.lower() for p in self.protected)))
        deadline = time.thread_time() + self.timeout
        try:
            for number, statement in enumerate(statements, 1):
                try:
                    left = deadline - time.thread_time()
                    if left <= 0:
                        raise _timed_out(f"{filename}: the script", self.timeout)
                    sql = _translate(statement, filename)
                    with _deadline(self.conn, left):
                        self.conn.execute(sql)
                except sqlite3.Error as exc:
                    error = _sqlite_error(exc, filename, self.timeout, "the script")
                    raise type(error)(f"{error} (statement {number}: {_describe(statement.text)} ...)") from None
                except MemoryError:
                    error = _out_of_memory(filename)
                    raise type(error)(f"{error} (statement {number}: {_describe(statement.text)} ...)") from None
                except SqlError as error:
                    raise type(error)(f"{error} (statement {number}: {_describe(statement.text)} ...)") from None
            self.conn.commit()
        finally:
            _clear_authorizer(self.conn)

    @contextlib.contextmanager
    def _checking(self) -> Iterator[None]:
        """A trusted statement on tables the learner made: bounded in time and memory like the learner's own."""
        try:
            with _deadline(self.conn, self.timeout):
                yield
        except sqlite3.Error as exc:
            if str(exc) != "interrupted":
                raise
            raise _timed_out(f"{CHECKING}: the grader's query", self.timeout, TABLES_ADVICE) from None
        except MemoryError:
            raise OverLimit(f"{CHECKING}: the grader's query needed more than {SQLITE_HEAP_LIMIT // 2**20} MB of "
                            f"memory and was stopped. {TABLES_ADVICE}") from None

    def query(self, text: str) -> QueryResult:
        """A trusted query (MySQL dialect) on this session's database."""
        sql = _trusted_for_sqlite(text)
        with self._checking():
            cursor = self.conn.execute(sql)
            return QueryResult(tuple(d[0] for d in cursor.description or ()),
                               _fetch(cursor, CHECKING, "the grader's query", trusted=True))

    def tables(self) -> list[str]:
        """Names of the tables in the session's database."""
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return sorted(r[0] for r in rows)

    def columns(self, table: str) -> list[str]:
        """Column names of `table`, in order."""
        return [r[1] for r in self.conn.execute(f'PRAGMA table_info("{table}")')]

    def primary_key(self, table: str) -> list[str]:
        """The primary key columns of `table` (empty when it has none)."""
        info = sorted((r[5], r[1]) for r in self.conn.execute(f'PRAGMA table_info("{table}")') if r[5])
        return [name for _, name in info]

    def engine(self, table: str) -> str:
        """The storage engine of `table`: '' on SQLite, which has one and enforces foreign keys."""
        return ""

    def foreign_keys(self, table: str) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
        """(columns, referenced table, referenced columns) of each foreign key of `table`."""
        groups: dict[int, list[Any]] = {}
        for row in self.conn.execute(f'PRAGMA foreign_key_list("{table}")'):
            groups.setdefault(row[0], []).append(row)
        result = []
        for rows in groups.values():
            rows.sort(key=lambda r: r[1])
            ref_table = rows[0][2]
            ref_cols = tuple(r[4] if r[4] is not None else "" for r in rows)
            if not all(ref_cols):
                ref_cols = tuple(self.primary_key(ref_table))
            result.append((tuple(r[3] for r in rows), ref_table, ref_cols))
        return result

    def probe_insert(self, text: str) -> str:
        """Try a trusted INSERT and undo it: "accepted", "foreign_key" (refused by a foreign key) or the error."""
        self.conn.commit()
        try:
            with self._checking():
                self.conn.execute("BEGIN")
                self.conn.execute(_trusted_for_sqlite(text))
                # a deferred foreign key is checked at COMMIT; foreign_key_check sees what COMMIT would refuse
                if self.conn.execute("PRAGMA foreign_key_check").fetchall():
                    return "foreign_key"
        except sqlite3.IntegrityError as exc:
            return "foreign_key" if "FOREIGN KEY" in str(exc).upper() else f"refused: {exc}"
        except sqlite3.Error as exc:
            return f"error: {exc}"
        finally:
            self.conn.rollback()
        return "accepted"


class SqliteBackend:
    """Instances held in memory once per process; queries run under an authorizer, a deadline and limits."""

    backend = "sqlite"

    def __init__(self) -> None:
        self._masters: dict[str, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def _master(self, instance: SqlInstance) -> sqlite3.Connection:
        with self._lock:
            conn = self._masters.get(instance.key)
            if conn is None:
                data = sqlite_bytes(instance)
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                protect_sqlite(conn)
                try:
                    _load_bytes(conn, data)
                except MemoryError:
                    raise ServiceError(f"the SQL instance {instance.name} does not fit in SQLite's heap limit of "
                                       f"{SQLITE_HEAP_LIMIT // 2**20} MB") from None
                _configure(conn)
                conn.execute("PRAGMA query_only = ON")
                self._masters[instance.key] = conn
            return conn

    def query(self, instance: SqlInstance, text: str, *, timeout: float, filename: str) -> QueryResult:
        sql = _select_for_sqlite(text, filename)
        conn = self._master(instance)
        with self._lock:
            conn.set_authorizer(_authorizer(False, frozenset()))
            try:
                with _deadline(conn, timeout):
                    cursor = conn.execute(sql)
                    rows = _fetch(cursor, filename)
                return QueryResult(tuple(d[0] for d in cursor.description or ()), rows)
            except sqlite3.Error as exc:
                raise _sqlite_error(exc, filename, timeout) from None
            except MemoryError:
                raise _out_of_memory(filename) from None
            finally:
                _clear_authorizer(conn)

    @contextlib.contextmanager
    def session(self, instance: SqlInstance, *, timeout: float, protected: Sequence[str]) -> Iterator[SqliteSession]:
        master = self._master(instance)
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        protect_sqlite(conn)
        with self._lock:
            master.backup(conn)
        try:
            _configure(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            yield SqliteSession(conn, timeout, protected)
        finally:
            conn.close()

    def start(self) -> None:
        return None

    def stop(self) -> None:
        with self._lock:
            for conn in self._masters.values():
                conn.close()
            self._masters.clear()
