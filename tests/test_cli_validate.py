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
    with pytest.raises(UnknownExercise, match="known exercises: demo"):
        catalog.select(root, ["nope"])
    (root / "exercises/demo/exercise.toml").write_text('title = "x"\nfiles = ["demo.py"]\nservices = ["ftp"]\n')
    with pytest.raises(CatalogError, match="unknown service ftp; known: sql, aws"):
        catalog.load_all(root)
    (root / "exercises/demo/exercise.toml").write_text('title = "x\n')
    with pytest.raises(CatalogError, match="exercise.toml"):
        catalog.load_all(root)


def test_no_course_found(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GRADER_COURSE_ROOT", str(tmp_path))
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 2 and "has no exercises/ and tests/hidden/ folders" in result.output
