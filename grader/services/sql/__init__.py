"""The sql service: learner SQL (MySQL dialect) run against hidden instances, on SQLite or MySQL.

SQLite is the default: learner SQL is parsed and transpiled by sqlglot (with a dialect subclass for
MySQL date functions sqlglot renders differently), run on a copy of the instance held in memory,
behind an authorizer and a progress-handler deadline. With a MySQL URL the grader makes its own
databases and a SELECT-only user per run, and drops them when it stops. A run's database is copied
server-side from a template database the server keeps per instance (grader_tpl_*), built once under
a lock, so rows cross the wire only the first time an instance is graded on that server.

Learner SQL runs in the trusted process, so it is bounded before and while it runs: the text (size,
statements, nesting), SQLite itself (`Connection.setlimit`, a heap limit with temporary b-trees held
in memory so that they count against it), the time of a query and of a whole script, and the rows and
bytes of a result, which are fetched a batch at a time (on MySQL through an unbuffered cursor) and
stop at the cap. Going over a limit is a graded failure with a message for the learner (`OverLimit`).

One module per concern: `results` (the limits, the errors, a result read up to the caps: no
parser), `policy` (parsing learner SQL and what is refused, with sqlglot), `dialect` (MySQL on
SQLite), `functions` (the MySQL functions SQLite lacks), `sqlite` (the embedded backend), `mysql`
(the MySQL backend and its templates), `learner_db` (the learner_db service: a database learner code
connects to itself, and the MySQL protocol guard in front of it). This module holds the service and
re-exports the names the grader, hidden tests and fixtures import from `grader.services.sql`, each
loaded from its module on first use: learner_db, which runs only trusted queries, never loads the
parser for a package import. Tunable constants (ORPHAN_AGE, COPY_WORKERS, ...) are not re-exported:
a test that changes one patches the module that reads it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from grader.lazy import exports
from grader.services import ServiceOptions
from grader.services.sql.results import SqlError

if TYPE_CHECKING:  # loaded on first use (__getattr__ below)
    from grader.services.cache import cache_dir
    from grader.services.sql.dialect import MySQLOnSQLite, to_sqlite
    from grader.services.sql.mysql import (
        LEARNER_SQL_MODE, MARIADB_SQL_MODE, TEMPLATE_MARKER, MysqlBackend, MysqlSession, MysqlUrl, TemplateDamaged,
        copy_groups, drop_templates, mysql_load, template_name,
    )
    from grader.services.sql.policy import (
        FORBIDDEN_FUNCTIONS, FORBIDDEN_WORDS, Statement, parse_learner_sql, parse_select, split_statements,
    )
    from grader.services.sql.results import (
        CHECKING, MAX_NESTING, MAX_RESULT_BYTES, MAX_ROWS, MAX_SQL_BYTES, MAX_STATEMENTS, EmptyQuery, NotAllowed,
        OverLimit, QueryFailed, QueryResult, QueryTimeout, SqlInstance, UnsupportedFunction, portable,
        read_learner_sql,
    )
    from grader.services.sql.sqlite import (
        MYSQL_HINT, SQLITE_HEAP_LIMIT, SQLITE_LIMITS, SqliteBackend, SqliteSession, load_sqlite, protect_sqlite,
        sqlite_bytes, sqlite_file,
    )

_HOMES = {  # where each re-exported name lives
    "grader.services.cache": ("cache_dir",),
    "grader.services.sql.dialect": ("MySQLOnSQLite", "to_sqlite"),
    "grader.services.sql.mysql": (
        "LEARNER_SQL_MODE", "MARIADB_SQL_MODE", "TEMPLATE_MARKER", "MysqlBackend", "MysqlSession", "MysqlUrl",
        "TemplateDamaged", "copy_groups", "drop_templates", "mysql_load", "template_name"),
    "grader.services.sql.policy": (
        "FORBIDDEN_FUNCTIONS", "FORBIDDEN_WORDS", "Statement", "parse_learner_sql", "parse_select", "split_statements"),
    "grader.services.sql.results": (
        "CHECKING", "MAX_NESTING", "MAX_RESULT_BYTES", "MAX_ROWS", "MAX_SQL_BYTES", "MAX_STATEMENTS", "EmptyQuery",
        "NotAllowed", "OverLimit", "QueryFailed", "QueryResult", "QueryTimeout", "SqlInstance", "UnsupportedFunction",
        "portable", "read_learner_sql"),
    "grader.services.sql.sqlite": (
        "MYSQL_HINT", "SQLITE_HEAP_LIMIT", "SQLITE_LIMITS", "SqliteBackend", "SqliteSession", "load_sqlite",
        "protect_sqlite", "sqlite_bytes", "sqlite_file"),
}
__getattr__ = exports(__name__, {name: module for module, names in _HOMES.items() for name in names}, globals())


__all__ = [
    "CHECKING", "DEFAULT_TIMEOUT", "FORBIDDEN_FUNCTIONS", "FORBIDDEN_WORDS", "LEARNER_SQL_MODE", "MARIADB_SQL_MODE",
    "MAX_NESTING", "MAX_RESULT_BYTES", "MAX_ROWS", "MAX_SQL_BYTES", "MAX_STATEMENTS", "MYSQL_HINT", "SQLITE_HEAP_LIMIT",
    "SQLITE_LIMITS", "TEMPLATE_MARKER", "EmptyQuery", "MySQLOnSQLite", "MysqlBackend", "MysqlSession", "MysqlUrl",
    "NotAllowed", "OverLimit", "QueryFailed", "QueryResult", "QueryTimeout", "RememberedQueries", "SqlError", "SqlInstance",
    "SqlService", "SqliteBackend", "SqliteSession", "Statement", "TemplateDamaged", "UnsupportedFunction", "cache_dir",
    "copy_groups", "drop_templates", "load_sqlite", "make_service", "mysql_load", "parse_learner_sql", "parse_select",
    "portable", "protect_sqlite", "read_learner_sql", "split_statements", "sqlite_bytes", "sqlite_file",
    "template_name", "to_sqlite",
]

DEFAULT_TIMEOUT = 10.0


@dataclass
class SqlService:
    """The run's SQL backend: `query` runs one learner SELECT, `session` gives a writable copy."""

    url: str | None = None
    name: str = "sql"
    _impl: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.url:
            from grader.services.sql.mysql import MysqlBackend

            self._impl = MysqlBackend(self.url)
        else:
            from grader.services.sql.sqlite import SqliteBackend

            self._impl = SqliteBackend()

    @property
    def backend(self) -> str:
        return self._impl.backend

    def start(self) -> None:
        self._impl.start()

    def stop(self) -> None:
        self._impl.stop()

    def reset(self) -> None:
        return None

    def check(self) -> None:
        """Raise ServiceError when the backend no longer answers (an embedded SQLite always does)."""
        probe = getattr(self._impl, "check", None)
        if probe is not None:
            probe()

    def worker_env(self) -> dict[str, str]:
        return {}

    def query(self, instance: SqlInstance, text: str, *, timeout: float = DEFAULT_TIMEOUT, filename: str = "query.sql") -> QueryResult:
        """Run one learner SELECT (MySQL dialect) on `instance`; raises SqlError with a learner message."""
        return self._impl.query(instance, text, timeout=timeout, filename=filename)

    def reference(self, instance: SqlInstance, text: str, *, filename: str = "reference.sql") -> QueryResult:
        """Run a reference query; a failure here is a defect of the exercise, not of the learner."""
        try:
            return self._impl.query(instance, text, timeout=60.0, filename=filename)
        except SqlError as exc:
            raise RuntimeError(f"the reference query {filename} failed: {exc}") from None

    def session(self, instance: SqlInstance, *, timeout: float = DEFAULT_TIMEOUT, protected: Sequence[str] = ()) -> contextlib.AbstractContextManager[Any]:
        """A private writable copy of `instance` (foreign keys enforced) for SQL that creates and fills tables."""
        return self._impl.session(instance, timeout=timeout, protected=protected)


class RememberedQueries:
    """The sql service as one grade sees it: a learner query run again on the same instance answers
    from its first run, its SqlError included. sql_joins runs every question on the public database
    twice (its visible check, then its hidden check, which starts there); a learner query only reads
    (SQLite's authorizer and the MySQL user's privileges refuse writes), so the second run could only
    repeat the first, at the same cost: a third of a grade's queries. A ServiceError (the backend went
    away) is never remembered. Everything else is the service's own."""

    def __init__(self, service: SqlService) -> None:
        self._service = service
        self._runs: dict[tuple[str, str, float, str], QueryResult | SqlError] = {}

    def query(self, instance: SqlInstance, text: str, *, timeout: float = DEFAULT_TIMEOUT,
              filename: str = "query.sql") -> QueryResult:
        key = (instance.key, text, timeout, filename)
        run = self._runs.get(key)
        if run is None:
            try:
                run = self._service.query(instance, text, timeout=timeout, filename=filename)
            except SqlError as exc:
                run = exc
            self._runs[key] = run
        if isinstance(run, SqlError):
            raise run.with_traceback(None)
        return run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def make_service(options: ServiceOptions) -> SqlService:
    """The sql service for these options: MySQL when a URL is given, else embedded SQLite."""
    return SqlService(options.mysql_url or None)
