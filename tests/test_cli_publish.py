"""`grade publish`: validates first, refuses what cannot travel, writes the bundles (the bundles in use:
tests/test_publish.py)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli
from tests.conftest import SOLUTION


def publish(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["publish", *args])
    return result.exit_code, result.output


def test_learner_bundle_of_the_demo_course(make_course, in_course, tmp_path: Path) -> None:
    in_course(make_course())
    out = tmp_path / "dist" / "course"
    code, output = publish("learner", str(out))
    assert code == 0, output
    assert f"wrote {out}" in output and f"wrote {out}.zip" in output
    checks = (out / "tests/visible/demo/test_demo.py").read_text(encoding="utf-8")
    assert "def test_double" in checks and "def test_hidden" not in checks
    assert not (out / "solutions").exists() and not (out / "tests/hidden").exists()
    assert (out / ".grader/grader/cli.py").is_file() and 'grade = "grader.cli:main"' in (out / "pyproject.toml").read_text()
    assert "| `demo` | 3 | 1 | Demo |" in (out / "README.md").read_text(encoding="utf-8")
    code, output = publish("learner", str(out))  # an earlier bundle is replaced
    assert code == 0, output


def test_gradescope_zip_of_the_demo_course(make_course, in_course, tmp_path: Path) -> None:
    in_course(make_course())
    code, output = publish("gradescope", str(tmp_path / "autograder.zip"))
    assert code == 0, output
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "tests/hidden/demo/test_demo.py", "pyproject.toml"} <= names
        assert not any(name.startswith("solutions/") for name in names)
        mode = archive.getinfo("run_autograder").external_attr >> 16
        assert mode & 0o111  # executable, as Gradescope wants it
    code, output = publish("gradescope", str(tmp_path / "autograder"))
    assert code == 2 and "Gradescope takes the autograder as a .zip file; name it autograder.zip" in output


def test_a_course_that_does_not_validate_is_not_published(make_course, in_course, tmp_path: Path) -> None:
    in_course(make_course(stub=SOLUTION))
    code, output = publish("learner", str(tmp_path / "out"))
    assert code == 1
    assert "the course does not validate, so nothing was published (see `grade validate`):" in output
    assert "demo: stub passes 'double doubles' (2 points): the stub must score 0" in output
    assert not (tmp_path / "out").exists()


def test_a_check_with_visible_and_hidden_cases_is_refused(make_course, in_course, tmp_path: Path) -> None:
    hidden = ("import pytest\n\n@pytest.mark.parametrize('n', [1, pytest.param(2, marks=pytest.mark.visibility("
              "'hidden'))])\n@pytest.mark.points(2)\ndef test_double(submission, n):\n"
              "    assert submission.double(n) == 2 * n, 'no'\n")
    in_course(make_course(hidden=hidden))
    code, output = publish("classroom", str(tmp_path / "repo"))
    assert code == 1
    assert ("demo: demo/test_demo.py::test_double mixes visible and hidden cases; a check's visibility decides "
            "where its code travels, so split it into a visible and a hidden test") in output


def test_a_folder_that_is_not_a_bundle_is_kept(make_course, in_course, tmp_path: Path) -> None:
    in_course(make_course())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    code, output = publish("learner", str(tmp_path / "mine"))
    assert code == 2 and "is not empty: publish into a new folder (an earlier bundle is replaced)" in output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_classroom_steps_carry_visible_points(make_course, in_course, tmp_path: Path) -> None:
    import yaml

    in_course(make_course())
    code, output = publish("classroom", str(tmp_path / "repo"))
    assert code == 0, output
    workflow = yaml.safe_load((tmp_path / "repo/.github/workflows/classroom.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["run-autograding-tests"]["steps"] if s.get("id") == "demo"]
    assert step["with"] == {"test-name": "demo", "command": "grade run demo --format github --output .grade/demo.md",
                            "timeout": 10, "max-score": 3}
    assert json.loads(json.dumps(workflow))  # plain data, nothing YAML-specific
