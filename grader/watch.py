"""`grade watch`: regrade an exercise on every save of one of its learner files, rustlings-style.

It starts on the named exercise or the first one not at full marks, shows the short report after
each grade, and goes on to the next exercise not done when one reaches full marks. One ServicePool
stays up for the whole watch (the moto server, the SQLite databases, the imported hidden-test
fixtures), so a regrade costs the grade itself, not the start of a process and its services.

File changes come from watchfiles (a thread); keys come from a second thread reading the terminal
in cbreak mode (only when standard input is a terminal). Both feed one queue read by the main loop.
"""
from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console

from grader.catalog import Exercise
from grader.progress import DONE, Progress, choose_hint, next_exercise, status_rows
from grader.report import text
from grader.results import Result, Run
from grader.runner import ServicePool, collect, grade
from grader.services import ServiceOptions
from grader.targets import display_path as _label

KEYS = "h hint · r re-run · n next · l list · q quit"


class Watch:
    """The state of one `grade watch`: the exercise in hand, the warm services, the progress."""

    def __init__(self, exercises: list[Exercise], workspace: Path, pool: ServicePool, console: Console,
                 *, start: str | None = None, keys: bool = False) -> None:
        self.exercises = exercises
        self.workspace = Path(workspace).resolve()
        self.pool = pool
        self.console = console
        self.keys = keys
        self.progress = Progress.load(self.workspace)
        by_slug = {e.slug: e for e in exercises}
        self.current: Exercise | None = by_slug[start] if start else next_exercise(exercises, self.progress)
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stop = threading.Event()

    @property
    def learner_dir(self) -> Path:
        assert self.current is not None
        return self.workspace / self.current.slug

    def watched(self, path: str) -> bool:
        """Whether a change of `path` concerns the exercise in hand."""
        if self.current is None:
            return False
        resolved = Path(path).resolve()
        return any(resolved == self.learner_dir / name for name in self.current.files)

    def regrade(self) -> Result:
        """Grade the exercise in hand, save the progress, show the short report."""
        assert self.current is not None
        result = grade(self.current, self.learner_dir, self.pool, label=_label(self.learner_dir), kept=True)
        self.progress = Progress.load(self.workspace)  # a `grade run` meanwhile may have written it
        self.progress.record(result)
        try:
            self.progress.save()
        except OSError as exc:
            self.console.print(f"[yellow]progress not saved: {exc}[/]")
        if self.console.is_terminal:
            self.console.clear()
        text.write(Run(results=(result,), duration=result.duration), self.console)
        self.pool.start_spares()  # the next regrade's worker starts while the learner reads and edits
        return result

    def advance(self) -> bool:
        """Go on to the next exercise not done; False when there is none."""
        following = next_exercise(self.exercises, self.progress,
                                  after=self.current.slug if self.current else None)
        if following is None or (self.current is not None and following.slug == self.current.slug):
            return False
        self.current = following
        return True

    def prompt(self) -> None:
        assert self.current is not None
        names = self.current.files
        files = (f"{_label(self.learner_dir)}/{names[0]}" if len(names) == 1 else
                 f"any of its {len(names)} files in {_label(self.learner_dir)}/")
        keys = f"  [dim]{KEYS}[/]" if self.keys else ""
        self.console.print(f"[bold]Watching {self.current.slug}:[/] save {files} to regrade.{keys}",
                           highlight=False, soft_wrap=True)

    def hint(self) -> None:
        assert self.current is not None
        slug = self.current.slug
        candidates = choose_hint(collect(self.current), self.progress.get(slug))
        if not candidates or not candidates[0].hints:
            self.console.print("No hint for what fails now: its feedback is what there is.")
            return
        check = candidates[0]
        shown = self.progress.reveal(slug, check.name, len(check.hints))
        with contextlib.suppress(OSError):
            self.progress.save()
        self.console.print(text.hint_text(check, shown, slug), highlight=False, markup=False)

    def run(self) -> int:
        """Watch until every exercise is done or the learner quits; the exit code."""
        if self.current is None:
            self.console.print("[bold green]Every exercise is at full marks. Well done.[/]")
            return 0
        threading.Thread(target=self._files, name="grade-watch-files", daemon=True).start()
        with _cbreak() if self.keys else contextlib.nullcontext():  # restored here, by the main thread
            if self.keys:
                # the keys are read from a copy of the terminal's descriptor: while checks run, pytest's
                # capture puts /dev/null on descriptor 0 and an object that refuses reads on sys.stdin
                terminal = os.dup(sys.stdin.fileno())
                threading.Thread(target=self._keys, args=(terminal,), name="grade-watch-keys", daemon=True).start()
            try:
                return self._loop()
            finally:
                self.stop.set()

    def _loop(self) -> int:
        pending = True  # grade the first exercise at once
        while True:
            if pending:
                pending = False
                result = self.regrade()
                if result.passed and result.complete and not result.error:
                    if not self.advance():
                        self.console.print("[bold green]Every exercise is at full marks. Well done.[/]")
                        return 0
                    self.console.print(f"[bold green]{result.exercise} is done.[/] On to {self.current.slug}.")
                    pending = True
                    continue
                self.prompt()
            kind, value = self.events.get()
            if kind == "change":
                pending = any(self.watched(path) for path in value)
            elif kind == "error":
                self.console.print(f"[red]Watching stopped: {value}[/]")
                return 3
            elif value == "q":
                return 0
            elif value == "r":
                pending = True
            elif value == "n":
                if self.advance():
                    pending = True
                else:
                    self.console.print("No other exercise is left to do.")
            elif value == "h":
                self.hint()
            elif value == "l":
                text.write_status(status_rows(self.exercises, self.progress, self.workspace), self.console)

    def _files(self) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(self.workspace, stop_event=self.stop, debounce=400, step=50,
                                            rust_timeout=1000, raise_interrupt=False):
                self.events.put(("change", {path for _, path in changes}))
        except Exception as exc:  # the folder vanished, or the OS refused a watch
            if not self.stop.is_set():
                self.events.put(("error", str(exc)))

    def _keys(self, terminal: int) -> None:
        try:
            while not self.stop.is_set():
                key = os.read(terminal, 1).decode("ascii", "replace")
                if not key:
                    return
                if key.lower() in "hrnlq":
                    self.events.put(("key", key.lower()))
        finally:
            os.close(terminal)


@contextlib.contextmanager
def _cbreak() -> Iterator[None]:
    """The terminal hands over each key as it is typed, without echo; restored afterwards."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def watch(exercises: list[Exercise], workspace: Path, options: ServiceOptions, console: Console,
          *, start: str | None = None) -> int:
    """Run `grade watch`; the exit code (0 when done or quit)."""
    keys = sys.stdin is not None and sys.stdin.isatty()
    with ServicePool(options, spare_workers=True, spares_later=True) as pool:
        try:
            return Watch(exercises, workspace, pool, console, start=start, keys=keys).run()
        except KeyboardInterrupt:
            console.print()
            return 0
