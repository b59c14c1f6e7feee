"""Reporters against golden files: a fixed Run rendered in every format."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.report import REPORTERS, render
from grader.results import Result, Run, Status, TestResult

GOLDEN = Path(__file__).parent / "golden"

RUN = Run(
    results=(
        Result(
            exercise="log_parsing", title="Parsing application logs", submission="exercises/log_parsing",
            backend="python", duration=0.5, version="0.1.0", sandbox="namespaces",
            tests=(
                TestResult("parse_line reads the README's example", Status.PASSED, 3, 3, execution_time=0.01),
                TestResult("parse_log numbers malformed lines", Status.FAILED, 0, 3,
                           output="parse_log: 'malformed' is [2], expected line numbers [2, 7]",
                           hint="Count blank lines too.", execution_time=0.02,
                           hints=("Count blank lines too.", "Number lines from 1, the first line included.")),
                TestResult("secret check", Status.FAILED, 0, 1, output="expected 4", visibility="hidden"),
                TestResult("needs mysql", Status.SKIPPED, 0, 0, output="set GRADER_MYSQL_URL"),
                TestResult("broken check", Status.ERROR, 0, 2, output="This check could not run (KeyError)."),
                TestResult("failures_per_user counts failures", Status.NOT_RUN, 0, 2),
            ),
        ),
        Result(exercise="sql_joins", title="Joins", submission="exercises/sql_joins", backend="",
               error="could not grade: the sql service could not start: refused", ungraded=True, points=10),
    ),
    duration=1.25,
)


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_golden(fmt: str) -> None:
    text = render(RUN, fmt)
    path = GOLDEN / f"report.{fmt}"
    if os.environ.get("GRADER_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_scores_add_up() -> None:
    assert RUN.results[0].score == 3 and RUN.results[0].max_score == 11
    assert RUN.results[0].not_run == 2 and not RUN.results[0].complete
    assert RUN.results[1].max_score == 10  # nothing ran: the declared points
    assert RUN.score == 3 and RUN.max_score == 21
    assert not RUN.passed and RUN.ungraded


def test_checks_not_run_are_no_failure() -> None:
    """A grade of some checks (-k, a file) that all pass has passed; the rest are not run, in every format."""
    partial = Result(exercise="sql_joins", title="Joins", submission="exercises/sql_joins", backend="sqlite",
                     tests=(TestResult("q2", Status.PASSED, 3, 3), TestResult("q3", Status.NOT_RUN, 0, 3)))
    run = Run(results=(partial,))
    assert partial.passed and partial.score == 3 and partial.max_score == 6 and partial.not_run == 3
    assert json.loads(render(run, "json"))["exercises"][0]["tests"][1]["status"] == "not_run"
    not_run = json.loads(render(run, "gradescope"))["tests"][1]
    assert "status" not in not_run and not_run["output"].startswith("Not run")
    assert "➖ not run" in render(run, "github")
    assert '<skipped message="not run"' in render(run, "junit")
    assert "3/6 points, 3 of them not run" in render(run, "text")


def test_gradescope_document() -> None:
    document = json.loads(render(RUN, "gradescope"))
    assert document["score"] == 3 and document["execution_time"] == 1
    assert "could not grade" in document["output"]
    assert document["output_format"] == document["test_output_format"] == "md"
    failed = document["tests"][1]
    assert failed["status"] == "failed" and failed["number"] == "1.2" and failed["tags"] == ["log_parsing"]
    assert failed["output"] == ("```\nparse_log: 'malformed' is [2], expected line numbers [2, 7]\n\n"
                                "Hint: Count blank lines too.\n```")  # a code block: nothing read as Markdown
    assert document["tests"][2]["visibility"] == "hidden"
    ungraded = document["tests"][-1]  # an exercise that could not be graded still counts its points
    assert ungraded["name"] == "sql_joins: could not be graded" and ungraded["max_score"] == 10


def test_gradescope_code_blocks_cannot_be_closed_by_feedback() -> None:
    from grader.report.gradescope import fenced

    assert fenced("a ``` b") == "````\na ``` b\n````"


def test_text_says_what_the_autograder_holds_back() -> None:
    result = Result(exercise="sql_joins", title="Joins", submission="exercises/sql_joins", backend="sqlite",
                    tests=(TestResult("q1", Status.PASSED, 1, 1),), points=20, held_back=9)
    assert "9 more points are checked when you submit." in render(Run(results=(result,)), "text")
    assert "more points" not in render(RUN, "text")


def test_text_hides_hidden_feedback() -> None:
    text = render(RUN, "text")
    assert "expected 4" not in text and "(hidden check)" in text
    assert "Hint: Count blank lines too." in text


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="choose one of text, json, gradescope, junit, github"):
        render(RUN, "csv")


def test_every_format_names_the_sandbox_level() -> None:
    """A grade without the namespace sandbox says so in every format (grade doctor tells why)."""
    result = RUN.results[0]
    plain = Run(results=(Result(**{**result.__dict__, "sandbox": "process"}),), duration=1.0)
    assert "without the namespace sandbox" in render(plain, "text")
    assert json.loads(render(plain, "json"))["exercises"][0]["sandbox"] == "process"
    document = json.loads(render(plain, "gradescope"))
    assert document["extra_data"]["sandbox"] == "process" and "grade doctor" in document["output"]
    assert '<property name="sandbox" value="process" />' in render(plain, "junit")
    assert "Sandbox: process" in render(plain, "github")
    for fmt in REPORTERS:
        assert "namespaces" in render(RUN, fmt), fmt
