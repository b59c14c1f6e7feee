"""What learner SQL may be, on every backend: splitting and parsing it (sqlglot) and refusing the
statements an exercise does not allow, with the parser's complaint shown where it is.

The limits on its text and its result, the errors a learner reads and reading a result up to the
caps are results.py's (re-exported here), which a backend of trusted queries only loads without the
parser. Both backends build on this module; it knows neither.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from grader.services.sql.results import (  # re-exported: policy speaks of them too
    CHECKING, JOINS_ADVICE, MAX_NESTING, MAX_RESULT_BYTES, MAX_ROWS, MAX_SQL_BYTES, MAX_STATEMENTS, TABLES_ADVICE,
    EmptyQuery, NotAllowed, OverLimit, QueryFailed, QueryResult, QueryTimeout, SqlError, SqlInstance,
    UnsupportedFunction, _COMMENT, _describe, _fetch, _timed_out, portable, read_learner_sql,
)

logging.getLogger("sqlglot").setLevel(logging.ERROR)

FORBIDDEN_WORDS = ("ATTACH", "DETACH", "PRAGMA", "LOAD", "HANDLER", "LOCK", "UNLOCK", "GRANT", "REVOKE", "SET", "USE", "CALL")
FORBIDDEN_FUNCTIONS = {"LOAD_FILE", "LOAD_EXTENSION", "SLEEP", "BENCHMARK", "GET_LOCK", "SYS_EXEC", "READFILE", "WRITEFILE"}
READ_KINDS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
ALTER = getattr(exp, "Alter", None) or getattr(exp, "AlterTable")  # sqlglot before 25.11 named it AlterTable
WRITE_KINDS = (exp.Create, exp.Insert, ALTER, exp.Drop, exp.Update, exp.Delete, *READ_KINDS)


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


@functools.lru_cache(maxsize=256)
def parse_select(text: str, filename: str) -> Statement:
    """parse_learner_sql of one SELECT, remembered: a grade reads the same text for every check and
    instance. The tree is shared: read it, never change it."""
    return parse_learner_sql(text, filename=filename)[0]
