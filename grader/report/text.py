"""The terminal report: a table per exercise (check, points, result, feedback), details, totals."""
from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.results import Result, Run, Status

MARKS = {
    Status.PASSED: "[green]pass[/]",
    Status.FAILED: "[red]FAIL[/]",
    Status.ERROR: "[red]ERROR[/]",
    Status.SKIPPED: "[yellow]skipped[/]",
}
SHORT = 90


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= SHORT else line[: SHORT - 3] + "..."


def _shown(text: str, visibility: str) -> str:
    return "(hidden check)" if visibility == "hidden" else text


def _exercise(console: Console, result: Result) -> None:
    table = Table(title=f"{result.exercise}: {escape(result.title)}", title_justify="left",
                  show_lines=False, expand=False)
    table.add_column("Check")
    table.add_column("Points", justify="right")
    table.add_column("Result")
    table.add_column("Feedback", overflow="fold")
    details: list[tuple[str, str, str]] = []
    for test in result.tests:
        text = _shown(test.output, test.visibility)
        table.add_row(escape(test.name), f"{test.score:g}/{test.max_score:g}", MARKS[test.status],
                      escape(_first_line(text)))
        if test.status is not Status.PASSED and (text.strip() != _first_line(text) or test.hint):
            details.append((test.name, text, test.hint))
    if result.tests:
        console.print(table)
    for name, text, hint in details:
        console.print(f"[bold]{escape(name)}[/]")
        if text.strip():
            console.print(escape(text.rstrip()), highlight=False)
        if hint:
            console.print(f"[cyan]Hint:[/] {escape(hint)}", highlight=False)
        console.print()
    if result.error:
        console.print(f"[red]{escape(result.error)}[/]", highlight=False)
    colour = "green" if result.passed else "red"
    about = ", ".join(part for part in (result.backend, f"{result.duration:.2f} s", result.submission) if part)
    console.print(f"[{colour}]{result.exercise}: {result.score:g}/{result.max_score:g} points[/] "
                  f"[dim]({escape(about)})[/]\n")


def write(run: Run, console: Console) -> None:
    """Print `run` on `console`."""
    for result in run.results:
        _exercise(console, result)
    if len(run.results) > 1:
        colour = "green" if run.passed else "red"
        console.print(f"[bold {colour}]Total: {run.score:g}/{run.max_score:g} points[/]")


def render(run: Run) -> str:
    buffer = io.StringIO()
    write(run, Console(file=buffer, width=120, no_color=True, highlight=False))
    return buffer.getvalue()
