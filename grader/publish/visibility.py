"""Where each check travels: a visible check ships to learners, every other one stays with the autograder.

A hidden test module is split by rewriting its source: the functions (or classes) whose checks are all
hidden are cut out with their decorators, and so are the module's helpers, fixtures and constants that
nothing left refers to any more. A function whose cases differ (a parametrized test with hidden and
visible cases) cannot be split and is refused: make it two tests.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from typing import Iterable

from grader.errors import PublishError
from grader.results import TestResult

#: the one visibility whose checks ship to learners and run in their `grade run`
TRAVELS = "visible"


def travels(visibility: str) -> bool:
    """Whether a check of this visibility ships to learners."""
    return visibility == TRAVELS


def location(nodeid: str) -> tuple[str, str]:
    """(file relative to the tests folder, dotted name of the function) of a check's pytest id."""
    path, *names = nodeid.split("::")
    names[-1] = names[-1].split("[", 1)[0]
    return path, ".".join(names)


def plan_files(slug: str, tests: Iterable[TestResult]) -> dict[str, dict[str, bool]]:
    """file -> function -> whether it ships, for every check of one exercise; mixed functions refused."""
    seen: dict[str, dict[str, set[bool]]] = defaultdict(lambda: defaultdict(set))
    for test in tests:
        path, name = location(test.nodeid)
        seen[path][name].add(travels(test.visibility))
    mixed = [f"{path}::{name}" for path, names in seen.items() for name, kinds in names.items() if len(kinds) > 1]
    if mixed:
        raise PublishError(f"{slug}: {', '.join(mixed)} mixes visible and hidden cases; a check's visibility "
                           "decides where its code travels, so split it into a visible and a hidden test")
    return {path: {name: kinds.pop() for name, kinds in names.items()} for path, names in seen.items()}


def _span(node: ast.stmt) -> tuple[int, int]:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    return first, node.end_lineno or node.lineno


def _cut(lines: list[str], spans: list[tuple[int, int]]) -> list[str]:
    drop = {n for first, last in spans for n in range(first, last + 1)}
    kept = [line for n, line in enumerate(lines, start=1) if n not in drop]
    out: list[str] = []
    for line in kept:  # no run of more than two blank lines where something was cut
        if not line.strip() and len(out) >= 2 and not out[-1].strip() and not out[-2].strip():
            continue
        out.append(line)
    return out


def _used_names(tree: ast.Module, skip: ast.stmt | None = None) -> set[str]:
    """Every name the module refers to (loads, attribute roots, argument names that request fixtures)."""
    used: set[str] = set()
    nodes = (node for top in tree.body if top is not skip for node in ast.walk(top))
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            used.add(node.id)
        elif isinstance(node, ast.arg):
            used.add(node.arg)  # a test's or fixture's argument names the fixture it uses
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            used.add(node.value)  # usefixtures("name"), __all__, getattr(module, "name")
    return used


def _defined(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(isinstance(t, ast.Name) for t in targets):
            return [t.id for t in targets]  # type: ignore[attr-defined]
    return []


def _autouse(node: ast.stmt) -> bool:
    return any(isinstance(d, ast.Call) and any(k.arg == "autouse" for k in d.keywords)
               for d in getattr(node, "decorator_list", ()))


def strip(source: str, functions: dict[str, bool]) -> str | None:
    """`source` without the checks that do not ship (`functions`: dotted name -> ships) and without what
    only they used; None when no check is left in it."""
    if all(functions.values()):
        return source
    if not any(functions.values()):
        return None
    tree = ast.parse(source)
    spans = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and functions.get(node.name) is False:
            spans.append(_span(node))
        elif isinstance(node, ast.ClassDef):
            inner = {k.split(".", 1)[1]: v for k, v in functions.items() if k.startswith(node.name + ".")}
            if inner and not any(inner.values()):
                spans.append(_span(node))
            else:
                spans += [_span(n) for n in node.body
                          if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and inner.get(n.name) is False]
    lines = _cut(source.splitlines(), spans)
    while True:  # then what nothing left refers to: helpers, fixtures and constants of hidden checks only
        text = "\n".join(lines) + "\n"
        tree = ast.parse(text)
        unused = [node for node in tree.body
                  if _defined(node) and not node_is_check(node, functions) and not _autouse(node)
                  and not set(_defined(node)) & _used_names(tree, skip=node)]
        if not unused:
            return text
        lines = _cut(lines, [_span(node) for node in unused])


def node_is_check(node: ast.stmt, functions: dict[str, bool]) -> bool:
    """A function or class that holds checks of this module (kept or cut by name, never as unused)."""
    name = getattr(node, "name", None)
    return name is not None and (name in functions or any(k.startswith(name + ".") for k in functions))
