"""`grade watch`: a real process regrading after real file writes, and the loop's library parts."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from grader import catalog
from grader.cli import cli
from grader.runner import ServicePool
from grader.watch import Watch
from tests.conftest import SOLUTION

GRADE = str(Path(sys.executable).parent / "grade")
LIMIT = 90  # seconds any one expected line may take on a loaded machine; never a timing assertion


class Process:
    """`grade watch` as the learner starts it, its output read line by line."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "GRADER_COURSE_ROOT": str(root), "COLUMNS": "120"}
        self.proc = subprocess.Popen([GRADE, "watch", *args], cwd=root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} never came; output:\n{''.join(self.seen)}")

    def finish(self) -> int:
        try:
            return self.proc.wait(timeout=LIMIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def add_exercise(root: Path, slug: str, order: int) -> None:
    """A copy of the demo exercise under another slug."""
    for folder in ("exercises", "solutions", "tests/hidden"):
        for source in (root / folder / "demo").iterdir():
            target = root / folder / slug / source.name.replace("test_demo", f"test_{slug}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text().replace("order = 1", f"order = {order}"))


def test_watch_regrades_after_a_file_write_and_moves_on(make_course) -> None:
    root = make_course()
    add_exercise(root, "demo2", 2)
    watch = Process(root)
    try:
        watch.wait_for("demo: 0/4 points")
        watch.wait_for("Watching demo: save exercises/demo/demo.py to regrade.")
        (root / "exercises/demo/demo.py").write_text(SOLUTION)
        watch.wait_for("demo: 4/4 points")
        watch.wait_for("demo is done. On to demo2.")
        watch.wait_for("demo2: 0/4 points")
        watch.wait_for("Watching demo2")
        (root / "exercises/demo/demo.py").write_text("# not the exercise in hand\n")
        (root / "exercises/demo2/demo.py").write_text(SOLUTION)
        watch.wait_for("demo2: 4/4 points")
        watch.wait_for("Every exercise is at full marks")
        assert watch.finish() == 0
    finally:
        watch.finish()
    assert not any("demo: 0/4" in line for line in watch.seen[watch.seen.index(next(
        line for line in watch.seen if "On to demo2" in line)):])  # the write to demo/ graded nothing
    status = CliRunner().invoke(cli, ["status", "--format", "json"], env={"GRADER_COURSE_ROOT": str(root)})
    assert status.exit_code == 0


def test_watch_with_nothing_left_to_do(make_course, in_course) -> None:
    root = make_course(stub=SOLUTION)
    in_course(root)
    assert CliRunner().invoke(cli, ["run", "demo"]).exit_code == 0
    result = CliRunner().invoke(cli, ["watch"])
    assert result.exit_code == 0 and "Every exercise is at full marks" in result.output


def test_watch_unknown_exercise(make_course, in_course) -> None:
    in_course(make_course())
    result = CliRunner().invoke(cli, ["watch", "nonesuch"])
    assert result.exit_code == 2 and "unknown exercise 'nonesuch'" in result.output


def test_regrades_record_progress_and_only_learner_files_count(make_course) -> None:
    root = make_course()
    exercises = catalog.load_all(root)
    with ServicePool() as pool, open(os.devnull, "w") as sink:
        loop = Watch(exercises, root / "exercises", pool, Console(file=sink))
        first, second = loop.regrade(), loop.regrade()
    assert first.score == second.score == 0 and loop.progress.get("demo").runs == 2
    assert loop.watched(str(root / "exercises/demo/demo.py"))
    assert not loop.watched(str(root / "exercises/demo/README.md"))


def test_keys_on_a_terminal(make_course) -> None:
    """With a terminal on stdin: l lists, h hints, q quits, and the terminal gets its settings back."""
    import pty
    import termios

    root = make_course(stub="def double(x):\n    return 2 * x\n\ndef echo(t):\n    return None\n")
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    env = {**os.environ, "GRADER_COURSE_ROOT": str(root), "COLUMNS": "120"}
    proc = subprocess.Popen([GRADE, "watch"], cwd=root, env=env, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    watch = Process.__new__(Process)
    watch.proc, watch.lines, watch.seen = proc, queue.Queue(), []
    threading.Thread(target=watch._read, daemon=True).start()
    try:
        watch.wait_for("h hint · r re-run · n next · l list · q quit")
        os.write(master, b"l")
        watch.wait_for("grade status")
        os.write(master, b"h")
        watch.wait_for("Hint 1 of 1: Return the text unchanged.")
        os.write(master, b"q")
        assert watch.finish() == 0
    finally:
        watch.finish()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert after[3] & (termios.ICANON | termios.ECHO) == before[3] & (termios.ICANON | termios.ECHO)


def test_the_prompt_names_one_file_or_counts_several(course_root: Path) -> None:
    exercises = catalog.load_all(course_root)
    with ServicePool() as pool, open(os.devnull, "w") as sink:
        for slug, expected in (("log_parsing", "save exercises/log_parsing/parse_logs.py to regrade."),
                               ("sql_joins", "save any of its 6 files in exercises/sql_joins/ to regrade.")):
            out = Console(record=True, width=200, file=sink)
            loop = Watch(exercises, course_root / "exercises", pool, out)
            loop.current = next(e for e in exercises if e.slug == slug)
            loop.prompt()
            assert expected in out.export_text(), out.export_text()
