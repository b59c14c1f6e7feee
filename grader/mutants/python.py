"""Python mutants of a reference solution, made on its ast and spliced back into the original text.

Operators (mutmut's list, narrowed to the mistakes of the course's exercises): comparison and boolean
operators, integer and boolean constants off by one, slice bounds, a statement dropped, an early
return, a loop that stops after its first iteration (the first page), a keyword argument dropped
from a boto3 call (keywords spelt in PascalCase, as boto3's are). Each mutant changes one node;
only that node's text is rewritten, so the mutant differs from the solution file in one place.
"""
from __future__ import annotations

import ast
import builtins
import copy
from dataclasses import dataclass
from typing import Callable, Iterator

from grader.mutants.base import Change

_FLIP_COMPARE: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_BUILTINS = frozenset(dir(builtins))
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
           ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}


def normalize(text: str) -> str:
    """The text mutants are made from and compared with: the solution itself."""
    return text


def check(text: str) -> str | None:
    """Why a mutant's text is not a Python module, or None when it compiles."""
    try:
        compile(text, "<mutant>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class _Site:
    """One place to mutate: how to change a copy of the tree, and which node's text to rewrite."""

    operator: str
    index: int  # position of the node in ast.walk order
    change: Callable[[ast.AST], str]  # mutates the node of the copied tree; returns a description
    span: str = "node"  # "node": rewrite this node's text; else how to edit the text (see _edits)
    line: int = 0  # the line shown, when it is not the node's own


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _skipped(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Docstrings, annotations and f-string pieces are never mutated."""
    child = node
    while child in parents:
        parent = parents[child]
        if isinstance(parent, ast.JoinedStr):
            return True
        if isinstance(parent, (ast.arg, ast.AnnAssign)) and child is getattr(parent, "annotation", None):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and child is parent.returns:
            return True
        child = parent
    return False


def _in_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
    return False


def _is_docstring(stmt: ast.stmt, body: list[ast.stmt]) -> bool:
    return (stmt is body[0] and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(stmts: list[ast.stmt], args: ast.arguments) -> set[str]:
    """Names a function has bound after running `stmts` (its arguments included)."""
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _plus(node: ast.expr, delta: int) -> ast.expr:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return ast.Constant(node.value + delta)
    return ast.BinOp(node, ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


def _sites(tree: ast.Module) -> Iterator[_Site]:
    parents = _parents(tree)
    for index, node in enumerate(ast.walk(tree)):
        if _skipped(node, parents):
            continue
        yield from _expression_sites(index, node, parents)
        yield from _statement_sites(index, node, parents)


def _expression_sites(index: int, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[_Site]:
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            for new in _FLIP_COMPARE.get(type(op), ()):
                def change(n: ast.AST, position: int = position, new: type = new) -> str:
                    old = n.ops[position]
                    n.ops[position] = new()
                    return f"`{_SYMBOL[type(old)]}` -> `{_SYMBOL[new]}`"
                yield _Site("comparison", index, change)
    elif isinstance(node, ast.BoolOp):
        def flip(n: ast.AST) -> str:
            old = type(n.op)
            n.op = ast.Or() if old is ast.And else ast.And()
            return f"`{_SYMBOL[old]}` -> `{_SYMBOL[type(n.op)]}`"
        yield _Site("boolean", index, flip)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _Site("boolean", index, lambda n: "`not` dropped", span="unwrap_not")
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        def negate(n: ast.AST) -> str:
            n.value = not n.value
            return f"`{not n.value}` -> `{n.value}`"
        yield _Site("constant", index, negate)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        for delta in (1, -1):
            def shift(n: ast.AST, delta: int = delta) -> str:
                n.value += delta
                return f"`{n.value - delta}` -> `{n.value}`"
            yield _Site("constant", index, shift)
    elif isinstance(node, ast.Slice):
        for bound in ("lower", "upper"):
            if getattr(node, bound) is None:
                continue
            for what in (1, -1, 0):
                def bound_change(n: ast.AST, bound: str = bound, what: int = what) -> str:
                    old = getattr(n, bound)
                    setattr(n, bound, _plus(old, what) if what else None)
                    new = getattr(n, bound)
                    return (f"slice {bound} bound `{ast.unparse(old)}` -> "
                            f"`{ast.unparse(new) if new is not None else '(none)'}`")
                yield _Site("slice", index, bound_change)
    elif isinstance(node, ast.comprehension) and _in_function(node, parents):
        def first_only(n: ast.AST) -> str:
            old = ast.unparse(n.iter)
            n.iter = ast.Subscript(ast.Call(ast.Name("list", ast.Load()), [n.iter], []),
                                   ast.Slice(None, ast.Constant(1)), ast.Load())
            return f"only the first item of `{old}`"
        yield _Site("first-iteration", index, first_only, span="iter", line=node.iter.lineno)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        keywords = node.keywords
        if any(k.arg and k.arg[:1].isupper() for k in keywords):
            for position, keyword in enumerate(keywords):
                if keyword.arg is not None and not keyword.arg[:1].isupper():
                    continue
                def drop(n: ast.AST, position: int = position) -> str:
                    gone = n.keywords.pop(position)
                    shown = f"{gone.arg}=..." if gone.arg else f"**{ast.unparse(gone.value)}"
                    return f"`{shown}` dropped from `{ast.unparse(n.func)}(...)`"
                yield _Site("boto3-argument", index, drop, span=f"keyword:{position}")


def _statement_sites(index: int, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[_Site]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = node.body
        start = 1 if _is_docstring(body[0], body) else 0
        last = body[-1]
        value = last.value if isinstance(last, ast.Return) else None
        stop = len(body) - 1 if isinstance(last, ast.Return) else len(body)  # not before the last return
        for position in range(start + 1, stop):
            if value is not None and not _names(value) <= _bound(body[:position], node.args) | _BUILTINS:
                continue

            def early(n: ast.AST, position: int = position) -> str:
                returned = copy.deepcopy(value)
                n.body.insert(position, ast.Return(returned))
                shown = f"return {ast.unparse(returned)}" if returned is not None else "return"
                return f"`{shown}` before `{_first_line(n.body[position + 1])}`"
            yield _Site("early-return", index, early, span=f"insert:{position}", line=body[position].lineno)
    if isinstance(node, (ast.For, ast.While)) and _in_function(node, parents):
        def once(n: ast.AST) -> str:
            n.body.append(ast.Break())
            return f"the loop `{_first_line(n)}` stops after its first iteration"
        yield _Site("first-iteration", index, once, span="append_break")
    for field in ("body", "orelse", "finalbody"):
        body = getattr(node, field, None)
        if not isinstance(body, list) or not body or not isinstance(body[0], ast.stmt):
            continue
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _in_function(node, parents):
            continue
        for position, stmt in enumerate(body):
            if _is_docstring(stmt, body) and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(stmt, (ast.Pass, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global,
                                 ast.Nonlocal, ast.Import, ast.ImportFrom)):
                continue

            def drop(n: ast.AST, field: str = field, position: int = position) -> str:
                stmts = getattr(n, field)
                gone = stmts[position]
                stmts[position] = ast.Pass()
                return f"`{_first_line(gone)}` dropped"
            yield _Site("statement", index, drop, span=f"stmt:{field}:{position}", line=stmt.lineno)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where `old` stands in `tree`."""
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                value[[id(item) for item in value].index(id(old))] = new
                return


def _first_line(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0]
    return text if len(text) <= 70 else text[:67] + "..."


class _Text:
    """The source as lines, with ast's (line, UTF-8 byte column) positions turned into string offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, col: int) -> int:
        raw = self.lines[line - 1].encode("utf-8")[:col]
        return self.starts[line - 1] + len(raw.decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def indent(self, node: ast.AST) -> str:
        line = self.lines[node.lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def starts_line(self, node: ast.AST) -> bool:
        return not self.lines[node.lineno - 1].encode("utf-8")[: node.col_offset].strip()

    def replace(self, start: int, end: int, new: str) -> str:
        return self.text[:start] + new + self.text[end:]


def _edits(site: _Site, old: ast.AST, new: ast.AST, text: _Text) -> Iterator[str]:
    """Candidate mutant texts for one site, most local first; the caller keeps the first that parses right."""
    kind = site.span
    if kind == "node":
        start, end = text.span(old)
        rendered = ast.unparse(new)
        yield text.replace(start, end, rendered)
        yield text.replace(start, end, f"({rendered})")
    elif kind == "unwrap_not":
        start, end = text.span(old)
        yield text.replace(start, end, f"({ast.unparse(old.operand)})")
    elif kind == "iter":
        start, end = text.span(old.iter)
        yield text.replace(start, end, ast.unparse(new.iter))
    elif kind.startswith("keyword:"):
        position = int(kind.split(":")[1])
        keywords = old.keywords
        keyword = keywords[position]
        arguments = sorted([*old.args, *keywords], key=lambda a: (a.lineno, a.col_offset))
        at = arguments.index(keyword)
        if at + 1 < len(arguments):
            yield text.replace(text.span(keyword)[0], text.span(arguments[at + 1])[0], "")
        if at > 0:
            yield text.replace(text.span(arguments[at - 1])[1], text.span(keyword)[1], "")
    elif kind.startswith("stmt:"):
        _, field, position = kind.split(":")
        stmt = getattr(old, field)[int(position)]
        start, end = text.span(stmt)
        yield text.replace(start, end, "pass")
    elif kind.startswith("insert:"):
        stmt = old.body[int(kind.split(":")[1])]
        if text.starts_line(stmt):
            at = text.starts[stmt.lineno - 1]
            added = new.body[int(kind.split(":")[1])]
            yield text.replace(at, at, f"{text.indent(stmt)}{ast.unparse(added)}\n")
    elif kind == "append_break":
        last = old.body[-1]
        if text.starts_line(last) and last.end_lineno < len(text.lines) + 1:
            at = text.starts[last.end_lineno]
            yield text.replace(at, at, f"{text.indent(last)}break\n")


def mutants(text: str) -> Iterator[Change]:
    """Every mutant of a Python module: one change each, in source order."""
    tree = ast.parse(text)
    source = _Text(text)
    nodes = list(ast.walk(tree))
    seen = {text}
    for site in _sites(tree):
        mutated = copy.deepcopy(tree)
        target = list(ast.walk(mutated))[site.index]
        description = site.change(target)
        if site.span == "unwrap_not":
            _replace(mutated, target, target.operand)
        wanted = ast.dump(mutated)
        old = nodes[site.index]
        line = site.line or getattr(old, "lineno", 0)
        chosen = None
        for candidate in _edits(site, old, target, source):
            try:
                if ast.dump(ast.parse(candidate)) == wanted:
                    chosen = candidate
                    break
            except SyntaxError:
                continue
        if chosen is None:  # no local edit gives the tree: write the whole module from it
            try:
                chosen = ast.unparse(mutated) + "\n"
            except Exception:  # noqa: BLE001 - an AST ast cannot write is no mutant
                continue
        if chosen in seen:
            continue
        seen.add(chosen)
        yield Change(site.operator, f"line {line}: {description}", chosen)
