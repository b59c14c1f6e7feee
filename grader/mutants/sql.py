"""SQL mutants of a reference query or script (MySQL dialect), made with sqlglot's expression trees.

Operators follow XData's mutation classes: join type (INNER, LEFT, RIGHT), comparison operators in
WHERE and HAVING (each replaced by every other one), numeric literals off by one, aggregates
(COUNT(*) and COUNT(column), COUNT DISTINCT, SUM against COUNT and AVG, MIN against MAX), a GROUP BY
key dropped or replaced by a name, DISTINCT added or dropped, ORDER BY direction flipped or a
tie-breaker dropped, LIMIT changed, a predicate dropped (a conjunct of WHERE, HAVING or ON); in a
script also a table constraint or a whole statement dropped. A mutant is the script written back by
sqlglot, and so is the solution it is compared with (`normalize`).
"""
from __future__ import annotations

from typing import Callable, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from grader.mutants.base import Change

DIALECT = "mysql"
_COMPARISONS: tuple[type[exp.Expression], ...] = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_AGGREGATE_SWAPS: dict[type[exp.Expression], tuple[type[exp.Expression], ...]] = {
    exp.Sum: (exp.Count, exp.Avg), exp.Avg: (exp.Sum,), exp.Min: (exp.Max,), exp.Max: (exp.Min,),
}

Trees = list[exp.Expression]
Operator = Callable[[Trees], Iterator[tuple[str, Trees]]]


def parse(text: str) -> Trees:
    """The statements of a file, as sqlglot reads MySQL."""
    return [tree for tree in sqlglot.parse(text, read=DIALECT) if tree is not None]


def render(trees: Trees) -> str:
    """Statements written back as MySQL, one after the other."""
    return ";\n\n".join(tree.sql(dialect=DIALECT, pretty=True) for tree in trees) + ";\n"


def normalize(text: str) -> str:
    """The solution as sqlglot writes it: what the mutants are made from and compared with."""
    return render(parse(text))


def check(text: str) -> str | None:
    """Why a mutant's text does not parse as MySQL, or None."""
    try:
        if not parse(text):
            return "no statement"
    except (ParseError, TokenError) as exc:
        return f"does not parse: {str(exc).splitlines()[0]}"
    return None


def _sites(trees: Trees, wanted: Callable[[exp.Expression], bool]) -> Iterator[tuple[int, int, exp.Expression]]:
    """(statement, node index, node) for every node `wanted` accepts, in a stable walk order."""
    for position, tree in enumerate(trees):
        for index, node in enumerate(tree.walk(bfs=True)):
            if wanted(node):
                yield position, index, node


def _mutate(trees: Trees, position: int, index: int, change: Callable[[exp.Expression], str | None]
            ) -> Iterator[tuple[str, Trees]]:
    """The mutant `change` makes of node `index` of a copy of statement `position` (none when it declines)."""
    copies = [tree.copy() for tree in trees]
    target = list(copies[position].walk(bfs=True))[index]
    description = change(target)
    if description is not None:
        yield description, copies


def _clause(node: exp.Expression) -> type[exp.Expression] | None:
    """The clause a node sits in: Where, Having, Join (its ON), Order, Group, Limit, or None."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, (exp.Where, exp.Having, exp.Order, exp.Group, exp.Limit, exp.Join)):
            return type(parent)
        if isinstance(parent, exp.Select):
            return None
        parent = parent.parent
    return None


def _short(node: exp.Expression) -> str:
    text = node.sql(dialect=DIALECT)
    return text if len(text) <= 60 else text[:57] + "..."


def _join_kind(join: exp.Join) -> str:
    return (join.side or "INNER").upper()


def join_type(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """INNER, LEFT and RIGHT joins turned into each other."""
    def wanted(node: exp.Expression) -> bool:
        return (isinstance(node, exp.Join) and node.args.get("on") is not None
                and (node.kind or "INNER").upper() in ("INNER", "OUTER", ""))
    for position, index, node in _sites(trees, wanted):
        for side in ("INNER", "LEFT", "RIGHT"):
            if side == _join_kind(node):
                continue

            def change(join: exp.Expression, side: str = side) -> str:
                old = _join_kind(join)
                join.set("side", None if side == "INNER" else side)
                join.set("kind", None)
                return f"{old} JOIN {_short(join.this)} -> {side} JOIN"
            yield from _mutate(trees, position, index, change)


def comparison(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A comparison of WHERE or HAVING replaced by each other comparison."""
    def wanted(node: exp.Expression) -> bool:
        return isinstance(node, _COMPARISONS) and _clause(node) in (exp.Where, exp.Having)
    for position, index, node in _sites(trees, wanted):
        for kind in _COMPARISONS:
            if isinstance(node, kind):
                continue

            def change(old: exp.Expression, kind: type[exp.Expression] = kind) -> str:
                new = kind(this=old.this.copy(), expression=old.expression.copy())
                shown = f"{_short(old)} -> {_short(new)}"
                old.replace(new)
                return shown
            yield from _mutate(trees, position, index, change)


def literal(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A whole-number literal of WHERE or HAVING off by one."""
    def wanted(node: exp.Expression) -> bool:
        return (isinstance(node, exp.Literal) and not node.is_string and node.this.lstrip("-").isdigit()
                and _clause(node) in (exp.Where, exp.Having))
    for position, index, _ in _sites(trees, wanted):
        for delta in (1, -1):
            def change(old: exp.Expression, delta: int = delta) -> str:
                value = int(old.this)
                old.replace(exp.Literal.number(value + delta))
                return f"{value} -> {value + delta}"
            yield from _mutate(trees, position, index, change)


def _join_columns(select: exp.Expression) -> list[exp.Column]:
    """Columns of the select's join conditions, each once: what COUNT(*) may become."""
    seen, out = set(), []
    for join in select.args.get("joins") or ():
        on = join.args.get("on")
        for column in on.find_all(exp.Column) if on is not None else ():
            key = column.sql()
            if key not in seen:
                seen.add(key)
                out.append(column)
    return out


def aggregate(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """COUNT(*) against COUNT(column), COUNT against COUNT(DISTINCT), SUM against COUNT and AVG, MIN against MAX."""
    def wanted(node: exp.Expression) -> bool:
        return isinstance(node, (exp.Count, *_AGGREGATE_SWAPS))
    for position, index, node in _sites(trees, wanted):
        changes: list[Callable[[exp.Expression], str | None]] = []
        if isinstance(node, exp.Count):
            inner = node.this
            if isinstance(inner, exp.Star):
                select = node.find_ancestor(exp.Select)
                for column in _join_columns(select) if select is not None else ():
                    def to_column(old: exp.Expression, column: exp.Column = column) -> str:
                        old.set("this", column.copy())
                        return f"COUNT(*) -> COUNT({column.sql(dialect=DIALECT)})"
                    changes.append(to_column)
            elif isinstance(inner, exp.Distinct):
                def plain(old: exp.Expression) -> str:
                    shown = _short(old)
                    old.set("this", old.this.expressions[0].copy())
                    return f"{shown} -> {_short(old)}"
                changes.append(plain)
            else:
                def to_star(old: exp.Expression) -> str:
                    shown = _short(old)
                    old.set("this", exp.Star())
                    return f"{shown} -> COUNT(*)"

                def to_distinct(old: exp.Expression) -> str:
                    shown = _short(old)
                    old.set("this", exp.Distinct(expressions=[old.this.copy()]))
                    return f"{shown} -> {_short(old)}"
                changes += [to_star, to_distinct]
        else:
            for kind in _AGGREGATE_SWAPS[type(node)]:
                def swap(old: exp.Expression, kind: type[exp.Expression] = kind) -> str:
                    new = kind(this=old.this.copy())
                    shown = f"{_short(old)} -> {_short(new)}"
                    old.replace(new)
                    return shown
                changes.append(swap)
        for change in changes:
            yield from _mutate(trees, position, index, change)


def group_by(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A GROUP BY key dropped (grouping by the names left), or a lone key replaced by a selected name."""
    for position, index, node in _sites(trees, lambda n: isinstance(n, exp.Group)):
        keys = list(node.expressions)
        if len(keys) > 1:
            for at in range(len(keys)):
                def drop(group: exp.Expression, at: int = at) -> str:
                    gone = group.expressions[at]
                    group.set("expressions", [e for i, e in enumerate(group.expressions) if i != at])
                    return f"GROUP BY without {_short(gone)}"
                yield from _mutate(trees, position, index, drop)
            continue
        select = node.parent
        grouped = {k.sql() for k in keys}
        names = [c for c in (select.expressions if isinstance(select, exp.Select) else ())
                 if isinstance(c.unalias(), exp.Column) and c.unalias().sql() not in grouped]
        for name in names:
            def replace(group: exp.Expression, name: exp.Expression = name) -> str:
                old = _short(group.expressions[0])
                group.set("expressions", [name.unalias().copy()])
                return f"GROUP BY {old} -> GROUP BY {_short(name.unalias())}"
            yield from _mutate(trees, position, index, replace)


def distinct(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """DISTINCT added to a SELECT that has none, or dropped from one that has it."""
    for position, index, _ in _sites(trees, lambda n: isinstance(n, exp.Select)):
        def toggle(select: exp.Expression) -> str:
            if select.args.get("distinct"):
                select.set("distinct", None)
                return "DISTINCT dropped"
            select.set("distinct", exp.Distinct())
            return "DISTINCT added"
        yield from _mutate(trees, position, index, toggle)


def order_by(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """An ORDER BY term's direction flipped; a tie-breaker (any term after the first) or a lone ORDER BY dropped."""
    for position, index, node in _sites(trees, lambda n: isinstance(n, exp.Order)):
        terms = list(node.expressions)
        for at in range(len(terms)):
            def flip(order: exp.Expression, at: int = at) -> str:
                term = order.expressions[at]
                desc = not term.args.get("desc")
                term.set("desc", desc)
                term.set("nulls_first", not desc)  # MySQL's default: NULLs first ascending, last descending
                return f"ORDER BY {_short(term.this)} {'DESC' if desc else 'ASC'}"
            yield from _mutate(trees, position, index, flip)
        for at in range(1, len(terms)):
            def drop(order: exp.Expression, at: int = at) -> str:
                gone = order.expressions[at]
                order.set("expressions", [e for i, e in enumerate(order.expressions) if i != at])
                return f"tie-breaker {_short(gone.this)} dropped from ORDER BY"
            yield from _mutate(trees, position, index, drop)
        if len(terms) == 1:
            def drop_all(order: exp.Expression) -> str:
                order.pop()
                return "ORDER BY dropped"
            yield from _mutate(trees, position, index, drop_all)


def limit(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """LIMIT n changed to n + 1 and n - 1, or dropped."""
    for position, index, node in _sites(trees, lambda n: isinstance(n, exp.Limit)):
        count = node.expression
        if not (isinstance(count, exp.Literal) and count.this.isdigit()):
            continue
        for delta in (1, -1, None):
            def change(old: exp.Expression, delta: int | None = delta) -> str:
                value = int(old.expression.this)
                if delta is None:
                    old.pop()
                    return f"LIMIT {value} dropped"
                old.set("expression", exp.Literal.number(value + delta))
                return f"LIMIT {value} -> LIMIT {value + delta}"
            yield from _mutate(trees, position, index, change)


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def predicate(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A conjunct of WHERE, HAVING or a join's ON dropped (a lone WHERE or HAVING as a whole)."""
    def wanted(node: exp.Expression) -> bool:
        return isinstance(node, (exp.Where, exp.Having)) or (isinstance(node, exp.Join) and node.args.get("on") is not None)
    for position, index, node in _sites(trees, wanted):
        condition = node.args["on"] if isinstance(node, exp.Join) else node.this
        parts = _conjuncts(condition)
        if len(parts) == 1 and isinstance(node, exp.Join):
            continue
        for at in range(len(parts)):
            def drop(old: exp.Expression, at: int = at) -> str:
                if isinstance(old, exp.Join):
                    left = _conjuncts(old.args["on"])
                    gone = left.pop(at)
                    old.set("on", exp.and_(*[p.copy() for p in left]))
                    return f"ON condition {_short(gone)} dropped"
                left = _conjuncts(old.this)
                gone = left.pop(at)
                clause = "WHERE" if isinstance(old, exp.Where) else "HAVING"
                if not left:
                    old.pop()
                else:
                    old.set("this", exp.and_(*[p.copy() for p in left]))
                return f"{clause} condition {_short(gone)} dropped"
            yield from _mutate(trees, position, index, drop)


def constraint(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A table constraint of CREATE TABLE dropped: PRIMARY KEY, UNIQUE, FOREIGN KEY (a column's or the table's)."""
    def wanted(node: exp.Expression) -> bool:
        if isinstance(node, exp.ColumnConstraint):
            return isinstance(node.kind, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint))
        return isinstance(node, (exp.ForeignKey, exp.UniqueColumnConstraint, exp.PrimaryKey)) and isinstance(
            node.parent, exp.Schema)
    for position, index, _ in _sites(trees, wanted):
        def drop(old: exp.Expression) -> str:
            shown = _short(old)
            column = old.find_ancestor(exp.ColumnDef)
            table = old.find_ancestor(exp.Create)
            where = f"{table.this.this.sql(dialect=DIALECT)}" if table is not None else "?"
            if column is not None:
                where += f".{column.name}"
            old.pop()
            return f"{shown} of {where} dropped"
        yield from _mutate(trees, position, index, drop)


def statement(trees: Trees) -> Iterator[tuple[str, Trees]]:
    """A whole statement of a script dropped."""
    if len(trees) < 2:
        return
    for at, tree in enumerate(trees):
        first = tree.sql(dialect=DIALECT, comments=False).split("(")[0].strip()
        yield f"statement {at + 1} dropped ({first[:50]})", [t.copy() for i, t in enumerate(trees) if i != at]


OPERATORS: dict[str, Operator] = {
    "join-type": join_type,
    "comparison": comparison,
    "literal": literal,
    "aggregate": aggregate,
    "group-by": group_by,
    "distinct": distinct,
    "order-by": order_by,
    "limit": limit,
    "predicate": predicate,
    "constraint": constraint,
    "statement": statement,
}


def mutants(text: str) -> Iterator[Change]:
    """Every mutant of a query or script: one change each, written as sqlglot writes MySQL."""
    trees = parse(text)
    seen = {render(trees)}
    for name, operator in OPERATORS.items():
        for description, changed in operator(trees):
            try:
                rendered = render(changed)
            except Exception:  # noqa: BLE001 - a tree sqlglot cannot write is no mutant
                continue
            if rendered in seen:
                continue
            seen.add(rendered)
            yield Change(name, description, rendered)
