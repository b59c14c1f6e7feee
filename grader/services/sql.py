"""The sql service: learner SQL (MySQL dialect) on embedded SQLite, or on a real MySQL/MariaDB server.

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
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import secrets
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence
from urllib.parse import unquote, urlsplit

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ParseError, TokenError

from grader.errors import ServiceError
from grader.services import ServiceOptions
from grader.services.cache import cache_dir, private_scratch, read_verified, write_verified

logging.getLogger("sqlglot").setLevel(logging.ERROR)

DEFAULT_TIMEOUT = 10.0

# Limits on learner SQL: the trusted process runs it, so none of it may grow the grader without bound.
MAX_SQL_BYTES = 100_000  # one learner SQL file (a query or a whole script)
MAX_STATEMENTS = 100  # statements of one script
MAX_NESTING = 20  # parentheses nested inside one statement (the parser recurses on them)
MAX_ROWS = 100_000  # rows of one result
MAX_RESULT_BYTES = 16_000_000  # one result: text and blobs by length, any other value as 8 bytes
CHECKING = "Checking your tables"  # where a bounded trusted query on the learner's tables says it failed
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


class SqlError(Exception):
    """Learner SQL could not run; the message is written for the learner."""


class EmptyQuery(SqlError):
    """The file holds no statement yet."""


class NotAllowed(SqlError):
    """The statement is of a kind the exercise does not allow."""


class QueryTimeout(SqlError):
    """A statement ran longer than the time limit and was stopped."""


class UnsupportedFunction(SqlError):
    """The embedded backend has no such function."""


class QueryFailed(SqlError):
    """The statement did not parse, or the database refused it."""


class OverLimit(SqlError):
    """The SQL, its result or the memory it needed went over one of the grader's limits."""


def read_learner_sql(path: Path, *, filename: str | None = None) -> str:
    """A learner's SQL file as text (at most MAX_SQL_BYTES of UTF-8); raises SqlError with a learner message."""
    from grader.learner_files import FileTooLarge, LearnerFileError, read_learner_text

    try:
        return read_learner_text(path, max_bytes=MAX_SQL_BYTES, name=filename)
    except LearnerFileError as exc:
        raise (OverLimit if isinstance(exc, FileTooLarge) else QueryFailed)(str(exc)) from None


class SqlInstance(Protocol):
    """A database the hidden tests grade on: its schema and rows, built identically on every backend."""

    name: str
    public: bool
    key: str  # changes whenever the data changes; cached copies are keyed by it

    def ddl(self, backend: str) -> list[str]: ...

    def tables(self) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]: ...


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of one query, with values made portable (dates as ISO text, decimals as float)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def portable(value: Any) -> Any:
    """One value as both backends agree to show it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


# --- parsing learner SQL ---------------------------------------------------------------------

FORBIDDEN_WORDS = ("ATTACH", "DETACH", "PRAGMA", "LOAD", "HANDLER", "LOCK", "UNLOCK", "GRANT", "REVOKE", "SET", "USE", "CALL")
FORBIDDEN_FUNCTIONS = {"LOAD_FILE", "LOAD_EXTENSION", "SLEEP", "BENCHMARK", "GET_LOCK", "SYS_EXEC", "READFILE", "WRITEFILE"}
READ_KINDS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
ALTER = getattr(exp, "Alter", None) or getattr(exp, "AlterTable")  # sqlglot before 25.11 named it AlterTable
WRITE_KINDS = (exp.Create, exp.Insert, ALTER, exp.Drop, exp.Update, exp.Delete, *READ_KINDS)
_COMMENT = re.compile(r"--[^\n]*|#[^\n]*|/\*.*?\*/", re.S)


@dataclass(frozen=True)
class Statement:
    """One parsed statement of learner SQL, with its original MySQL text."""

    text: str
    tree: exp.Expression


def split_statements(text: str) -> list[str]:
    """The statements of `text`, split on semicolons outside strings and comments."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("mysql").tokenize(text)
    except TokenError as exc:
        quotes = "a quote (' \" or `) or a /* comment is never closed"
        raise QueryFailed(f"the SQL could not be read: {quotes} ({str(exc).splitlines()[0]})") from None
    pieces, start, depth = [], 0, 0
    for token in tokens:
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            pieces.append(text[start : token.start])
            start = token.end + 1
        elif token.token_type == sqlglot.TokenType.L_PAREN:
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, token.start) + 1
                raise OverLimit(f"parentheses are nested more than {MAX_NESTING} deep (line {line}); "
                                "no query needs that many: use a WITH clause to name the inner parts")
        elif token.token_type == sqlglot.TokenType.R_PAREN:
            depth = max(0, depth - 1)
    pieces.append(text[start:])
    return [p.strip() for p in pieces if _COMMENT.sub("", p).strip()]


def parse_learner_sql(text: str, *, filename: str, writes: bool = False, protected: Sequence[str] = ()) -> list[Statement]:
    """Parse learner SQL and refuse what the exercise does not allow; raises SqlError with a learner message."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SQL_BYTES:
        raise OverLimit(f"{filename} is {size:,} bytes; the grader runs SQL files of at most {MAX_SQL_BYTES:,} "
                        "bytes. Write only what the task asks for.")
    try:
        pieces = split_statements(text)
    except (QueryFailed, OverLimit) as exc:
        raise type(exc)(f"{filename}: {exc}") from None
    if not pieces:
        raise EmptyQuery(f"{filename} has no query yet: write your SQL statement below the comment.")
    if not writes and len(pieces) > 1:
        raise NotAllowed(
            f"{filename} holds {len(pieces)} statements; write exactly one SELECT query (one statement per file)."
        )
    if len(pieces) > MAX_STATEMENTS:
        raise OverLimit(f"{filename} holds {len(pieces):,} statements; the grader runs at most {MAX_STATEMENTS} "
                        "in one file. Fill tables with INSERT ... SELECT rather than a statement per row.")
    statements = []
    for piece in pieces:
        first = _COMMENT.sub("", piece).split(None, 1)[0].upper().rstrip("(")
        if first in FORBIDDEN_WORDS:
            raise NotAllowed(f"{filename}: {first} statements are not allowed here.")
        try:
            trees = [t for t in sqlglot.parse(piece, read="mysql") if t is not None]
        except (ParseError, TokenError) as exc:
            raise QueryFailed(f"{filename}: the SQL does not parse: {_first_error(exc, piece, text)}") from None
        except RecursionError:
            raise OverLimit(f"{filename}: {_describe(piece)} is nested too deeply for the grader to read; "
                            "use a WITH clause to name the inner parts.") from None
        tree = trees[0]
        kinds = WRITE_KINDS if writes else READ_KINDS
        if isinstance(tree, exp.Command) or not isinstance(tree, kinds):
            allowed = "SELECT, CREATE TABLE, INSERT" if writes else "a SELECT query"
            typo = _typo_hint(_COMMENT.sub("", piece).split(None, 1)[0])
            raise NotAllowed(f"{filename}: only {allowed} is allowed here, not {_describe(piece)}.{typo}")
        for func in tree.find_all(exp.Anonymous):
            if str(func.name).upper() in FORBIDDEN_FUNCTIONS:
                raise NotAllowed(f"{filename}: the function {str(func.name).upper()} is not allowed.")
        if writes and protected:
            _refuse_changes(tree, protected, filename)
        statements.append(Statement(piece, tree))
    return statements


def _refuse_changes(tree: exp.Expression, protected: Sequence[str], filename: str) -> None:
    if isinstance(tree, exp.Select) or isinstance(tree, READ_KINDS):
        return
    target = tree.this
    while target is not None and not isinstance(target, exp.Table):
        target = target.this if isinstance(target, exp.Expression) else None
    if target is not None and target.name.lower() in {p.lower() for p in protected}:
        raise NotAllowed(f"{filename}: leave {target.name} as it is; create new tables and fill them from it.")


SQL_KEYWORDS = (
    "SELECT", "FROM", "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "OUTER", "CROSS", "USING", "GROUP",
    "ORDER", "HAVING", "LIMIT", "OFFSET", "DISTINCT", "UNION", "BETWEEN", "EXISTS", "NULL", "LIKE",
    "CASE", "WHEN", "THEN", "ELSE", "DESC", "COUNT", "COALESCE", "IFNULL", "CREATE", "TABLE", "INSERT",
    "INTO", "VALUES", "PRIMARY", "FOREIGN", "REFERENCES", "KEY", "CONSTRAINT", "UNIQUE", "DEFAULT",
)


def _typo_hint(*words: str) -> str:
    """' Did you mean X instead of Y?' for the first word that looks like a misspelt keyword, else ''."""
    import difflib

    for word in words:
        if len(word) < 3 or not word.isalpha() or word.upper() in SQL_KEYWORDS:
            continue
        close = difflib.get_close_matches(word.upper(), SQL_KEYWORDS, n=1, cutoff=0.75)
        if close:
            return f" Did you mean {close[0]} instead of {word}?"
    return ""


def _first_error(exc: Exception, piece: str = "", text: str = "") -> str:
    """The parser's first complaint: where it is, the line with a caret under it, and a likely typo."""
    errors = getattr(exc, "errors", None)
    if not errors:
        return str(exc).splitlines()[0]
    e = errors[0]
    description = str(e.get("description") or "syntax error").replace("Invalid expression / ", "").lower()
    line, col = int(e.get("line") or 1), int(e.get("col") or 1)
    lines = piece.splitlines()
    if not 1 <= line <= len(lines):
        return f"{description} near line {line}, column {col}"
    before = piece.find(piece.strip()) if piece else 0
    offset = text.find(piece) if piece and text else -1
    file_line = line + (text.count("\n", 0, offset) if offset >= 0 else 0) + piece.count("\n", 0, before)
    source = lines[line - 1].rstrip()
    highlight = str(e.get("highlight") or "")
    start = max(0, col - len(highlight))
    if start > 40:  # long line: keep the 40 characters before the error
        source, start = "..." + source[start - 37 :], 40
    if len(source) > start + 40:
        source = source[: start + 37] + "..."
    words = [highlight, *reversed(str(e.get("start_context") or "").split()[-2:]), piece.split(None, 1)[0]]
    return (f"{description} at line {file_line}, column {max(1, col - len(highlight) + 1)}:\n    {source}\n"
            f"    {' ' * start}{'^' * max(1, len(highlight))}{_typo_hint(*words)}")


def _describe(piece: str) -> str:
    words = _COMMENT.sub("", piece).split()
    return " ".join(words[:2]).upper() if words else "an empty statement"


# --- MySQL dialect on SQLite -------------------------------------------------------------------


def _date_add(sign: int) -> Callable[[Any, exp.Expression], str]:
    def render(self: Any, expression: exp.Expression) -> str:
        unit = expression.text("unit").upper() or "DAY"
        amount = self.sql(expression, "expression")
        if sign < 0:
            amount = f"-({amount})"
        return f"MYSQL_DATE_ADD({self.sql(expression, 'this')}, {amount}, '{unit}')"

    return render


def _interval_arith(sign: int, base: Callable[..., str]) -> Callable[[Any, exp.Expression], str]:
    def render(self: Any, expression: exp.Expression) -> str:
        right = expression.expression
        if isinstance(right, exp.Interval):
            unit = right.text("unit").upper() or "DAY"
            amount = self.sql(right, "this")
            if sign < 0:
                amount = f"-({amount})"
            return f"MYSQL_DATE_ADD({self.sql(expression, 'this')}, {amount}, '{unit}')"
        return base(self, expression)

    return render


class MySQLOnSQLite(SQLite):
    """SQLite output for MySQL input, where sqlglot's rendering changes MySQL's meaning."""

    class Generator(SQLite.Generator):
        TRANSFORMS = {
            **SQLite.Generator.TRANSFORMS,
            # MySQL's DATEDIFF counts calendar days between the date parts
            exp.DateDiff: lambda self, e: (
                f"CAST(JULIANDAY(DATE({self.sql(e, 'this')})) - JULIANDAY(DATE({self.sql(e, 'expression')})) AS INTEGER)"
            ),
            exp.DateAdd: _date_add(1),
            exp.DateSub: _date_add(-1),
            exp.TimestampDiff: lambda self, e: (
                f"MYSQL_TIMESTAMPDIFF('{e.text('unit').upper()}', {self.sql(e, 'expression')}, {self.sql(e, 'this')})"
            ),
            exp.Year: lambda self, e: f"MYSQL_PART('%Y', {self.sql(e, 'this')})",
            exp.Month: lambda self, e: f"MYSQL_PART('%m', {self.sql(e, 'this')})",
            exp.Day: lambda self, e: f"MYSQL_PART('%d', {self.sql(e, 'this')})",
        }

        def add_sql(self, expression: exp.Add) -> str:
            return _interval_arith(1, lambda s, e: s.binary(e, "+"))(self, expression)

        def sub_sql(self, expression: exp.Sub) -> str:
            return _interval_arith(-1, lambda s, e: s.binary(e, "-"))(self, expression)


def to_sqlite(statement: Statement) -> str:
    """The statement as SQLite runs it."""
    tree = statement.tree.copy()
    if isinstance(tree, exp.Create):
        _sqlite_create(tree)
    return tree.sql(dialect=MySQLOnSQLite)


def _sqlite_create(tree: exp.Create) -> None:
    """Drop MySQL-only parts of CREATE TABLE (inline KEY/INDEX, table options) that SQLite refuses."""
    schema = tree.this
    if isinstance(schema, exp.Schema):
        for item in list(schema.expressions):
            if isinstance(item, exp.IndexColumnConstraint):
                item.pop()
            elif isinstance(item, exp.UniqueColumnConstraint) and isinstance(item.this, exp.Schema):
                item.set("this", exp.Schema(expressions=item.this.expressions))
    props = tree.args.get("properties")
    if props is not None:
        props.pop()


def _parse_moment(value: Any) -> tuple[datetime, bool] | None:
    if value is None:
        return None
    text = str(value)
    for fmt, has_time in (("%Y-%m-%d %H:%M:%S", True), ("%Y-%m-%d", False), ("%Y-%m-%d %H:%M", True), ("%Y-%m-%dT%H:%M:%S", True)):
        try:
            return datetime.strptime(text[:19] if has_time else text[:10], fmt), has_time
        except ValueError:
            continue
    return None


def _mysql_date_add(value: Any, amount: Any, unit: str) -> str | None:
    parsed = _parse_moment(value)
    if parsed is None or amount is None:
        return None
    moment, has_time = parsed
    n = float(amount)
    if unit in ("MONTH", "QUARTER", "YEAR"):
        months = int(n) * {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit]
        total = moment.year * 12 + moment.month - 1 + months
        year, month = divmod(total, 12)
        day = moment.day
        while True:
            try:
                moment = moment.replace(year=year, month=month + 1, day=day)
                break
            except ValueError:
                day -= 1
    else:
        seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}.get(unit)
        if seconds is None:
            return None
        moment += timedelta(seconds=n * seconds)
        has_time = has_time or unit in ("SECOND", "MINUTE", "HOUR")
    return moment.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")


def _mysql_timestampdiff(unit: str, start: Any, end: Any) -> int | None:
    a, b = _parse_moment(start), _parse_moment(end)
    if a is None or b is None:
        return None
    x, y = a[0], b[0]
    if unit in ("MONTH", "QUARTER", "YEAR"):
        months = (y.year - x.year) * 12 + (y.month - x.month)
        if months > 0 and (y.day, y.time()) < (x.day, x.time()):
            months -= 1
        elif months < 0 and (y.day, y.time()) > (x.day, x.time()):
            months += 1
        return int(months / {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit])
    seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}.get(unit)
    return None if seconds is None else int((y - x).total_seconds() / seconds)


def _mysql_part(fmt: str, value: Any) -> int | None:
    parsed = _parse_moment(value)
    return None if parsed is None else int(parsed[0].strftime(fmt))


SQLITE_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "MYSQL_DATE_ADD": (3, _mysql_date_add),
    "MYSQL_TIMESTAMPDIFF": (3, _mysql_timestampdiff),
    "MYSQL_PART": (2, _mysql_part),
    "LEFT": (2, lambda s, n: None if s is None or n is None else str(s)[: max(int(n), 0)]),
    "RIGHT": (2, lambda s, n: None if s is None or n is None else (str(s)[-int(n):] if int(n) > 0 else "")),
    "NOW": (0, lambda: datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
}


# --- SQLite backend ------------------------------------------------------------------------------

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


JOINS_ADVICE = "Check the joins: a missing join condition multiplies the rows."
TABLES_ADVICE = "Your tables hold far more rows than the task needs."


def _timed_out(what: str, timeout: float, advice: str = JOINS_ADVICE) -> QueryTimeout:
    return QueryTimeout(f"{what} ran longer than {timeout:g} s and was stopped. {advice}")


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
def parse_select(text: str, filename: str) -> Statement:
    """parse_learner_sql of one SELECT, remembered: a grade reads the same text for every check and
    instance. The tree is shared: read it, never change it."""
    return parse_learner_sql(text, filename=filename)[0]


@functools.lru_cache(maxsize=256)
def _select_for_sqlite(text: str, filename: str) -> str:
    """A learner's SELECT as SQLite runs it, remembered like parse_select."""
    return _translate(parse_select(text, filename), filename)


def _translate(statement: Statement, filename: str) -> str:
    """The statement as SQLite runs it; raises SqlError when it cannot be translated."""
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


def _fetch(cursor: Any, filename: str, what: str = "your query", trusted: bool = False) -> tuple[tuple[Any, ...], ...]:
    """Every row of the cursor's result, made portable, one row at a time until MAX_ROWS or MAX_RESULT_BYTES."""
    rows: list[tuple[Any, ...]] = []
    size = 0
    for raw in cursor:
        if len(rows) == MAX_ROWS:
            advice = TABLES_ADVICE if trusted else f"The answer has far fewer. {JOINS_ADVICE}"
            raise OverLimit(f"{filename}: {what} returned more than {MAX_ROWS:,} rows, more than the grader "
                            f"reads. {advice}")
        size += sum(len(v) if isinstance(v, (str, bytes, bytearray)) else 8 for v in raw)
        if size > MAX_RESULT_BYTES:
            advice = TABLES_ADVICE if trusted else (
                "The answer is far smaller: select only the columns the question asks for, and check the joins.")
            raise OverLimit(f"{filename}: the result of {what} grew past {MAX_RESULT_BYTES // 1_000_000} MB by row "
                            f"{len(rows) + 1:,}, more than the grader reads. {advice}")
        rows.append(tuple(portable(v) for v in raw))
    return tuple(rows)


class SqliteSession:
    """A private, writable copy of one instance on SQLite (foreign keys enforced)."""

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, timeout: float, protected: Sequence[str]) -> None:
        self.conn = conn
        self.timeout = timeout
        self.protected = tuple(protected)

    def run_script(self, text: str, *, filename: str) -> None:
        """Run learner SQL (several statements) with the exercise's safety rules, all of it within the timeout."""
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
        statement = Statement(text, sqlglot.parse_one(text, read="mysql"))
        with self._checking():
            cursor = self.conn.execute(to_sqlite(statement))
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
                self.conn.execute(to_sqlite(Statement(text, sqlglot.parse_one(text, read="mysql"))))
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


# --- MySQL backend -------------------------------------------------------------------------------

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


# --- the service ---------------------------------------------------------------------------------


@dataclass
class SqlService:
    """The run's SQL backend: `query` runs one learner SELECT, `session` gives a writable copy."""

    url: str | None = None
    name: str = "sql"
    _impl: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._impl = MysqlBackend(self.url) if self.url else SqliteBackend()

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


def make_service(options: ServiceOptions) -> SqlService:
    """The sql service for these options: MySQL when a URL is given, else embedded SQLite."""
    return SqlService(options.mysql_url or None)
