"""`grade run`: exit codes, formats and messages, through click's CliRunner and a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_solution_gets_full_marks(course_root: Path) -> None:
    code, out = run("run", "log_parsing", "--path", "solutions", "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["score"] == report["max_score"] == 22
    (exercise,) = report["exercises"]
    assert exercise["exercise"] == "log_parsing"
    assert all(t["status"] == "passed" for t in exercise["tests"])
    assert {"name", "status", "score", "max_score", "output", "visibility"} <= set(exercise["tests"][0])


def test_stub_scores_zero_with_feedback(course_root: Path) -> None:
    code, out = run("run", "log_parsing")
    assert code == 1
    assert "0/22 points" in out
    assert "NotImplementedError: parse_line is not written yet" in out
    assert "Traceback" in out and "_worker.py" not in out


def test_gradescope_format(course_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    code, _ = run("run", "log_parsing", "--path", "solutions", "--format", "gradescope", "-o", str(target))
    assert code == 0
    document = json.loads(target.read_text())
    assert document["score"] == 22 and isinstance(document["execution_time"], int)
    assert isinstance(document["output"], str)
    for test in document["tests"]:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


def test_junit_format(course_root: Path) -> None:
    code, out = run("run", "log_parsing", "--format", "junit")
    assert code == 1
    root = ET.fromstring(out.split("\n", 1)[1])
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "log_parsing"
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests")) == int(suite.get("failures")) == 9
    assert "NotImplementedError" in cases[0].find("failure").text


def test_unknown_exercise_is_a_usage_error(course_root: Path) -> None:
    code, out = run("run", "no_such_exercise")
    assert code == 2
    assert "unknown exercise 'no_such_exercise'; known exercises: " in out and "log_parsing" in out


def test_bad_format_is_a_usage_error(course_root: Path) -> None:
    code, out = run("run", "log_parsing", "--format", "yaml")
    assert code == 2 and "yaml" in out


SOLUTION = (Path(__file__).parent.parent / "solutions/log_parsing/parse_logs.py").read_text()

BROKEN = {
    "syntax": ("def parse_line(line)\n    return None\n", "SyntaxError"),
    "import_raises": ("raise ImportError('no module named pandass')\n", "ImportError: no module named pandass"),
    "sys_exit": ("import sys\nsys.exit(1)\n", "called sys.exit(1) while being imported"),
    "os_exit": ("import os\nos._exit(9)\n", "exited with code 9"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_submissions_fail_every_check_with_the_reason(
        course_root: Path, tmp_path: Path, case: str) -> None:
    source, reason = BROKEN[case]
    (tmp_path / "log_parsing").mkdir()
    (tmp_path / "log_parsing" / "parse_logs.py").write_text(source)
    code, out = run("run", "log_parsing", "--path", str(tmp_path), "--format", "json")
    assert code == 1
    tests = json.loads(out)["exercises"][0]["tests"]
    assert len(tests) == 9 and all(t["status"] == "failed" for t in tests)
    assert all(reason in t["output"] for t in tests), tests[0]["output"]


def test_one_bad_function_costs_only_its_checks(course_root: Path, tmp_path: Path) -> None:
    """A function that loops forever and one that hogs memory; the rest still earn their points."""
    source = SOLUTION + (
        "\n\ndef failures_per_user(records):\n    while True:\n        pass\n"
        "\n\ndef filter_by_level(records, min_level):\n    hog = []\n    while True:\n"
        "        hog.append(bytearray(10**8))\n"
    )
    (tmp_path / "log_parsing").mkdir()
    (tmp_path / "log_parsing" / "parse_logs.py").write_text(source)
    code, out = run("run", "log_parsing", "--path", str(tmp_path), "--format", "json")
    assert code == 1
    report = json.loads(out)
    tests = {t["name"].split()[0]: t for t in report["exercises"][0]["tests"]}
    assert "timed out after 5 s" in tests["failures_per_user"]["output"]
    assert "MemoryError" in tests["filter_by_level"]["output"]
    assert report["score"] == 22 - 2 - 2


def test_real_subprocess_exit_codes(course_root: Path) -> None:
    """The installed console script, as CI calls it."""
    grade = Path(sys.executable).parent / "grade"
    done = subprocess.run([str(grade), "run", "log_parsing", "--path", "solutions"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "log_parsing: 22/22 points" in done.stdout
    done = subprocess.run([str(grade), "run", "log_parsing"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1


def test_list_json(course_root: Path) -> None:
    code, out = run("list", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {"slug": "log_parsing", "title": "Parsing application logs", "max_score": 22} .items() <= rows[0].items()
    assert [r["slug"] for r in rows][0] == "log_parsing"
    orders = [r["order"] for r in rows]
    assert orders == sorted(orders)


def test_a_grader_defect_exits_3_not_1(course_root: Path, monkeypatch) -> None:
    """A CI maintainer must tell "the submission failed" (1) from "the grader broke" (3)."""
    import grader.runner

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(grader.runner, "grade_many", broken)
    result = CliRunner().invoke(cli, ["run", "log_parsing"])
    assert result.exit_code == 3
    assert "the grader failed: RuntimeError: disk full (run with --debug for the traceback)" in result.output


def _without_times(report: dict) -> dict:
    for exercise in report["exercises"]:
        exercise["duration"] = 0
        for test in exercise["tests"]:
            test["execution_time"] = 0
    report["duration"] = 0
    return report


def test_the_same_submission_gives_the_same_report_twice(course_root: Path) -> None:
    """Each run gets a new moto server on a new port, with new ids: the feedback must not change."""
    first = _without_times(json.loads(run("run", "queue_vs_stream", "--format", "json")[1]))
    second = _without_times(json.loads(run("run", "queue_vs_stream", "--format", "json")[1]))
    assert first == second
    assert "$AWS_ENDPOINT_URL" in json.dumps(first)
