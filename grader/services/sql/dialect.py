"""MySQL on SQLite: learner SQL in MySQL's dialect rendered for SQLite.

sqlglot transpiles; `MySQLOnSQLite` overrides the renderings that would change MySQL's meaning (date
arithmetic, DATEDIFF, TIMESTAMPDIFF, YEAR/MONTH/DAY), which call the Python functions in
functions.SQLITE_FUNCTIONS that every SQLite connection running learner SQL registers.
"""

from __future__ import annotations

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
