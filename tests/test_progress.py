"""grader.progress: the learner's history, merged from partial grades, written atomically."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.progress import DONE, NOT_STARTED, STARTED, Progress, write_atomic
from grader.results import Result, Status, TestResult


def result(*tests: TestResult) -> Result:
    return Result(exercise="demo", title="Demo", submission="exercises/demo", backend="python", tests=tests)


def test_partial_grades_update_only_what_they_graded(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    progress.record(result(TestResult("a", Status.FAILED, 0, 2), TestResult("b", Status.PASSED, 3, 3)))
    assert progress.get("demo").state == STARTED and progress.get("demo").last == 3
    progress.record(result(TestResult("a", Status.PASSED, 2, 2), TestResult("b", Status.NOT_RUN, 0, 3)))
    entry = progress.get("demo")
    assert entry.checks["b"]["status"] == "passed"  # not run keeps the last verdict
    assert (entry.last, entry.best, entry.max_score, entry.state) == (5, 5, 5, DONE)
    assert progress.get("other").state == NOT_STARTED


def test_a_graded_stub_is_not_started_until_a_check_sees_the_learners_work(tmp_path: Path) -> None:
    todo = TestResult("a", Status.FAILED, 0, 2, output="parse_line('x') raised NotImplementedError: parse_line")
    progress = Progress.load(tmp_path)
    progress.record(result(todo, TestResult("b", Status.FAILED, 0, 3, output="q1.sql has no query yet: write it")))
    assert (progress.get("demo").runs, progress.get("demo").state) == (1, NOT_STARTED)
    progress.record(result(todo, TestResult("b", Status.FAILED, 0, 3, output="expected 3 rows, got 2")))
    assert progress.get("demo").state == STARTED
    progress.record(result(todo, TestResult("b", Status.FAILED, 0, 3, output="q1.sql has no query yet: write it")))
    assert progress.get("demo").state == STARTED  # begun once, begun for good
    progress.save()
    data = json.loads(progress.path.read_text())
    del data["exercises"]["demo"]["begun"]  # a file written before the field existed
    progress.path.write_text(json.dumps(data))
    assert Progress.load(tmp_path).get("demo").state == STARTED


def test_errors_and_ungraded_runs_are_not_history(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    progress.record(Result(exercise="demo", title="Demo", submission="", backend="", ungraded=True, error="x"))
    assert progress.get("demo").runs == 0


def test_save_is_atomic_and_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_STATE_DIR", str(tmp_path / "state"))
    progress = Progress.load(tmp_path)
    progress.record(result(TestResult("a", Status.PASSED, 2, 2)))
    progress.reveal("demo", "a", 3)
    progress.save()
    again = Progress.load(tmp_path)
    assert again.get("demo").best == 2 and again.get("demo").hints_shown == {"a": 1}

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    again.record(result(TestResult("a", Status.FAILED, 0, 2)))
    with pytest.raises(OSError):
        again.save()
    assert json.loads((tmp_path / "state/progress.json").read_text())["exercises"]["demo"]["last"] == 2
    assert os.listdir(tmp_path / "state") == ["progress.json"]  # the temporary file is gone


def test_write_atomic_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "crud.py"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640


def test_points_held_back_for_the_autograder_are_said_in_status(tmp_path: Path) -> None:
    """A learner bundle holds only the visible checks: done here, and the rest is checked on submission."""
    from grader.catalog import Exercise
    from grader.progress import status_rows

    progress = Progress(tmp_path / "progress.json")
    progress.record(Result(exercise="demo", title="Demo", submission="exercises/demo", backend="python",
                           tests=(TestResult("a", Status.PASSED, 11, 11),), points=20, held_back=9))
    entry = progress.get("demo")
    assert (entry.best, entry.max_score, entry.held_back, entry.state) == (11, 11, 9, DONE)
    exercise = Exercise(slug="demo", title="Demo", summary="", order=1, points=20, files=("demo.py",),
                        module="demo", services=(), timeout=5, root=tmp_path)
    (row,) = status_rows([exercise], progress, tmp_path)
    assert row.next == "9 more points are checked when you submit"
