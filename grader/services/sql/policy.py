"""What learner SQL may be and what it may cost, on every backend.

The limits on its text and its result, the errors a learner reads, reading and parsing it and
refusing the statements an exercise does not allow, and reading a result a batch at a time up to the
caps. Both backends build on this module; it knows neither.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Limits on learner SQL: the trusted process runs it, so none of it may grow the grader without bound.
MAX_SQL_BYTES = 100_000  # one learner SQL file (a query or a whole script)
MAX_STATEMENTS = 100  # statements of one script
MAX_NESTING = 20  # parentheses nested inside one statement (the parser recurses on them)
MAX_ROWS = 100_000  # rows of one result
MAX_RESULT_BYTES = 16_000_000  # one result: text and blobs by length, any other value as 8 bytes
CHECKING = "Checking your tables"  # where a bounded trusted query on the learner's tables says it failed


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


@functools.lru_cache(maxsize=256)
def parse_select(text: str, filename: str) -> Statement:
    """parse_learner_sql of one SELECT, remembered: a grade reads the same text for every check and
    instance. The tree is shared: read it, never change it."""
    return parse_learner_sql(text, filename=filename)[0]


JOINS_ADVICE = "Check the joins: a missing join condition multiplies the rows."
TABLES_ADVICE = "Your tables hold far more rows than the task needs."


def _timed_out(what: str, timeout: float, advice: str = JOINS_ADVICE) -> QueryTimeout:
    return QueryTimeout(f"{what} ran longer than {timeout:g} s and was stopped. {advice}")


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
