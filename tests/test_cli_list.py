"""`grade list` and the course root: where the grader looks for a course, and a closed pipe."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_list_in_a_course(course_root: Path) -> None:
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("log_parsing ")


def test_outside_a_course_nothing_falls_back_to_the_grader_s_checkout(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 2
    assert f"no course here: {tmp_path.resolve()} is not inside a folder with exercises/ and tests/" in result.output


def test_course_option_and_subfolders(make_course, tmp_path: Path, monkeypatch) -> None:
    root = make_course()
    monkeypatch.delenv("GRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["list", "--course", str(root)])
    assert result.exit_code == 0 and result.output.startswith("demo")
    monkeypatch.chdir(root / "exercises" / "demo")  # anywhere inside the course
    assert CliRunner().invoke(cli, ["list"]).output.startswith("demo")
    result = CliRunner().invoke(cli, ["list", "--course", str(tmp_path)])
    assert result.exit_code == 2 and "has no exercises/ and tests/hidden/ (or tests/visible/) folders" in result.output


def test_a_closed_pipe_is_not_a_failure() -> None:
    """`grade list | head -1`: the reader went away before grade wrote; no traceback, no 'Error:'."""
    grade = shutil.which("grade", path=str(Path(sys.executable).parent))
    assert grade is not None
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([grade, "list"], stdout=write, stderr=subprocess.PIPE, cwd=ROOT, timeout=60)
    finally:
        os.close(write)
    assert done.stderr == b""
    assert done.returncode == 141  # 128 + SIGPIPE, as any command cut off by `head`
    shell = subprocess.run(f"'{grade}' list | head -1", shell=True, capture_output=True, text=True, cwd=ROOT)
    assert shell.stdout.startswith("log_parsing") and shell.stderr == ""
