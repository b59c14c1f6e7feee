"""The gradebook: immutable attempts, resume, the latest view, and the exports over it."""
from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.gradebook import FAILED, GRADED, UNGRADED, Gradebook, GradebookError, export_csv, export_per_student
from grader.results import Result, Status, TestResult


def result(exercise: str, *passed: bool, version: str = "1.0", error: str = "") -> Result:
    tests = tuple(
        TestResult(name=f"check {i}", status=Status.PASSED if ok else Status.FAILED, score=2.0 if ok else 0.0,
                   max_score=2.0, output="" if ok else f"check {i} wants more", hint="" if ok else "try harder",
                   visibility="hidden" if i == 2 else "visible", execution_time=0.01,
                   hints=() if ok else ("try harder", "read the README's example"))
        for i, ok in enumerate(passed)
    )
    return Result(exercise=exercise, title=exercise.title(), submission="x", backend="python", tests=tests,
                  duration=0.5, version=version, error=error, points=2.0 * len(passed), sandbox="namespaces")


@pytest.fixture
def book(tmp_path: Path) -> Gradebook:
    with Gradebook(tmp_path / "gradebook.db") as opened:
        yield opened


def test_attempts_are_numbered_per_student_and_exercise(book: Gradebook) -> None:
    assert book.record("ann", "logs", GRADED, result("logs", True, False), content_hash="h1") == 1
    assert book.record("ann", "logs", GRADED, result("logs", True, True), content_hash="h2") == 2
    assert book.record("bob", "logs", GRADED, result("logs", False, False), content_hash="h3") == 1
    assert book.record("ann", "sql", GRADED, result("sql", True), content_hash="h4") == 1
    assert [(a.student, a.exercise, a.attempt) for a in book.attempts()] == [
        ("ann", "logs", 1), ("ann", "logs", 2), ("ann", "sql", 1), ("bob", "logs", 1)]


def test_a_result_reads_back_as_it_was_recorded(book: Gradebook) -> None:
    recorded = result("logs", True, False, True)
    book.record("ann", "logs", GRADED, recorded, content_hash="h1", source="ann/logs", worker="tcp://w1")
    (attempt,) = book.attempts()
    assert attempt.result.tests == recorded.tests
    assert (attempt.result.score, attempt.result.max_score) == (4.0, 6.0)
    assert (attempt.result.version, attempt.result.backend, attempt.result.duration) == ("1.0", "python", 0.5)
    assert attempt.result.sandbox == "namespaces"
    assert (attempt.content_hash, attempt.source, attempt.worker) == ("h1", "ann/logs", "tcp://w1")
    assert attempt.graded_at.endswith("+00:00")


def test_done_means_the_same_content_and_version_has_a_result(book: Gradebook) -> None:
    book.record("ann", "logs", GRADED, result("logs", True), content_hash="h1")
    book.record("bob", "logs", FAILED, result("logs"), content_hash="h2", reason="worker died")
    book.record("cat", "logs", UNGRADED, result("logs"), content_hash="h3", reason="mysql went away")
    assert book.done("ann", "logs", "h1", "1.0")
    assert not book.done("ann", "logs", "h1", "2.0"), "a new grader version grades again"
    assert not book.done("ann", "logs", "changed", "1.0"), "changed files are graded again"
    assert not book.done("dan", "logs", "h1", "1.0"), "another student's identical files are theirs to grade"
    assert book.done("bob", "logs", "h2", "1.0"), "a failed grade is a result: not retried without --regrade"
    assert not book.done("cat", "logs", "h3", "1.0"), "an ungraded attempt is graded on the next run"


def test_attempts_cannot_be_changed_or_deleted(book: Gradebook) -> None:
    book.record("ann", "logs", GRADED, result("logs", True), content_hash="h1")
    for statement in ("UPDATE attempts SET score = 100", "DELETE FROM attempts",
                      "UPDATE checks SET status = 'passed'", "DELETE FROM checks"):
        with pytest.raises(sqlite3.DatabaseError, match="immutable|never deleted"):
            book.db.execute(statement)
    assert next(book.attempts()).result.score == 2.0


def test_latest_is_the_newest_result_and_skips_ungraded_attempts(book: Gradebook) -> None:
    book.record("ann", "logs", GRADED, result("logs", False, False), content_hash="h1")
    book.record("ann", "logs", GRADED, result("logs", True, False), content_hash="h2")
    book.record("ann", "logs", UNGRADED, result("logs"), content_hash="h3", reason="mysql went away")
    (latest,) = book.attempts(latest=True)
    assert (latest.attempt, latest.result.score) == (2, 2.0)


def test_export_csv_is_student_by_exercise_with_totals(book: Gradebook) -> None:
    book.record("bob", "logs", GRADED, result("logs", True, True), content_hash="a")
    book.record("ann", "logs", GRADED, result("logs", True, False), content_hash="b")
    book.record("ann", "sql", GRADED, result("sql", True, True, True), content_hash="c")
    book.record("cat", "sql", FAILED, result("sql"), content_hash="d", reason="worker died")
    assert export_csv(book, ["sql", "logs"]) == (
        "student,sql,logs,total,max\n"
        "ann,6,2,8,10\n"
        "bob,,4,4,10\n"
        "cat,0,,0,10\n"
        "(max),6,4,10,10\n"
    )


def test_per_student_exports_use_the_reporters(book: Gradebook, tmp_path: Path) -> None:
    book.record("ann", "logs", GRADED, result("logs", True, False), content_hash="a")
    book.record("ann", "sql", GRADED, result("sql", True), content_hash="b")
    book.record("bob", "logs", GRADED, result("logs", True, True), content_hash="c")
    written = export_per_student(book, "gradescope", tmp_path / "gs")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "gs/ann/results.json", "gs/bob/results.json"]
    ann = json.loads((tmp_path / "gs/ann/results.json").read_text())
    assert ann["score"] == 4.0
    assert [t["name"] for t in ann["tests"]] == ["logs: check 0", "logs: check 1", "sql: check 0"]
    assert ann["tests"][1]["output"] == "```\ncheck 1 wants more\n\nHint: try harder\n```"
    export_per_student(book, "json", tmp_path / "js")
    assert json.loads((tmp_path / "js/bob.json").read_text())["score"] == 4.0
    export_per_student(book, "junit", tmp_path / "ju")
    suites = ET.parse(tmp_path / "ju/ann.xml").getroot()
    assert [s.get("name") for s in suites] == ["logs", "sql"]


def test_student_ids_become_safe_file_names(book: Gradebook, tmp_path: Path) -> None:
    book.record("../evil/ann", "logs", GRADED, result("logs", True), content_hash="a")
    (path,) = export_per_student(book, "json", tmp_path / "out")
    assert path.parent == tmp_path / "out"
    assert path.name == "_evil_ann.json"


def test_a_file_that_is_not_a_gradebook_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE things (x)")
    with pytest.raises(GradebookError, match="not a gradebook"):
        Gradebook(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 100)
    with pytest.raises(GradebookError, match="not a gradebook"):
        Gradebook(text)
    with pytest.raises(GradebookError, match="no gradebook here"):
        Gradebook(tmp_path / "missing.db", create=False)


def test_a_gradebook_reopens_with_its_history(tmp_path: Path) -> None:
    path = tmp_path / "gradebook.db"
    with Gradebook(path) as book:
        book.record("ann", "logs", GRADED, result("logs", True), content_hash="a")
    with Gradebook(path, create=False) as book:
        book.record("ann", "logs", GRADED, result("logs", True), content_hash="a")
        assert [a.attempt for a in book.attempts()] == [1, 2]


def test_what_a_killed_writer_committed_is_kept(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL skips the fsync at each commit: a process that dies (here SIGKILL,
    with the file never closed nor checkpointed) loses nothing it committed."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "gradebook.db"
    writer = (
        "import os, signal, sys\n"
        "from grader.gradebook import GRADED, Gradebook\n"
        "from tests.test_gradebook import result\n"
        f"book = Gradebook({str(path)!r})\n"
        "assert book.db.execute('PRAGMA synchronous').fetchone()[0] == 1  # NORMAL\n"
        "assert book.db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'\n"
        "for i in range(20):\n"
        "    book.record(f's{i}', 'logs', GRADED, result('logs', True, False), content_hash=str(i))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", writer], cwd=Path(__file__).parent.parent, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert (tmp_path / "gradebook.db-wal").exists()  # the commits are in the log, not yet in the file
    with Gradebook(path, create=False) as book:
        attempts = list(book.attempts())
        assert len(attempts) == 20 and [len(a.result.tests) for a in attempts] == [2] * 20
