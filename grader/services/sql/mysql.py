"""The MySQL/MariaDB backend: a run's own databases and user, copied server-side from template databases.

With a MySQL URL the grader makes its own databases and a SELECT-only user per run, and drops them
when it stops. A run's database is copied server-side from a template database the server keeps per
instance (grader_tpl_*), built once under a lock, so rows cross the wire only the first time an
instance is graded on that server. Runs that died without stopping are reaped by a later run.
pymysql is imported where it is used, so importing the package does not load it.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence
from urllib.parse import unquote, urlsplit

from grader.errors import ServiceError
from grader.services.cache import cache_dir, read_verified, write_verified
from grader.services.sql.results import (  # the parser (policy.py) loads with the first learner SQL
    CHECKING, JOINS_ADVICE, TABLES_ADVICE, NotAllowed, OverLimit, QueryFailed, QueryResult, QueryTimeout, SqlError,
    SqlInstance, _describe, _fetch, _timed_out,
)

LEARNER_SQL_MODE = (
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)
# MariaDB's ONLY_FULL_GROUP_BY knows no functional dependence: it refuses `GROUP BY c.customer_id`
# with `c.first_name` selected, which MySQL 5.7+ and SQLite accept. Results are compared anyway.
MARIADB_SQL_MODE = LEARNER_SQL_MODE.replace("ONLY_FULL_GROUP_BY,", "")
_OWN_DATABASE = re.compile(r"`?grader_[0-9a-f]{8}_[a-z0-9_]+`?\.")
_TIMEOUT_ERRORS = {1317, 1969, 3024}


@dataclass(frozen=True)
class MysqlUrl:
    """Where the MySQL server is and who the grader is on it."""

    host: str
    port: int
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> MysqlUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
            raise ServiceError(f"--mysql-url must look like mysql://user:password@host:3306, not {url!r}")
        return cls(parts.hostname or "127.0.0.1", parts.port or 3306, unquote(parts.username or "root"), unquote(parts.password or ""))


def _mysql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    from pymysql.converters import escape_string

    return "'" + escape_string(str(value)) + "'"


TEMPLATE_FORMAT = 1  # change when the way templates are built changes; the name carries it
TEMPLATE_MARKER = "_grader_template"
TEMPLATE_LOCK_TIMEOUT = 300
COPY_WORKERS = 3  # connections that copy a template's tables into a run's database side by side


class TemplateDamaged(Exception):
    """A template's tables no longer hold the rows its marker promises."""


def template_name(instance: SqlInstance) -> str:
    """The server-side template database of `instance`: its key, and a digest of the key and the MySQL schema."""
    import hashlib

    ddl = "\n".join([f"format {TEMPLATE_FORMAT}", instance.key, *instance.ddl("mysql")])
    digest = hashlib.sha256(ddl.encode("utf-8")).hexdigest()[:10]
    key = re.sub(r"[^a-z0-9]+", "_", instance.key.lower()).strip("_")[:36]
    return f"grader_tpl_{key}_{digest}"


def _template_marker(cursor: Any, template: str, instance: SqlInstance) -> list[tuple[str, int]] | None:
    """(table, rows) from a complete template's marker, or None when the template is missing, half-built or stale."""
    import pymysql

    try:
        cursor.execute(f"SELECT item, value FROM `{template}`.`{TEMPLATE_MARKER}`")
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] in (1049, 1146):  # no such database / table: never built, or half-built
            return None
        raise
    items = dict(cursor.fetchall())
    if items.get("instance_key") != instance.key or items.get("format") != str(TEMPLATE_FORMAT):
        return None
    try:
        return [(table, int(items[f"rows:{table}"])) for table in items.get("tables", "").split(",") if table]
    except (KeyError, ValueError):
        return None


def _template_intact(cursor: Any, template: str, counts: list[tuple[str, int]]) -> bool:
    """Whether every table of the template still holds the number of rows its marker records."""
    import pymysql

    try:
        for table, rows in counts:
            cursor.execute(f"SELECT COUNT(*) FROM `{template}`.`{table}`")
            if cursor.fetchone()[0] != rows:
                return False
    except pymysql.err.MySQLError:
        return False
    return True


def _build_template(cursor: Any, template: str, instance: SqlInstance, built_by: str) -> list[tuple[str, int]]:
    """Build the template in one transaction and write its marker last; the caller holds the template's lock."""
    counts, statements = mysql_load(instance)
    cursor.execute(f"DROP DATABASE IF EXISTS `{template}`")
    cursor.execute(f"CREATE DATABASE `{template}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    cursor.execute(f"USE `{template}`")
    cursor.execute("SET SESSION foreign_key_checks = 0")  # parents and children load in any order
    try:
        for statement in instance.ddl("mysql"):
            cursor.execute(statement)
        cursor.execute("START TRANSACTION")  # unique checks stay on: copies of the template skip them
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("COMMIT")
    finally:
        cursor.execute("SET SESSION foreign_key_checks = 1")
    items = [
        ("instance_key", instance.key), ("format", str(TEMPLATE_FORMAT)), ("built_by", built_by),
        ("tables", ",".join(table for table, _ in counts)), *((f"rows:{table}", str(rows)) for table, rows in counts),
    ]
    cursor.execute(
        f"CREATE TABLE `{TEMPLATE_MARKER}` (item VARCHAR(80) PRIMARY KEY, value VARCHAR(1000) NOT NULL) ENGINE=InnoDB"
    )
    cursor.executemany(f"INSERT INTO `{TEMPLATE_MARKER}` (item, value) VALUES (%s, %s)", items)
    return counts


def copy_groups(counts: Sequence[tuple[str, int]], workers: int) -> list[list[tuple[str, int]]]:
    """Tables split into at most `workers` groups of about equal row counts, largest tables first."""
    groups: list[list[tuple[str, int]]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for table, rows in sorted(counts, key=lambda c: -c[1]):
        slot = loads.index(min(loads))
        groups[slot].append((table, rows))
        loads[slot] += rows + 1
    return [group for group in groups if group]


def _copy_tables(conn: Any, database: str, template: str, group: Sequence[tuple[str, int]]) -> None:
    """Copy some of the template's tables into `database` in one transaction, checking row counts against the marker."""
    import pymysql

    with conn.cursor() as cursor:
        cursor.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
        try:
            # READ COMMITTED: a consistent read of the template, without share-locking its rows
            cursor.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.execute("START TRANSACTION")
            for table, rows in group:
                copied = cursor.execute(f"INSERT INTO `{database}`.`{table}` SELECT * FROM `{template}`.`{table}`")
                if copied != rows:
                    raise TemplateDamaged(f"{template}.{table} holds {copied} rows, its marker says {rows}")
            cursor.execute("COMMIT")
        except (pymysql.err.MySQLError, TemplateDamaged):
            with contextlib.suppress(pymysql.err.MySQLError):
                cursor.execute("ROLLBACK")
            raise
        finally:
            with contextlib.suppress(pymysql.err.MySQLError):
                cursor.execute("SET SESSION foreign_key_checks = 1, unique_checks = 1")


ORPHAN_AGE = 600  # seconds: a run's databases are left alone this long, even when no live run holds its lock
_RUN_DATABASE = re.compile(r"^grader_([0-9a-f]{8})_")


def _reap_orphans(cursor: Any) -> list[str]:
    """Drop the databases and user of runs that died without stop() (killed, crashed); returns their run ids.

    A run holds the lock grader_run_<id> for as long as its admin connection lives. Databases whose run
    holds no lock and that are older than ORPHAN_AGE (so a grader too old to take the lock is spared)
    are orphans.
    """
    import pymysql

    cursor.execute(
        "SELECT table_schema, MIN(TIMESTAMPDIFF(SECOND, create_time, NOW())) FROM information_schema.tables "
        "WHERE table_schema LIKE 'grader\\_%' GROUP BY table_schema"
    )
    runs: dict[str, list[tuple[str, int]]] = {}
    for schema, age in cursor.fetchall():
        match = _RUN_DATABASE.match(schema)
        if match:
            runs.setdefault(match.group(1), []).append((schema, int(age if age is not None else 0)))
    reaped = []
    for run_id, databases in runs.items():
        if min(age for _, age in databases) < ORPHAN_AGE:
            continue
        cursor.execute("SELECT IS_USED_LOCK(%s)", (f"grader_run_{run_id}",))
        if cursor.fetchone()[0] is not None:
            continue
        with contextlib.suppress(pymysql.err.MySQLError):
            for schema, _ in databases:
                cursor.execute(f"DROP DATABASE IF EXISTS `{schema}`")
            cursor.execute(f"DROP USER IF EXISTS 'grader_{run_id}'@'%'")
            reaped.append(run_id)
    return reaped


def drop_templates(url: str) -> list[str]:
    """Drop every grader template database on the server at `url` (the next grade rebuilds what it needs)."""
    backend = MysqlBackend(url)
    conn = backend._connect(backend.url.user, backend.url.password)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'grader\\_tpl\\_%'"
            )
            names = sorted(r[0] for r in cursor.fetchall())
            for name in names:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        return names
    finally:
        conn.close()


def _preferred_tls_context() -> Any:
    """The TLS context pymysql makes for a server that offers TLS: encrypt, verify nothing (its "preferred" mode)."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def mysql_load(instance: SqlInstance, batch: int = 2000) -> tuple[list[tuple[str, int]], list[str]]:
    """(table, row count) in load order and the multi-row INSERTs that load the instance on MySQL, cached by its key."""
    import json

    path = cache_dir() / f"{instance.key}.mysql-load.json"
    data = read_verified(path)
    if data is not None:
        cached = json.loads(data.decode("utf-8"))
        return [(t, int(n)) for t, n in cached["tables"]], cached["statements"]
    counts, statements = [], []
    for table, columns, rows in instance.tables():
        counts.append((table, len(rows)))
        head = f"INSERT INTO `{table}` ({', '.join(columns)}) VALUES "
        for start in range(0, len(rows), batch):
            values = ",".join("(" + ",".join(_mysql_literal(v) for v in row) + ")" for row in rows[start : start + batch])
            statements.append(head + values)
    write_verified(path, json.dumps({"tables": counts, "statements": statements}).encode("utf-8"))
    return counts, statements


class MysqlSession:
    """A private, writable database holding one instance on MySQL, for the learner's user."""

    backend = "mysql"

    def __init__(self, backend: MysqlBackend, database: str, timeout: float, protected: Sequence[str]) -> None:
        self._backend = backend
        self.database = database
        self.timeout = timeout
        self.protected = tuple(protected)

    def run_script(self, text: str, *, filename: str) -> None:
        """Run learner SQL (several statements) as the learner's user, all of it within the timeout."""
        from grader.services.sql.policy import parse_learner_sql

        statements = parse_learner_sql(text, filename=filename, writes=True, protected=self.protected)
        conn = self._backend.learner_connection(self.database, self.timeout)
        deadline = time.monotonic() + self.timeout
        try:
            for number, statement in enumerate(statements, 1):
                try:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _timed_out(f"{filename}: the script", self.timeout)
                    if number > 1:
                        self._backend.limit_time(conn, left)
                    try:
                        self._backend.execute_limited(conn, statement.text, left, filename)
                    except QueryTimeout:
                        raise _timed_out(f"{filename}: the script", self.timeout) from None
                except SqlError as error:
                    raise type(error)(f"{error} (statement {number}: {_describe(statement.text)} ...)") from None
        finally:
            conn.close()

    def query(self, text: str) -> QueryResult:
        """A trusted query on this session's database."""
        return self._backend.trusted_query(self.database, text, self.timeout)

    def tables(self) -> list[str]:
        """Names of the tables in the session's database."""
        rows = self.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{self.database}' "
            "AND table_type = 'BASE TABLE'"
        ).rows
        return sorted(r[0] for r in rows)

    def columns(self, table: str) -> list[str]:
        """Column names of `table`, in order."""
        rows = self.query(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{self.database}' AND table_name = '{table}' ORDER BY ordinal_position"
        ).rows
        return [r[0] for r in rows]

    def primary_key(self, table: str) -> list[str]:
        """The primary key columns of `table` (empty when it has none)."""
        rows = self.query(
            "SELECT column_name FROM information_schema.key_column_usage WHERE "
            f"table_schema = '{self.database}' AND table_name = '{table}' AND constraint_name = 'PRIMARY' "
            "ORDER BY ordinal_position"
        ).rows
        return [r[0] for r in rows]

    def engine(self, table: str) -> str:
        """The storage engine of `table` (InnoDB, MyISAM, ...)."""
        rows = self.query(
            "SELECT engine FROM information_schema.tables WHERE "
            f"table_schema = '{self.database}' AND table_name = '{table}'"
        ).rows
        return str(rows[0][0] or "") if rows else ""

    def foreign_keys(self, table: str) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
        """(columns, referenced table, referenced columns) of each foreign key of `table`."""
        rows = self.query(
            "SELECT constraint_name, column_name, referenced_table_name, referenced_column_name "
            "FROM information_schema.key_column_usage WHERE "
            f"table_schema = '{self.database}' AND table_name = '{table}' AND referenced_table_name IS NOT NULL "
            "ORDER BY constraint_name, ordinal_position"
        ).rows
        groups: dict[str, list[Any]] = {}
        for row in rows:
            groups.setdefault(row[0], []).append(row)
        return [(tuple(r[1] for r in g), g[0][2], tuple(r[3] for r in g)) for g in groups.values()]

    def probe_insert(self, text: str) -> str:
        """Try a trusted INSERT and undo it: "accepted", "foreign_key" (refused by a foreign key) or the error."""
        import pymysql

        with self._backend.admin_cursor(self.database) as cursor:
            cursor.execute("START TRANSACTION")
            try:
                cursor.execute(text)
            except pymysql.err.IntegrityError as exc:
                return "foreign_key" if exc.args[0] in (1216, 1452) else f"refused: {exc.args[-1]}"
            except pymysql.err.MySQLError as exc:
                return f"error: {exc.args[-1]}"
            finally:
                cursor.execute("ROLLBACK")
        return "accepted"


class MysqlBackend:
    """A run's own databases and SELECT-only user on a MySQL/MariaDB server."""

    backend = "mysql"

    def __init__(self, url: str) -> None:
        self.url = MysqlUrl.parse(url)
        self.run_id = secrets.token_hex(4)
        self.user = f"grader_{self.run_id}"
        self.password = secrets.token_urlsafe(18)
        self.mariadb = False
        self._admin: Any = None
        self._databases: dict[str, str] = {}
        self._sessions = 0
        self._lock = threading.RLock()
        self._tls: Any = None  # None: not known yet; False: the server speaks no TLS; else the shared context
        self.templates_built: list[str] = []  # templates this run had to build (a warm server builds none)
        self._copiers: list[Any] = []  # admin connections that copy template tables side by side

    def _connect(self, user: str, password: str, database: str | None = None) -> Any:
        import pymysql

        # Without TLS options pymysql builds a new SSL context (reading the system CA bundle, ~25 ms) on
        # every connection. The admin connection finds out whether the server speaks TLS; later ones reuse
        # one context when it does and skip TLS when it does not, as pymysql's "preferred" mode would.
        tls: dict[str, Any] = {}
        if self._tls is not None:
            tls = {"ssl": self._tls} if self._tls else {"ssl_disabled": True}
        return pymysql.connect(
            host=self.url.host, port=self.url.port, user=user, password=password, database=database,
            autocommit=True, charset="utf8mb4", connect_timeout=5, **tls,
        )

    def start(self) -> None:
        import pymysql

        try:
            self._admin = self._connect(self.url.user, self.url.password)
        except pymysql.err.MySQLError as exc:
            raise ServiceError(f"cannot connect to MySQL at {self.url.host}:{self.url.port}: {exc.args[-1]}") from None
        with self._admin.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = cursor.fetchone()
            self._tls = _preferred_tls_context() if row and row[1] else False
            cursor.execute("SELECT VERSION()")
            self.mariadb = "mariadb" in str(cursor.fetchone()[0]).lower()
            try:
                cursor.execute(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
            except pymysql.err.MySQLError as exc:
                raise ServiceError(
                    f"the MySQL user {self.url.user!r} cannot create users (needed to run learner SQL "
                    f"with SELECT only): {exc.args[-1]}"
                ) from None
            # held while this run lives: a later run that finds the lock free knows the run's leftovers are orphans
            cursor.execute("SELECT GET_LOCK(%s, 0)", (f"grader_run_{self.run_id}",))
            _reap_orphans(cursor)

    def stop(self) -> None:
        import pymysql

        with self._lock:
            if self._admin is None:
                return
            with self._admin.cursor() as cursor:
                for database in list(self._databases.values()):
                    with contextlib.suppress(pymysql.err.MySQLError):
                        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
                with contextlib.suppress(pymysql.err.MySQLError):
                    cursor.execute(f"DROP USER IF EXISTS '{self.user}'@'%'")
            for conn in self._copiers:
                with contextlib.suppress(pymysql.err.MySQLError):
                    conn.close()
            self._copiers.clear()
            self._databases.clear()
            self._admin.close()
            self._admin = None

    def check(self) -> None:
        """Raise ServiceError when the server no longer answers the run's admin connection."""
        import pymysql

        with self._lock:
            if self._admin is None:
                return
            try:
                self._admin.ping(reconnect=False)
            except (pymysql.err.MySQLError, OSError) as exc:
                raise ServiceError(f"MySQL at {self.url.host}:{self.url.port} stopped answering: {exc}") from None

    @contextlib.contextmanager
    def admin_cursor(self, database: str) -> Iterator[Any]:
        with self._lock:
            with self._admin.cursor() as cursor:
                cursor.execute(f"USE `{database}`")
                yield cursor

    def _load(self, database: str, instance: SqlInstance) -> None:
        """Create `database` with the instance's schema and copy its rows from the template on the server."""
        import pymysql

        template = template_name(instance)
        counts = self._template(instance, template)
        for attempt in (1, 2):
            with self._admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
                cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                self._databases[database] = database
                cursor.execute(f"USE `{database}`")
                try:
                    cursor.execute("SET SESSION foreign_key_checks = 0")  # a table may refer to one created later
                    try:
                        for statement in instance.ddl("mysql"):
                            cursor.execute(statement)
                    finally:
                        cursor.execute("SET SESSION foreign_key_checks = 1")
                    self._copy(database, template, counts)
                    return
                except (pymysql.err.MySQLError, TemplateDamaged) as exc:
                    if attempt == 2:
                        reason = exc.args[-1] if isinstance(exc, pymysql.err.MySQLError) and exc.args else exc
                        raise ServiceError(
                            f"cannot copy {instance.name} from the MySQL template {template}: {reason}"
                        ) from None
            counts = self._template(instance, template, damaged=True)

    def _copy(self, database: str, template: str, counts: list[tuple[str, int]]) -> None:
        """Copy the template's rows into `database` server-side, on several connections at once.

        InnoDB inserts one row at a time on the server's CPU; copying the large tables side by side
        takes about a third less time than one after the other, even on two cores.
        """
        from concurrent.futures import ThreadPoolExecutor

        groups = copy_groups(counts, COPY_WORKERS)
        while len(self._copiers) < len(groups):
            self._copiers.append(self._connect(self.url.user, self.url.password))
        if len(groups) == 1:
            _copy_tables(self._copiers[0], database, template, groups[0])
            return
        with ThreadPoolExecutor(len(groups)) as pool:
            futures = [
                pool.submit(_copy_tables, conn, database, template, group) for conn, group in zip(self._copiers, groups)
            ]
        for future in futures:
            future.result()

    def _template(self, instance: SqlInstance, template: str, *, damaged: bool = False) -> list[tuple[str, int]]:
        """The template's (table, row count) list; builds the template first when missing, half-built or stale."""
        import pymysql

        with self._admin.cursor() as cursor:
            if not damaged:
                counts = _template_marker(cursor, template, instance)
                if counts is not None:
                    return counts
            cursor.execute("SELECT GET_LOCK(%s, %s)", (template, TEMPLATE_LOCK_TIMEOUT))
            if cursor.fetchone()[0] != 1:
                raise ServiceError(f"another grader has been building the MySQL template {template} for "
                                   f"{TEMPLATE_LOCK_TIMEOUT} s; try again, or drop that database if it is stuck")
            try:
                counts = _template_marker(cursor, template, instance)
                if counts is None or (damaged and not _template_intact(cursor, template, counts)):
                    try:
                        counts = _build_template(cursor, template, instance, self.run_id)
                    except pymysql.err.MySQLError as exc:
                        raise ServiceError(f"cannot build the MySQL template {template}: {exc.args[-1]}") from None
                    self.templates_built.append(template)
                return counts
            finally:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (template,))

    def _database(self, instance: SqlInstance) -> str:
        with self._lock:
            name = f"grader_{self.run_id}_{re.sub(r'[^a-z0-9]', '_', instance.name.lower())}"
            if name not in self._databases:
                self._load(name, instance)
                with self._admin.cursor() as cursor:
                    cursor.execute(f"GRANT SELECT ON `{name}`.* TO '{self.user}'@'%'")
            return name

    def learner_connection(self, database: str, timeout: float) -> Any:
        conn = self._connect(self.user, self.password, database)
        with conn.cursor() as cursor:
            cursor.execute(f"SET SESSION sql_mode = '{MARIADB_SQL_MODE if self.mariadb else LEARNER_SQL_MODE}'")
        self.limit_time(conn, timeout)
        return conn

    def limit_time(self, conn: Any, timeout: float) -> None:
        """The server's own time limit on the statements of `conn` (MySQL's applies to SELECT only)."""
        with conn.cursor() as cursor:
            if self.mariadb:
                cursor.execute(f"SET SESSION max_statement_time = {float(timeout)}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {max(1, int(timeout * 1000))}")

    def execute_limited(self, conn: Any, text: str, timeout: float, filename: str, *,
                        what: str = "your query", trusted: bool = False) -> QueryResult:
        """Run one statement with a KILL QUERY from a second connection as the last resort.

        The result is read a row at a time (an unbuffered cursor) up to the caps; at a cap the query is
        killed, so the server stops sending and the rows already on their way are read and dropped.
        A trusted statement's MySQL errors, other than running out of time, are raised as they are.
        """
        import pymysql

        thread_id = conn.thread_id()
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(pymysql.err.MySQLError):
                killer = self._connect(self.url.user, self.url.password)
                with killer.cursor() as cursor:
                    cursor.execute(f"KILL QUERY {int(thread_id)}")
                killer.close()

        timer = threading.Timer(timeout + 1.0, kill)
        timer.start()
        cursor = conn.cursor(pymysql.cursors.SSCursor)
        try:
            cursor.execute(text)
            rows = _fetch(cursor, filename, what, trusted)
            return QueryResult(tuple(d[0] for d in cursor.description or ()), rows)
        except OverLimit:
            timer.cancel()
            kill()
            raise
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            if code in _TIMEOUT_ERRORS or killed.is_set():
                raise _timed_out(f"{filename}: {what}", timeout, TABLES_ADVICE if trusted else JOINS_ADVICE) from None
            if trusted:
                raise
            if code in (1044, 1142, 1227):
                raise NotAllowed(f"{filename}: that statement is not allowed here ({_OWN_DATABASE.sub('', str(exc.args[-1]))}).") from None
            message = _OWN_DATABASE.sub("", str(exc.args[-1]))
            raise QueryFailed(f"{filename}: MySQL refused the query: {message}") from None
        finally:
            timer.cancel()
            with contextlib.suppress(pymysql.err.MySQLError):
                cursor.close()

    def trusted_query(self, database: str, text: str, timeout: float) -> QueryResult:
        """A trusted query on tables a learner made, as bounded in time and size as the learner's own."""
        with self._lock:
            self._admin.select_db(database)
            return self.execute_limited(self._admin, text, timeout, CHECKING, what="the grader's query", trusted=True)

    def query(self, instance: SqlInstance, text: str, *, timeout: float, filename: str) -> QueryResult:
        from grader.services.sql.policy import parse_select

        statement = parse_select(text, filename)
        conn = self.learner_connection(self._database(instance), timeout)
        try:
            return self.execute_limited(conn, statement.text, timeout, filename)
        finally:
            conn.close()

    @contextlib.contextmanager
    def session(self, instance: SqlInstance, *, timeout: float, protected: Sequence[str]) -> Iterator[MysqlSession]:
        with self._lock:
            self._sessions += 1
            name = f"grader_{self.run_id}_w{self._sessions}"
            self._load(name, instance)
            with self._admin.cursor() as cursor:
                cursor.execute(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES "
                    f"ON `{name}`.* TO '{self.user}'@'%'"
                )
        try:
            yield MysqlSession(self, name, timeout, protected)
        finally:
            with self._lock, self._admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                self._databases.pop(name, None)
