"""Compare a learner's query result with the reference's, on the public and every hidden database.

Columns are compared by position (names are free), row order only where the question asks for one,
duplicates count, numbers are rounded to the question's precision, dates are ISO text. Feedback names
the first difference and shows rows only from the public database.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence

from grader.services.sql import QueryResult, SqlError, SqlInstance, parse_select

SHOWN_ROWS = 5


class SqlRunner(Protocol):
    """What the checker needs of the sql service."""

    backend: str

    def query(self, instance: SqlInstance, text: str, *, timeout: float, filename: str) -> QueryResult: ...

    def reference(self, instance: SqlInstance, text: str, *, filename: str) -> QueryResult: ...


def normalize(value: Any, precision: int) -> Any:
    """A value as the comparison sees it: numbers rounded to `precision` places, booleans as numbers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        rounded = round(value, precision)
        return 0.0 if rounded == 0 else rounded
    return value


def normalize_rows(rows: Iterable[Sequence[Any]], precision: int) -> list[tuple[Any, ...]]:
    """Every row with its values normalized."""
    return [tuple(normalize(v, precision) for v in row) for row in rows]


def _show(rows: Sequence[tuple[Any, ...]], limit: int = SHOWN_ROWS) -> str:
    lines = ["  " + " | ".join("NULL" if v is None else str(v) for v in row) for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more")
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def compare(
    expected: QueryResult, actual: QueryResult, *, ordered: bool, precision: int = 2, show_rows: bool = True
) -> str | None:
    """The first difference between two results, written for a learner, or None when they agree."""
    width, got_width = len(expected.columns), len(actual.columns)
    if width != got_width:
        return (
            f"Your query returns {_plural(got_width, 'column')}; the question asks for {width} "
            f"({', '.join(expected.columns)}, in that order)."
        )
    want = normalize_rows(expected.rows, precision)
    got = normalize_rows(actual.rows, precision)
    want_count, got_count = Counter(want), Counter(got)
    if want_count != got_count:
        missing = _in_order(want, want_count - got_count)
        extra = _in_order(got, got_count - want_count)
        if len(got) == len(want):
            parts = [f"Your query returned the right number of rows ({len(got)}), but not the right rows."]
        else:
            parts = [f"Your query returned {_plural(len(got), 'row')}; the expected result has {len(want)}."]
        where = "" if show_rows else " (rows of hidden databases are not shown)"
        if missing:
            parts.append(f"{_plural(len(missing), 'expected row')} {'is' if len(missing) == 1 else 'are'} missing{where}.")
            if show_rows:
                parts[-1] = parts[-1][:-1] + ":\n" + _show(missing)
        if extra:
            parts.append(f"{_plural(len(extra), 'row')} should not be there{where}.")
            if show_rows:
                parts[-1] = parts[-1][:-1] + ":\n" + _show(extra)
        columns = differing_columns(missing, extra)
        if columns:
            names = ", ".join(f"{i + 1} ({expected.columns[i]})" for i in columns)
            parts.append(f"The rows that should not be there differ from the missing ones only in "
                         f"column{'s' if len(columns) > 1 else ''} {names}.")
        return "\n".join(parts)
    if ordered and want != got:
        index = next(i for i, (a, b) in enumerate(zip(want, got)) if a != b)
        message = (f"The rows are right but in the wrong order: row {index + 1} differs. Check your ORDER BY "
                   "against the question, including how it breaks ties.")
        if show_rows:
            message += f"\nExpected row {index + 1}:\n{_show([want[index]])}\nYour row {index + 1}:\n{_show([got[index]])}"
        return message
    return None


def _in_order(rows: Sequence[tuple[Any, ...]], wanted: Counter[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows counted in `wanted`, in the order they come in `rows` (duplicates as often as counted)."""
    left, out = Counter(wanted), []
    for row in rows:
        if left[row] > 0:
            left[row] -= 1
            out.append(row)
    return out


def differing_columns(missing: Sequence[tuple[Any, ...]], extra: Sequence[tuple[Any, ...]]) -> list[int]:
    """The column positions whose values differ between as many missing as extra rows, when the others agree."""
    if not missing or len(missing) != len(extra) or len(missing[0]) < 2:
        return []
    width = len(missing[0])
    columns = [i for i in range(width) if Counter(r[i] for r in missing) != Counter(r[i] for r in extra)]
    return columns if len(columns) < width else []


def hard_coded(text: str, *, filename: str) -> str | None:
    """A message when the query reads no table or returns only literals, else None."""
    from sqlglot import exp

    tree = parse_select(text, filename).tree
    if not any(True for _ in tree.find_all(exp.Table)):
        return f"{filename}: the query reads no table. Compute the answer from the database, don't type it in."
    selects = [tree] if isinstance(tree, exp.Select) else list(tree.find_all(exp.Select))
    outer = [s for s in selects if s.parent_select is None] or selects
    if all(_literal_only(s) for s in outer):
        return f"{filename}: the query returns only literal values. Select columns of the tables, don't type the answer in."
    return None


def _literal_only(select: Any) -> bool:
    from sqlglot import exp

    for projection in select.expressions:
        if any(True for _ in projection.find_all(exp.Column, exp.Star, exp.AggFunc, exp.Subquery)):
            return False
    return True


_REFERENCE_CACHE: dict[tuple[str, str, str], QueryResult] = {}


def reference_result(sql: SqlRunner, instance: SqlInstance, text: str, *, filename: str) -> QueryResult:
    """The reference query's result on `instance`, computed once per process and backend."""
    key = (sql.backend, instance.key, text)
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = sql.reference(instance, text, filename=filename)
    return _REFERENCE_CACHE[key]


@dataclass(frozen=True)
class QueryCheck:
    """One question: the learner's and the reference's SQL, and how results are compared."""

    filename: str
    ordered: bool
    precision: int = 2


def check_query(
    sql: SqlRunner,
    instances: Sequence[SqlInstance],
    learner_sql: str,
    reference: str | Callable[[SqlInstance], QueryResult],
    question: QueryCheck,
    *,
    timeout: float,
) -> str | None:
    """Grade one question on every instance (public first); the feedback for the first problem, or None.

    `reference` is the reference query's text, or what gives its result on an instance (the `expected`
    fixture's `expected.sql`, which a published bundle reads instead of running the solution)."""
    try:
        flagged = hard_coded(learner_sql, filename=question.filename)
    except SqlError as exc:
        return str(exc)
    if flagged:
        return flagged
    for instance in sorted(instances, key=lambda i: not i.public):
        if callable(reference):
            expected = reference(instance)
        else:
            expected = reference_result(sql, instance, reference, filename=question.filename)
        try:
            actual = sql.query(instance, learner_sql, timeout=timeout, filename=question.filename)
        except SqlError as exc:
            return str(exc) if instance.public else f"On a hidden test database: {exc}"
        problem = compare(expected, actual, ordered=question.ordered, precision=question.precision, show_rows=instance.public)
        if problem:
            if instance.public:
                return f"On the public database: {problem}"
            return (
                "Your query is right on the public database but not on a hidden one, which holds cases the "
                "public one may lack (ties, NULLs, boundary values, rows with no match, a name two rows share)."
                f"\n{problem}"
            )
    return None
