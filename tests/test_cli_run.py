"""`grade run`: exit codes, formats and messages, through click's CliRunner and a real subprocess."""
from __future__ import annotations

import json
import os
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
    code, out = run("run", "log_parsing", "-v")
    assert code == 1
    assert "0/22 points" in out
    assert "NotImplementedError: parse_line is not written yet" in out
    assert "Traceback" in out and "worker.py" not in out


def test_gradescope_format(course_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    code, _ = run("run", "log_parsing", "--path", "solutions", "--format", "gradescope", "-o", str(target))
    assert code == 0
    document = json.loads(target.read_text())
    assert document["score"] == 22 and isinstance(document["execution_time"], int)
    assert isinstance(document["output"], str)
    for test in document["tests"]:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}
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


_EXIT_PROBE = """
import atexit, os, pathlib, sys
atexit.register(lambda: pathlib.Path(os.environ["MARKER"]).write_text("torn down"))
from grader.cli import main
sys.argv = ["grade", "run", "log_parsing", "--path", sys.argv[1], "--format", "json", "-o", sys.argv[2]]
main()
"""


@pytest.mark.parametrize(("folder", "code"), [("solutions", 0), ("exercises", 1)])
def test_a_finished_run_ends_its_process_without_the_interpreters_teardown(
        course_root: Path, tmp_path: Path, folder: str, code: int) -> None:
    """After `grade run` has closed its sandboxes and services and written its report, the console script
    ends the process at once (os._exit): no atexit handler, no teardown of moto's state; the exit code
    and the output are the run's."""
    marker, report = tmp_path / "torn-down", tmp_path / "report.json"
    env = {**os.environ, "MARKER": str(marker)}
    done = subprocess.run([sys.executable, "-c", _EXIT_PROBE, folder, str(report)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stdout + done.stderr
    assert json.loads(report.read_text())["score"] == (22 if code == 0 else 0)
    assert not marker.exists()
    done = subprocess.run([sys.executable, "-c", _EXIT_PROBE, "no-such-folder", str(report)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and marker.read_text() == "torn down"  # a run that fails early ends as usual


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

    monkeypatch.setattr(grader.runner, "grade_targets", broken)
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


# -- one question at a time, short output ---------------------------------------------------------

def test_k_grades_only_the_selected_checks(course_root: Path) -> None:
    code, out = run("run", "sql_joins", "--path", "solutions", "-k", "q2", "--format", "json")
    assert code == 0, out  # every check graded passed; the rest are no failure
    (exercise,) = json.loads(out)["exercises"]
    statuses = {t["name"].split(":")[0]: (t["status"], t["score"]) for t in exercise["tests"]}
    q2 = ("q2", "q2 on the hidden databases too")  # on the public database (2 points), on every one (1)
    assert [statuses[name] for name in q2] == [("passed", 2), ("passed", 1)]
    assert {s for name, s in statuses.items() if name not in q2} == {("not_run", 0)}
    assert exercise["score"] == 3 and exercise["max_score"] == 20 and exercise["not_run"] == 17


def test_k_matches_the_names_learners_read(course_root: Path) -> None:
    code, out = run("run", "log_parsing", "-k", "README or malformed", "-v")
    assert code == 1
    assert "parse_line reads the README's example" in out and "parse_line returns None for malformed lines" in out
    assert "0/22 points, 13 of them not run" in out


def test_k_that_matches_nothing_or_does_not_parse(course_root: Path) -> None:
    code, out = run("run", "log_parsing", "-k", "nonesuch")
    assert code == 2 and "-k 'nonesuch' matches no check; the checks are: parse_line" in out
    code, out = run("run", "log_parsing", "-k", "parse_line or")
    assert code == 2 and "-k 'parse_line or' is not an expression" in out


def test_a_learner_file_grades_only_the_checks_that_read_it(course_root: Path) -> None:
    code, out = run("run", "solutions/sql_joins/q2_short_film_categories.sql", "--format", "json")
    assert code == 0, out
    (exercise,) = json.loads(out)["exercises"]
    graded = [t["name"] for t in exercise["tests"] if t["status"] != "not_run"]
    assert graded == ["q2: short films with their categories", "q2 on the hidden databases too"]
    assert exercise["submission"] == "solutions/sql_joins"


def test_a_word_after_a_slug_suggests_k(course_root: Path) -> None:
    code, out = run("run", "sql_joins", "q2")
    assert code == 2 and "grade run sql_joins -k q2" in out


def test_dot_and_no_target_inside_an_exercise_folder(course_root: Path, monkeypatch) -> None:
    monkeypatch.chdir(course_root / "solutions/log_parsing")
    for args in (("run", "."), ("run",)):
        code, out = run(*args)
        assert code == 0, out
        assert "log_parsing: 22/22 points" in out
    monkeypatch.chdir(course_root / "fixtures")
    code, out = run("run")
    assert code == 2 and "which exercise?" in out


def test_a_stub_is_folded_into_one_line(course_root: Path) -> None:
    code, out = run("run", "log_parsing")
    assert code == 1
    assert ("9 checks not started    0/22  todo    write parse_line, parse_log, to_json_lines, filter_by_level, "
            "failures_per_user") in out
    assert "NotImplementedError" not in out and len(out.splitlines()) <= 8
    assert out.rstrip().splitlines()[-1] == ("Next: write parse_line (exercises/log_parsing/README.md says what it "
                                            "must do), then grade run log_parsing")
    code, verbose = run("run", "log_parsing", "-v")
    assert verbose.count("NotImplementedError: parse_line is not written yet") >= 4  # -v: every check in full


@pytest.mark.parametrize(("slug", "todo"), [
    ("acid_transactions", "write place_order, transfer, report"),  # a check expecting OutOfStock got NotImplementedError
    ("normalize_obt", "write normalize.sql"),  # checks that could not run because the script is empty
    ("iam_policy", "write policy.json"),  # checks of what an empty policy allows
])
def test_every_check_of_an_untouched_stub_folds_into_one_line(course_root: Path, slug: str, todo: str) -> None:
    code, out = run("run", slug)
    assert code == 1
    rows = [line for line in out.splitlines() if "checks not started" in line]
    assert len(rows) == 1 and rows[0].rstrip().endswith(todo), out
    # every visible check is in that line; hidden checks keep their rows (their feedback is the autograder's)
    assert all("(hidden check)" in line for line in out.splitlines() if " FAIL " in line), out


def test_one_import_error_is_shown_once(course_root: Path, tmp_path: Path) -> None:
    (tmp_path / "log_parsing").mkdir()
    (tmp_path / "log_parsing" / "parse_logs.py").write_text("def parse_line(line)\n    return None\n")
    code, out = run("run", "log_parsing", "--path", str(tmp_path))
    assert code == 1
    assert "9 checks failing alike" in out and "Every check (9) fails with:" in out
    assert out.count("SyntaxError") == 1
    assert out.rstrip().endswith("Next: fix the problem shown above (it fails 9 checks at once), then grade run log_parsing")


def test_no_box_drawing_without_a_terminal_and_no_word_cut(course_root: Path, tmp_path: Path) -> None:
    (tmp_path / "log_parsing").mkdir()
    source = SOLUTION + "\n\ndef filter_by_level(records, min_level):\n    return []\n"
    (tmp_path / "log_parsing" / "parse_logs.py").write_text(source)
    grade = Path(sys.executable).parent / "grade"
    done = subprocess.run([str(grade), "run", "log_parsing", "--path", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 1, done.stderr
    assert not set(done.stdout) & set("─━│┃┏┓┗┛┡┩└┘├┤┼╇╈"), done.stdout
    assert max(len(line.rstrip()) for line in done.stdout.splitlines()[:-1]) <= 100
    words = {word for line in done.stdout.splitlines() for word in line.split()}
    feedback = [t for t in words if t.startswith("filter_by_level")]
    assert feedback, done.stdout  # names are whole words, never cut in the middle


def test_run_all_shows_progress_lines_and_the_status_table(make_course, in_course) -> None:
    root = make_course()
    second = root / "exercises/demo2"
    second.mkdir()
    for name in ("exercise.toml", "README.md", "demo.py"):
        text = (root / "exercises/demo" / name).read_text()
        (second / name).write_text(text.replace("order = 1", "order = 2").replace("Demo", "Demo two"))
    (root / "solutions/demo2").mkdir()
    (root / "solutions/demo2/demo.py").write_text((root / "solutions/demo/demo.py").read_text())
    (root / "tests/hidden/demo2").mkdir()
    (root / "tests/hidden/demo2/test_demo2.py").write_text((root / "tests/hidden/demo/test_demo.py").read_text())
    in_course(root)
    result = CliRunner(mix_stderr=False).invoke(cli, ["run", "all"]) if _mixes() else CliRunner().invoke(cli, ["run", "all"])
    assert result.exit_code == 1
    err = result.stderr
    assert "grading demo (1/2)" in err and "grading demo2 (2/2)" in err
    table = result.stdout.split("grade status")[1]
    # both graded (0/4 best and last), and both still untouched stubs
    assert [line.split()[:4] for line in table.splitlines() if line.startswith("demo")] == [
        ["demo", "0/4", "0/4", "not"], ["demo2", "0/4", "0/4", "not"]]
    assert result.stdout.rstrip().splitlines()[-1].startswith("Next: write double")


def _mixes() -> bool:
    """click < 8.2 mixes stderr into output unless told not to."""
    import inspect

    return "mix_stderr" in inspect.signature(CliRunner).parameters
