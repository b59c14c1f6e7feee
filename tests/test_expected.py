"""Expected values: computed from solutions/ in the course and recorded; read back in a bundle."""
from __future__ import annotations

import shutil
from pathlib import Path

from grader import catalog, expected
from grader.results import Status
from grader.runner import ServicePool, grade

HIDDEN = '''
import pytest


@pytest.mark.points(4)
def test_double(submission, exercise, expected):
    want = expected.value("double/21", lambda: int((exercise.solution_dir / "answer.txt").read_text()))
    assert submission.double(21) == want, f"double(21) should be {want}"
'''


def course(make_course) -> Path:
    root = make_course(hidden=HIDDEN)
    (root / "solutions/demo/answer.txt").write_text("42")
    return root


def grade_solution(root: Path, folder: Path | None = None):
    (exercise,) = catalog.load_all(root)
    with ServicePool() as pool:
        return grade(exercise, folder or root / "solutions/demo", pool)


def test_computed_from_the_solution_and_recorded(make_course) -> None:
    root = course(make_course)
    with expected.recording() as record:
        result = grade_solution(root)
    assert result.score == 4
    assert record.values == {"demo": {"double/21": 42}}
    assert record.values_for("demo", {"demo/test_demo.py::test_double"}) == {"double/21": 42}
    assert record.values_for("demo", {"demo/test_demo.py::test_other"}) == {}


def test_read_back_in_a_bundle_without_solutions(make_course, tmp_path: Path) -> None:
    root = course(make_course)
    submission = tmp_path / "submission"
    shutil.copytree(root / "solutions/demo", submission)
    shutil.rmtree(root / "solutions")
    expected.write(root, "demo", {"double/21": 42})
    assert grade_solution(root, submission).score == 4
    expected.write(root, "demo", {})  # published without it: the bundle's defect, never the learner's failure
    (test,) = grade_solution(root, submission).tests
    assert test.status is Status.ERROR
    assert "this bundle has no expected value 'double/21' for demo/test_demo.py::test_double" in test.output


def test_neither_solution_nor_published_value(make_course, tmp_path: Path) -> None:
    root = course(make_course)
    submission = tmp_path / "submission"
    shutil.copytree(root / "solutions/demo", submission)
    shutil.rmtree(root / "solutions")
    (test,) = grade_solution(root, submission).tests
    assert test.status is Status.ERROR
    assert "'double/21' is computed from the reference solution" in test.output
    assert "a published bundle reads it from expected/demo.json instead" in test.output


def test_a_kept_value_is_computed_once_per_machine_and_never_read_back_damaged(tmp_path, monkeypatch) -> None:
    from grader import expected
    from grader.expected import _kept

    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(expected, "_KEPT", {})
    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        return {"columns": ["n"], "rows": [[len(calls)]]}

    assert _kept(["reference", "q1.sql"], compute) == {"columns": ["n"], "rows": [[1]]}
    assert _kept(["reference", "q1.sql"], compute) == {"columns": ["n"], "rows": [[1]]}  # kept: not computed again
    assert _kept(["reference", "q2.sql"], compute) == {"columns": ["n"], "rows": [[2]]}  # another key
    (kept,) = [p for p in (tmp_path / "cache").glob("expected-*.json")
               if p.read_bytes() == b'{"columns": ["n"], "rows": [[1]]}']
    kept.write_bytes(b'{"columns": ["n"], "rows": [[99]]}')  # damaged: its digest no longer matches
    assert _kept(["reference", "q1.sql"], compute) == {"columns": ["n"], "rows": [[1]]}  # read once a process
    monkeypatch.setattr(expected, "_KEPT", {})  # another process reads the file again
    assert _kept(["reference", "q1.sql"], compute) == {"columns": ["n"], "rows": [[3]]}
