"""`grade validate` and the catalogue: solutions full marks, stubs zero, files where they belong."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalog
from grader.cli import cli
from grader.errors import CatalogError, UnknownExercise


def validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_log_parsing_validates(course_root: Path) -> None:
    code, out = validate("log_parsing")
    assert code == 0, out
    assert "22/22" in out and "0/22" in out and "ok" in out


def test_demo_course_validates(make_course, in_course) -> None:
    in_course(make_course())
    code, out = validate()
    assert code == 0, out


def test_a_stub_that_passes_is_reported(make_course, in_course) -> None:
    from tests.conftest import SOLUTION

    in_course(make_course(stub=SOLUTION))
    code, out = validate("demo")
    assert code == 1
    assert "stub passes 'double doubles' (2 points): the stub must score 0" in out


def test_a_solution_that_fails_is_reported(make_course, in_course) -> None:
    in_course(make_course(solution="def double(x):\n    return x\n\ndef echo(t):\n    return t\n"))
    code, out = validate("demo")
    assert code == 1
    assert "solution fails 'double doubles': double(21) should be 42" in out


def test_points_must_match_the_hidden_tests(make_course, in_course) -> None:
    in_course(make_course(points=10))
    code, out = validate()
    assert code == 1 and "exercise.toml says points = 10, the hidden tests add up to 4" in out


def test_missing_files_are_named(make_course, in_course) -> None:
    root = make_course()
    (root / "solutions/demo/demo.py").unlink()
    in_course(root)
    code, out = validate()
    assert code == 1 and "solutions/demo/demo.py is listed in exercise.toml but missing" in out


def test_catalog_errors(make_course, tmp_path: Path) -> None:
    root = make_course()
    with pytest.raises(UnknownExercise, match="unknown exercise 'dmeo' \\(did you mean 'demo'\\?\\); known exercises: demo"):
        catalog.select(root, ["dmeo"])
    (root / "exercises/demo/exercise.toml").write_text('title = "x"\npoints = 4\nfiles = ["demo.py"]\nservices = ["sqk"]\n')
    (demo,) = catalog.load_all(root)
    assert demo.error == ("exercises/demo/exercise.toml: unknown service 'sqk', did you mean 'sql'? "
                          "Known services: sql, aws, learner_db.")
    (root / "exercises/demo/exercise.toml").write_text('title = "x\n')
    (demo,) = catalog.load_all(root)
    assert demo.error.startswith("exercises/demo/exercise.toml: ") and demo.points == 0


def test_no_course_found(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GRADER_COURSE_ROOT", str(tmp_path))
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 2 and "has no exercises/ and tests/hidden/ (or tests/visible/) folders" in result.output


def _toml(root: Path, text: str) -> None:
    (root / "exercises/demo/exercise.toml").write_text(text, encoding="utf-8")


DEMO_TOML = 'title = "Demo"\norder = 1\npoints = 4\nfiles = ["demo.py"]\ntimeout = 2\n'


def test_unknown_key_has_a_did_you_mean(make_course, in_course) -> None:
    root = make_course()
    _toml(root, DEMO_TOML + "timout = 5\n")
    in_course(root)
    code, out = validate("demo")
    assert code == 1
    assert ("exercises/demo/exercise.toml: unknown key 'timout', did you mean 'timeout'? Known keys: title, "
            "points, files, summary, order, module, services, timeout, warm_clients, memory_mb, support, config. "
            "Settings of this exercise's own tests go under [config].") in out


def test_config_table_holds_exercise_settings(make_course, in_course) -> None:
    root = make_course()
    _toml(root, DEMO_TOML + "\n[config]\nseed = 7\nanything = 'goes'\n")
    in_course(root)
    assert validate("demo")[0] == 0
    (demo,) = catalog.load_all(root)
    assert demo.config == {"seed": 7, "anything": "goes"}


def test_required_key_missing(make_course, in_course) -> None:
    root = make_course()
    _toml(root, 'title = "Demo"\nfiles = ["demo.py"]\n')
    in_course(root)
    code, out = validate("demo")
    assert code == 1
    assert ("exercises/demo/exercise.toml: 'points' is missing: it must be a number above 0 (the sum of the "
            "hidden tests' points)") in out


def test_mistyped_value(make_course, in_course) -> None:
    root = make_course()
    _toml(root, DEMO_TOML.replace("timeout = 2", 'timeout = "2s"'))
    in_course(root)
    code, out = validate("demo")
    assert code == 1 and "'timeout' must be a number of seconds above 0, not '2s'" in out


def test_module_that_is_not_a_file(make_course, in_course) -> None:
    root = make_course()
    _toml(root, DEMO_TOML + 'module = "dmeo"\n')
    in_course(root)
    code, out = validate("demo")
    assert code == 1
    assert "module 'dmeo' is not one of the files: list dmeo.py in 'files', or name one of demo.py" in out


@pytest.mark.parametrize(("marker", "message"), [
    ("hnit('think twice')", "demo/test_demo.py::test_double: unknown marker @pytest.mark.hnit, did you mean 'hint'?"),
    ("visiblity('hidden')", "demo/test_demo.py::test_double: unknown marker @pytest.mark.visiblity, did you mean "
                            "'visibility'?"),
    ("visibility('hiden')", "demo/test_demo.py::test_double: visibility('hiden') must be one of visible, hidden, "
                            "after_due_date, after_published, did you mean 'hidden'?"),
])
def test_marker_mistakes_are_named(make_course, in_course, marker: str, message: str) -> None:
    hidden = (f"import pytest\n\n@pytest.mark.points(4)\n@pytest.mark.{marker}\n"
              "def test_double(submission):\n    assert submission.double(2) == 4, 'no'\n")
    in_course(make_course(hidden=hidden))
    code, out = validate("demo")
    assert code == 1 and message in out


def test_a_check_must_fail_on_the_stub(make_course, in_course) -> None:
    hidden = ("import pytest\n\n@pytest.mark.points(4)\n@pytest.mark.visibility('hidden')\n"
              "def test_double(submission, workspace):\n"
              "    if (workspace / 'demo.py').read_text().count('NotImplementedError'):\n"
              "        pytest.skip('not written yet')\n"
              "    assert submission.double(2) == 4, 'no'\n")
    in_course(make_course(hidden=hidden))
    code, out = validate("demo")
    assert code == 1
    assert "'double' ends skipped on the stub instead of failing: not written yet" in out


def test_the_solution_must_pass_twice_alike(make_course, in_course, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    hidden = ("import pytest\nfrom pathlib import Path\n\n@pytest.mark.points(4)\n"
              "def test_double(submission):\n"
              f"    path = Path({str(counter)!r})\n"
              "    n = int(path.read_text()) if path.exists() else 0\n"
              "    path.write_text(str(n + 1))\n"
              "    assert submission.double(2) == 4 and n % 3 != 1, f'unlucky run {n}'\n")
    in_course(make_course(hidden=hidden))
    code, out = validate("demo")
    assert code == 1
    assert ("the solution graded twice gave different results in 'double': seed every random choice and "
            "reset every state a check depends on") in out


def test_one_broken_exercise_does_not_stop_the_others(make_course, in_course) -> None:
    root = make_course()
    broken = root / "exercises/broken"
    broken.mkdir()
    (broken / "exercise.toml").write_text('title = "Broken"\norder = 2\npoints = 1\nfiles = ["b.py"]\ntimout = 1\n')
    in_course(root)
    code, out = validate()
    assert code == 1
    assert "│ demo     │ 4/4" in out and "unknown key 'timout'" in out
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("demo       4 pts  Demo")
    assert result.output.splitlines()[1].startswith("broken     - pts  cannot be loaded: exercises/broken/")
    result = CliRunner().invoke(cli, ["run", "all", "--path", "solutions", "--format", "json"])
    assert result.exit_code == 3  # the course's mistake, never the learner's failure
    import json

    report = json.loads(result.stdout)
    demo, broken_result = report["exercises"]
    assert demo["score"] == 4
    assert "this exercise cannot be graded: exercises/broken/exercise.toml: unknown key 'timout'" in broken_result["error"]
