"""`grade reset`: the stub comes back and the learner's version is kept as a timestamped backup."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli

STUB = "def double(x):\n    raise NotImplementedError\n\n\ndef echo(t):\n    raise NotImplementedError\n"
MINE = "def double(x):\n    return x * 2  # my work\n"


def grade(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("demo.py.*.bak"))


def test_reset_from_the_course_stub_keeps_a_backup(make_course, in_course, tmp_path: Path) -> None:
    """Working in a folder of one's own (--path): the stub is the course's."""
    in_course(make_course())
    work = tmp_path / "work/demo"
    work.mkdir(parents=True)
    (work / "demo.py").write_text(MINE)
    code, out = grade("reset", "demo", "--path", str(tmp_path / "work"))
    assert code == 0, out
    assert (work / "demo.py").read_text() == STUB
    (backup,) = backups(work)
    assert backup.read_text() == MINE
    assert f"your version is in {backup}" in out and out.rstrip().endswith("Next: grade run demo")


def test_reset_from_the_copy_kept_at_the_first_grade(make_course, in_course) -> None:
    root = make_course()
    in_course(root)
    grade("run", "demo")  # grade keeps the stub as it first sees it
    learner = root / "exercises/demo/demo.py"
    learner.write_text(MINE)
    code, out = grade("reset", "demo", "demo.py")
    assert code == 0 and "the copy kept when grade first saw it" in out
    assert learner.read_text() == STUB and backups(learner.parent)[0].read_text() == MINE
    code, out = grade("reset", "demo")  # already the stub: nothing to back up
    assert code == 0 and len(backups(learner.parent)) == 1


def test_reset_from_git(make_course, in_course) -> None:
    root = make_course()
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    learner = root / "exercises/demo/demo.py"
    learner.write_text(MINE)
    subprocess.run([*git, "commit", "-qam", "my work"], check=True)  # a learner who commits: the stub is the first version
    in_course(root)
    code, out = grade("reset", "demo")
    assert code == 0 and "its first version in git" in out
    assert learner.read_text() == STUB and backups(learner.parent)[0].read_text() == MINE


def test_no_original_known_changes_nothing(make_course, in_course) -> None:
    root = make_course()
    in_course(root)
    learner = root / "exercises/demo/demo.py"
    learner.write_text(MINE)
    code, out = grade("reset", "demo")
    assert code == 2 and "no original of demo/demo.py is known" in out
    assert learner.read_text() == MINE and not backups(learner.parent)


def test_unknown_file(make_course, in_course) -> None:
    in_course(make_course())
    code, out = grade("reset", "demo", "other.py")
    assert code == 2 and "other.py is not a file of demo; its files are demo.py" in out
