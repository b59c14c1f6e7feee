"""The terminal report: a table per exercise, short by default, and one line saying what to do next.

Short (the default): a passing check is one row; a failing check shows its feedback once (the first
line in the table, the rest below it); checks that fail for the same reason (work not begun, the
same import error) are folded into one row; checks left out by -k or a file target are one row
"not run". Verbose: one row per check and every failing check's feedback in full. Hint texts are
shown only when asked for (`hints=True`); otherwise a line says that hints exist.

The table is as wide as the terminal and wraps feedback between words; on anything that is not a
terminal (a CI log, a file) it is drawn without box characters.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.progress import DONE, NOT_STARTED, STARTED, StatusRow, todo_of
from grader.results import UNSANDBOXED, Result, Run, Status, TestResult

MARKS = {
    Status.PASSED: "[green]pass[/]",
    Status.FAILED: "[red]FAIL[/]",
    Status.ERROR: "[red]ERROR[/]",
    Status.SKIPPED: "[yellow]skipped[/]",
    Status.NOT_RUN: "[dim]not run[/]",
}
TODO = "[yellow]todo[/]"
PLAIN_WIDTH = 120  # the width of reports written where there is no terminal


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _shown(test: TestResult) -> str:
    return "(hidden check)" if test.visibility == "hidden" else test.output


@dataclass
class _Row:
    """One table row: a check, or several folded into one."""

    tests: list[TestResult]
    todo: list[str] = field(default_factory=list)  # what is not begun, for a folded "not started" row

    @property
    def status(self) -> Status:
        return self.tests[0].status

    def label(self) -> str:
        if len(self.tests) == 1:
            return self.tests[0].name
        if self.todo:
            return f"{len(self.tests)} checks not started"
        if self.status is Status.NOT_RUN:
            return f"{len(self.tests)} checks"
        return f"{len(self.tests)} checks failing alike"

    def points(self) -> str:
        score = sum(t.score for t in self.tests)
        most = sum(t.max_score for t in self.tests)
        return f"-/{most:g}" if self.status is Status.NOT_RUN else f"{score:g}/{most:g}"

    def mark(self) -> str:
        return TODO if self.todo else MARKS[self.status]

    def feedback(self) -> str:
        if self.todo:
            return "write " + ", ".join(dict.fromkeys(self.todo))
        if self.status is Status.NOT_RUN:
            return ""
        return _shown(self.tests[0])


def _rows(result: Result, verbose: bool) -> list[_Row]:
    """The rows of an exercise's table: folded unless verbose."""
    if verbose:
        return [_Row([t]) for t in result.tests]
    rows: list[_Row] = []
    todo = _Row([])
    same: dict[str, _Row] = {}
    not_run = _Row([])
    for test in result.tests:
        if test.status is Status.NOT_RUN:
            not_run.tests.append(test)
            continue
        what = todo_of(test) if test.visibility != "hidden" else ""
        if what:
            if not todo.tests:
                rows.append(todo)
            todo.tests.append(test)
            todo.todo.append(what)
            continue
        if test.status in (Status.FAILED, Status.ERROR) and test.visibility != "hidden":
            key = f"{test.status.value}\0{test.output}"
            if key in same:
                same[key].tests.append(test)
                continue
            same[key] = _Row([test])
            rows.append(same[key])
            continue
        rows.append(_Row([test]))
    if len(todo.tests) == 1:
        todo.todo = []  # one check: its own feedback says it all
    if not_run.tests:
        rows.append(not_run)
    return rows


def _folded_title(row: _Row, result: Result) -> str:
    """The heading of a folded row's details: which checks it stands for."""
    graded = [t for t in result.tests if t.status is not Status.NOT_RUN]
    if len(row.tests) == len(graded):
        return f"Every check ({len(row.tests)}) fails with:"
    names = [t.name for t in row.tests]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(names)} checks ({shown}) fail with:"


def _exercise(console: Console, result: Result, verbose: bool, hints: bool) -> None:
    table = Table(title=f"{result.exercise}: {escape(result.title)}", title_justify="left",
                  box=box.HEAVY_HEAD if console.is_terminal else None, show_edge=console.is_terminal,
                  pad_edge=console.is_terminal, expand=False)
    table.add_column("Check", ratio=2, overflow="fold")
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Feedback", ratio=3, overflow="fold")
    details: list[tuple[str, str, tuple[str, ...]]] = []
    hinted = 0
    for row in _rows(result, verbose):
        text = row.feedback()
        table.add_row(escape(row.label()), row.points(), row.mark(), escape(_first_line(text)))
        failed = row.status in (Status.FAILED, Status.ERROR)
        rest = "\n".join(text.strip().splitlines()[1:]).strip()
        single = len(row.tests) == 1
        tiers = row.tests[0].hints if failed and single else ()
        if failed and (rest or (hints and tiers)):
            title = row.label() if single else _folded_title(row, result)
            details.append((title, rest, tiers if hints else ()))
        hinted += bool(tiers)
    if result.tests:
        console.print(table)
    for name, rest, tiers in details:
        console.print(f"[bold]{escape(name)}[/]")
        if rest:
            console.print(escape(rest), highlight=False)
        if tiers:
            console.print(f"[cyan]Hint:[/] {escape(tiers[0])}", highlight=False)
        console.print()
    if hinted and not hints:
        console.print(f"[cyan]Hints exist for {hinted} failing check{'s' if hinted > 1 else ''}:[/] "
                      f"grade hint {result.exercise}")
    if result.error:
        console.print(f"[red]{escape(result.error)}[/]", highlight=False)
    colour = "green" if result.passed else "red"
    sandbox = f"sandbox: {result.sandbox}" if result.sandbox else ""
    about = ", ".join(part for part in (result.backend, f"{result.duration:.2f} s", result.submission, sandbox)
                      if part)
    score = f"{result.score:g}/{result.max_score:g} points"
    if not result.complete:
        score += f", {result.not_run:g} of them not run"
    console.print(f"[{colour}]{result.exercise}: {score}[/] [dim]({escape(about)})[/]")
    if result.held_back > 0:
        console.print(f"{result.held_back:g} more points are checked when you submit.")
    console.print()


def write(run: Run, console: Console, *, verbose: bool = False, hints: bool = False, next_step: str = "") -> None:
    """Print `run` on `console`; `next_step` is the closing line."""
    for result in run.results:
        _exercise(console, result, verbose, hints)
    if len(run.results) > 1:
        colour = "green" if run.passed else "red"
        console.print(f"[bold {colour}]Total: {run.score:g}/{run.max_score:g} points[/]")
    if run.sandbox == "process":
        console.print(f"[yellow]{escape(UNSANDBOXED)}[/]")
    if next_step:
        console.print(f"[bold]{escape(next_step)}[/]", highlight=False, soft_wrap=True)


def console(file: io.TextIOBase | None = None, *, stderr: bool = False) -> Console:
    """A console for reports: the terminal's width on a terminal, else a fixed width and no colour."""
    made = Console(file=file, stderr=stderr, highlight=False)
    if not made.is_terminal:
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else PLAIN_WIDTH
        made = Console(file=file, stderr=stderr, highlight=False, width=width, no_color=True)
    return made


def render(run: Run) -> str:
    """The report as a file keeps it: every check, every feedback in full, the first hint tier."""
    buffer = io.StringIO()
    write(run, Console(file=buffer, width=PLAIN_WIDTH, no_color=True, highlight=False), verbose=True, hints=True)
    return buffer.getvalue()


def write_status(rows: list[StatusRow], console: Console, *, title: str = "grade status") -> None:
    """The table of `grade status`: one row per exercise."""
    table = Table(title=title, title_justify="left", box=box.HEAVY_HEAD if console.is_terminal else None,
                  show_edge=console.is_terminal, pad_edge=console.is_terminal)
    table.add_column("Exercise", overflow="fold")
    table.add_column("Best", justify="right", no_wrap=True)
    table.add_column("Last", justify="right", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Next", overflow="fold")
    colours = {DONE: "green", STARTED: "yellow", NOT_STARTED: "dim"}
    for row in rows:
        entry, points = row.progress, row.exercise.points
        most = entry.max_score or points
        best = f"{entry.best:g}/{most:g}" if entry.runs else f"-/{most:g}"
        last = f"{entry.last:g}/{most:g}" if entry.runs else "-"
        table.add_row(escape(row.exercise.slug), best, last, f"[{colours[entry.state]}]{entry.state}[/]",
                      escape(row.next))
    console.print(table)


class Announcer:
    """Which exercise is being graded, on stderr: a spinner on a terminal, a plain line per exercise
    otherwise (a CI log)."""

    def __init__(self, total: int, console: Console) -> None:
        self.total = total
        self.console = console
        self._status: Any = None

    def __call__(self, index: int, target: Any) -> None:
        message = f"grading {target.exercise.slug} ({index + 1}/{self.total})"
        if not self.console.is_terminal:
            self.console.print(message, highlight=False)
        elif self._status is None:
            self._status = self.console.status(escape(message))
            self._status.start()
        else:
            self._status.update(escape(message))

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def hint_text(check: Any, shown: int, slug: str) -> str:
    """The hint tiers of `check` shown so far, and what comes next."""
    lines = [check.name]
    lines += [f"  Hint {n} of {len(check.hints)}: {text}" for n, text in enumerate(check.hints[:shown], start=1)]
    if shown < len(check.hints):
        lines.append(f"Next: try it, then grade run {slug}; grade hint {slug} again shows a little more.")
    else:
        lines.append(f"That was the last hint for this check. Next: try it, then grade run {slug}")
    return "\n".join(lines)
