"""A batch's progress as it runs: a rich progress bar on a terminal, one plain line per submission elsewhere."""
from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.batch import Listener, Outcome, Submission, Summary
from grader.gradebook import FAILED, UNGRADED


def _rate(done: int, seconds: float) -> str:
    return f"{done / seconds:.1f}/s" if seconds > 0 and done else "-/s"


class BatchProgress(Listener):
    """Shows a batch on `console`: a live bar when it is a terminal, else a line per finished submission."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.total = 0
        self.done = 0
        self.failed = 0
        self.ungraded = 0
        self.began = time.monotonic()
        self.progress: Progress | None = None
        self.task = None

    def started(self, total: int, skipped: int, workers: int) -> None:
        self.total, self.began = total, time.monotonic()
        if skipped:
            self.console.print(f"{skipped} submission(s) already graded in the gradebook: skipped "
                               "(--regrade grades them again).", highlight=False)
        if not total:
            return
        self.console.print(f"Grading {total} submission(s) on {workers} worker(s).", highlight=False)
        if self.live:
            self.progress = Progress(
                TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("{task.fields[trouble]}"),
                console=self.console, transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("grading", total=total, rate="-/s", trouble="")

    def finished(self, submission: Submission, outcome: Outcome, attempt: int) -> None:
        self.done += 1
        self.failed += outcome.status == FAILED
        self.ungraded += outcome.status == UNGRADED
        result = outcome.result
        if self.progress is not None and self.task is not None:
            trouble = []
            if self.failed:
                trouble.append(f"[red]{self.failed} failed[/]")
            if self.ungraded:
                trouble.append(f"[yellow]{self.ungraded} ungraded[/]")
            self.progress.update(self.task, advance=1, rate=_rate(self.done, time.monotonic() - self.began),
                                 trouble=", ".join(trouble))
            if outcome.status != "graded":
                self.progress.console.print(f"{escape(submission.student)} {submission.exercise}: "
                                            f"{outcome.status}: {escape(outcome.reason)}", highlight=False)
            return
        width = len(str(self.total))
        if outcome.status == "graded":
            what = f"{result.score:g}/{result.max_score:g}"
            if result.error:
                what += f" ({result.error.splitlines()[0]})"
        else:
            what = f"{outcome.status}: {outcome.reason}"
        self.console.print(f"[{self.done:>{width}}/{self.total}] {submission.student} {submission.exercise} "
                           f"{what} ({result.duration:.2f} s)", markup=False, highlight=False)

    def stopped(self, summary: Summary) -> None:
        if self.progress is not None:
            self.progress.stop()
        if summary.interrupted:
            if summary.lost:
                self.console.print(f"Error: {summary.lost}.", highlight=False, markup=False)
            self.console.print(
                f"Stopped: {summary.finished} of {summary.planned - summary.skipped} submission(s) finished and "
                "are in the gradebook; run the same command again to grade the rest.", highlight=False)
            return
        if not summary.finished:
            self.console.print("Nothing to grade.", highlight=False)
            return
        self.console.print(
            f"Graded {summary.graded}, failed {summary.failed}, ungraded {summary.ungraded} in "
            f"{summary.duration:.1f} s ({_rate(summary.finished, summary.duration)}).", highlight=False)
