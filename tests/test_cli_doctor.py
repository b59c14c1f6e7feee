"""`grade doctor`, `grade --version` and `--require-sandbox`: what the sandbox level is, and refusing without it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.sandbox import NAMESPACES, detect


def grade(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`grade` as a process of its own: the sandbox level is decided once per process."""
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def plain_env(course_root: Path) -> dict[str, str]:
    import os

    return {**os.environ, "GRADER_SANDBOX": "process", "GRADER_COURSE_ROOT": str(course_root)}


@pytest.mark.skipif(detect().name != NAMESPACES, reason=detect().reason)
def test_doctor_names_the_level_and_its_limits(course_root: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("sandbox") and "ok  namespaces: bubblewrap" in first
    assert "process cap" in result.output and "course" in result.output


def test_doctor_without_namespaces_says_so_and_exits_1(course_root: Path) -> None:
    done = grade("doctor", env=plain_env(course_root))
    assert done.returncode == 1
    assert "no  process: GRADER_SANDBOX=process asks for no namespaces" in done.stdout


def test_version_has_a_line_for_the_sandbox(course_root: Path) -> None:
    done = grade("--version", env=plain_env(course_root))
    assert done.returncode == 0
    version, sandbox = done.stdout.splitlines()
    assert version.startswith("grade (dataeng-grader) ")
    assert sandbox == "sandbox: process (GRADER_SANDBOX=process asks for no namespaces)"


def test_require_sandbox_refuses_to_grade_without_namespaces(course_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = grade("run", "log_parsing", "--path", "solutions", "--require-sandbox", "--format", "json",
                 "-o", str(output), env=plain_env(course_root))
    assert done.returncode == 3
    assert "refusing to grade: learner code would run without the namespace sandbox" in done.stderr
    assert "grade doctor" in done.stderr
    assert not output.exists()


def test_a_plain_process_grade_says_so(course_root: Path) -> None:
    done = grade("run", "log_parsing", "--path", "solutions", "--format", "json", env=plain_env(course_root))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sandbox"] == "process" and report["exercises"][0]["sandbox"] == "process"
    text = grade("run", "log_parsing", "--path", "solutions", env=plain_env(course_root))
    assert "without the namespace sandbox" in text.stdout


@pytest.mark.skipif(detect().name != NAMESPACES, reason=detect().reason)
def test_a_grade_records_the_namespace_sandbox(course_root: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "log_parsing", "--path", "solutions", "--format", "json",
                                      "--require-sandbox"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["exercises"][0]["sandbox"] == NAMESPACES
