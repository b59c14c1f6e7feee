"""`grade status` and the progress file behind it, through click's CliRunner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from tests.conftest import SOLUTION


def grade(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def course(make_course, in_course, monkeypatch) -> Path:
    """The demo course, with its progress in the workspace as a learner has it."""
    root = make_course()
    in_course(root)
    monkeypatch.delenv("GRADER_STATE_DIR")
    return root


def test_status_before_any_grade(course: Path) -> None:
    code, out = grade("status")
    assert code == 0
    assert "demo" in out and "not started" in out and "-/4" in out
    assert out.rstrip().splitlines()[-1] == "Next: read exercises/demo/README.md"


def test_status_reflects_earlier_grades(course: Path) -> None:
    grade("run", "demo")
    rows = json.loads(grade("status", "--format", "json")[1])
    # the untouched stub was graded: nothing of the learner's yet
    assert [(r["slug"], r["state"], r["best"], r["last"], r["runs"]) for r in rows] == [("demo", "not started", 0, 0, 1)]
    (course / "exercises/demo/demo.py").write_text(SOLUTION)
    assert grade("run", "demo")[0] == 0
    (course / "exercises/demo/demo.py").write_text("def double(x):\n    return 2 * x\n\ndef echo(t):\n    return 1\n")
    assert grade("run", "demo")[0] == 1
    (row,) = json.loads(grade("status", "--format", "json")[1])
    assert (row["state"], row["best"], row["last"], row["max_score"], row["runs"]) == ("done", 4, 3, 4, 3)
    code, out = grade("status")
    assert "done" in out and "4/4" in out and "3/4" in out
    assert "every exercise is at full marks" in out.splitlines()[-1]


def test_progress_file_lives_in_the_workspace_and_is_plain_json(course: Path) -> None:
    grade("run", "demo")
    path = course / "exercises/.grade/progress.json"
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["exercises"]["demo"]["runs"] == 1
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".progress.json")]  # no temporary left


def test_a_broken_progress_file_is_set_aside(course: Path) -> None:
    state = course / "exercises/.grade"
    state.mkdir()
    (state / "progress.json").write_text("{not json")
    assert grade("status")[0] == 0
    assert grade("run", "demo")[0] == 1
    assert json.loads((state / "progress.json").read_text())["exercises"]["demo"]["runs"] == 1
    assert (state / "progress.json.broken").read_text() == "{not json"


def test_deleting_the_progress_file_loses_only_history(course: Path) -> None:
    grade("run", "demo")
    (course / "exercises/.grade/progress.json").unlink()
    code, out = grade("status")
    assert code == 0 and "not started" in out


def test_the_reference_solution_is_no_progress(course: Path) -> None:
    assert grade("run", "demo", "--path", "solutions")[0] == 0
    assert not (course / "solutions/.grade").exists()
    assert "not started" in grade("status")[1]


def test_the_loop_through_the_console_script(course: Path) -> None:
    """A learner's session as processes: grade, status, hint, reset, each a real `grade` process."""
    import os
    import subprocess
    import sys

    grade_exe = str(Path(sys.executable).parent / "grade")
    env = {key: value for key, value in os.environ.items() if key != "GRADER_STATE_DIR"}
    env["GRADER_COURSE_ROOT"] = str(course)

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([grade_exe, *args], cwd=course, env=env, capture_output=True, text=True, timeout=120)

    learner = course / "exercises/demo/demo.py"
    stub = learner.read_text()
    done = call("run", "demo")
    assert done.returncode == 1 and "3 checks not started" not in done.stdout  # the hidden check is not folded
    learner.write_text("def double(x):\n    return 2 * x\n\ndef echo(t):\n    return None\n")
    done = call("run", "demo")
    assert done.returncode == 1 and "demo: 3/4 points" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith('Next: fix "echo returns its argument"')
    done = call("status")
    assert done.returncode == 0 and "started" in done.stdout and "3/4" in done.stdout
    done = call("hint", "demo")
    assert done.returncode == 0 and "Hint 1 of 1: Return the text unchanged." in done.stdout
    done = call("reset", "demo")
    assert done.returncode == 0 and "your version is in exercises/demo/demo.py." in done.stdout
    assert learner.read_text() == stub
    done = call("reset", "demo")
    assert done.returncode == 0 and "already the stub" in done.stdout
    learner.write_text(SOLUTION)
    assert call("run", "demo").returncode == 0
    assert '"state": "done"' in call("status", "--format", "json").stdout
