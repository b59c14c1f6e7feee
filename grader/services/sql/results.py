"""Results, errors and limits of SQL on every backend, with no SQL parser: what a backend that runs
only the grader's own queries (learner_db) needs. Parsing and refusing learner SQL is policy.py's,
which loads sqlglot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

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


_COMMENT = re.compile(r"--[^\n]*|#[^\n]*|/\*.*?\*/", re.S)


def _describe(piece: str) -> str:
    words = _COMMENT.sub("", piece).split()
    return " ".join(words[:2]).upper() if words else "an empty statement"


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
