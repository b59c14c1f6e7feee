"""MySQL on SQLite: learner SQL in MySQL's dialect rendered for SQLite, and the functions SQLite lacks.

sqlglot transpiles; `MySQLOnSQLite` overrides the renderings that would change MySQL's meaning (date
arithmetic, DATEDIFF, TIMESTAMPDIFF, YEAR/MONTH/DAY), which call the Python functions in
SQLITE_FUNCTIONS that every SQLite connection running learner SQL registers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from grader.services.sql.policy import Statement

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
