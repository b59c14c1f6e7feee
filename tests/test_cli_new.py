"""`grade new`: a scaffolded exercise validates as it is; bad names and taken names are refused."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli


def test_new_then_validate(make_course, in_course) -> None:
    root = make_course()
    in_course(root)
    result = CliRunner().invoke(cli, ["new", "word_counts", "--title", 'Counting "words"'])
    assert result.exit_code == 0, result.output
    assert "wrote tests/hidden/word_counts/test_word_counts.py" in result.output
    assert (root / "solutions/word_counts/word_counts.py").is_file()
    result = CliRunner().invoke(cli, ["validate", "word_counts"])
    assert result.exit_code == 0, result.output
    assert "3/3" in result.output and "0/3" in result.output and "ok" in result.output
    listing = CliRunner().invoke(cli, ["list"]).output
    assert 'word_counts     3 pts  Counting "words"' in listing


def test_new_makes_a_course_where_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "demo", "--course", "."])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["validate", "demo"])
    assert result.exit_code == 0, result.output


def test_new_outside_a_course_says_where_to_go(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "demo"])
    assert result.exit_code == 2
    assert "no course here" in result.output and "--course DIR" in result.output


def test_new_refuses_bad_and_taken_names(make_course, in_course) -> None:
    in_course(make_course())
    result = CliRunner().invoke(cli, ["new", "Word-Counts"])
    assert result.exit_code == 2
    assert "'Word-Counts' cannot be an exercise's name: use lower-case letters, digits and _" in result.output
    result = CliRunner().invoke(cli, ["new", "demo"])
    assert result.exit_code == 2
    assert "exercise 'demo' exists already: exercises/demo, solutions/demo, tests/hidden/demo" in result.output
