"""`grade validate --mutants`: the table, --json for CI, and the exit code under the threshold."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli
from tests.test_mutants_engine import build


def validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.output  # output: stdout and stderr as a terminal shows them


def test_the_table_lists_survivors_and_fails_under_the_threshold(tmp_path: Path, in_course) -> None:
    in_course(build(tmp_path))
    code, out, shown = validate("--mutants", "demo")
    assert code == 1, out
    assert "grade validate --mutants (threshold 95%)" in out
    row = next(line for line in out.splitlines() if "demo" in line and "FAIL" in line)
    assert [cell.strip() for cell in row.strip("│┃ ").split("│")][:8] == ["demo", "9", "9", "5", "3", "1", "0", "62.5%"]
    assert "survived demo demo.py: line 3: `>` -> `>=`" in out
    assert "+    if x >= 10:" in out
    assert "9 of 9 mutants graded (at most 20 per exercise, seed 2024)" in out
    assert "demo: graded 9 of 9 mutants in" in shown


def test_json_for_ci_and_a_threshold_that_is_met(tmp_path: Path, in_course) -> None:
    in_course(build(tmp_path))
    code, out, _ = validate("--mutants", "--json", "--threshold", "62.5", "--max-mutants", "0")
    assert code == 0, out
    data = json.loads(out)
    assert data["passed"] is True and data["threshold"] == 62.5 and data["max_mutants"] == 0
    [demo] = data["exercises"]
    assert {k: demo[k] for k in ("exercise", "made", "sampled", "killed", "survived", "equivalent", "invalid", "score")} == {
        "exercise": "demo", "made": 9, "sampled": 9, "killed": 5, "survived": 3, "equivalent": 1, "invalid": 0,
        "score": 62.5}
    assert {s["description"] for s in demo["survivors"]} == {"line 3: `>` -> `>=`", "line 3: `10` -> `11`",
                                                               "line 3: `10` -> `9`"}
    assert demo["equivalents"][0]["diff"].startswith("--- solutions/demo.py\n+++ mutant/demo.py\n")


def test_a_sample_says_how_many_were_graded(tmp_path: Path, in_course) -> None:
    in_course(build(tmp_path))
    code, out, _ = validate("--mutants", "--max-mutants", "3", "--seed", "7", "--threshold", "0")
    assert code == 0, out
    assert "3 of 9 mutants graded (at most 3 per exercise, seed 7)" in out


def test_mutant_options_need_mutants(tmp_path: Path, in_course) -> None:
    in_course(build(tmp_path))
    code, _, err = validate("--json")
    assert code == 2 and "--json, --max-mutants, --seed and --repeat go with --mutants" in err


UNSTEADY = '''
import pytest
from pathlib import Path

COUNTER = Path(COUNTER_PATH)


@pytest.mark.points(2)
def test_big(submission):
    """size of a big number"""
    assert submission.size(50) == "big", "size(50) should be 'big'"


@pytest.mark.points(2)
def test_small(submission):
    """size of a small number [every other run fails]"""
    runs = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(runs + 1))
    assert submission.size(3) == "small", "size(3) should be 'small'"
    assert runs % 2 == 0, "a check that depends on how many times it ran"
'''


def test_repeat_finds_a_check_whose_result_changes_from_one_grade_to_the_next(tmp_path: Path, in_course) -> None:
    hidden = UNSTEADY.replace("COUNTER_PATH", repr(str(tmp_path / "runs")))
    in_course(build(tmp_path / "course", hidden=hidden))
    code, out, _ = validate("--mutants", "--repeat", "2", "--max-mutants", "2", "--threshold", "0", "--json")
    assert code == 1, out
    [demo] = json.loads(out)["exercises"]
    assert demo["repeat"] == 2 and demo["passed"] is False
    assert demo["unsteady"][0]["what"] == "the solution"
    assert demo["unsteady"][0]["checks"] == ["size of a small number [every other run fails]"]
    code, out, _ = validate("--mutants", "--repeat", "2", "--max-mutants", "2", "--threshold", "0")
    assert code == 1, out
    assert ("unsteady demo the solution: graded 2 times, these checks did not end alike: size of a small "
            "number [every other run fails]") in " ".join(out.split()), out
    assert "Unsteady" in out and "each graded whole 2 times" in out


WORDY = UNSTEADY.replace('assert runs % 2 == 0, "a check that depends on how many times it ran"', "").replace(
    '"size(3) should be \'small\'"', 'f"size(3) should be \'small\' (run {runs})"').replace(
    "size of a small number [every other run fails]", "size of a small number [feedback names the run]")


def test_repeat_finds_a_check_whose_feedback_changes_though_its_score_does_not(tmp_path: Path, in_course) -> None:
    hidden = WORDY.replace("COUNTER_PATH", repr(str(tmp_path / "runs")))
    assert "(run {runs})" in hidden and "runs % 2" not in hidden
    in_course(build(tmp_path / "course", hidden=hidden))
    code, out, _ = validate("--mutants", "--repeat", "2", "--max-mutants", "0", "--threshold", "0", "--json")
    assert code == 1, out
    [demo] = json.loads(out)["exercises"]
    assert demo["unsteady"], demo
    assert {u["what"] for u in demo["unsteady"]} != {"the solution"}  # mutants that fail it, with the run named
    assert all(u["checks"] == ["size of a small number [feedback names the run]"] for u in demo["unsteady"])


def test_repeat_passes_checks_that_end_alike_every_time(tmp_path: Path, in_course) -> None:
    in_course(build(tmp_path))
    code, out, _ = validate("--mutants", "--repeat", "2", "--json", "--threshold", "62.5", "--max-mutants", "0")
    assert code == 0, out
    [demo] = json.loads(out)["exercises"]
    assert demo["repeat"] == 2 and demo["unsteady"] == [] and demo["killed"] == 5
