"""Gradescope's results.json, per their autograder specification: score, execution_time, output and its
format, extra_data, visibility, stdout_visibility, tests[] (name, number, score, max_score, status,
output, visibility, tags).

Outputs are Markdown (`output_format` and `test_output_format` "md"): a check's feedback and hint go in
a code block, so tracebacks and rows keep their layout and nothing in them is read as Markdown.
"""
from __future__ import annotations

import json
import re
from typing import Any, Sequence

from grader.results import UNSANDBOXED, Result, Run, Status, TestResult


def fenced(text: str) -> str:
    """`text` as a Markdown code block that nothing inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def _output(test: TestResult) -> str:
    if test.status is Status.SKIPPED:
        return f"Not run: {test.output}"
    if test.status is Status.NOT_RUN:
        return "Not run: left out of this grade (-k or a file target)."
    text = test.output.strip()
    if test.hint:
        text = f"{text}\n\nHint: {test.hint}" if text else f"Hint: {test.hint}"
    return fenced(text) if text else ""


def _test(result: Result, test: TestResult, number: str, many: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{result.exercise}: {test.name}" if many else test.name,
        "number": number,
        "score": test.score,
        "max_score": test.max_score,
        "status": "passed" if test.status is Status.PASSED else "failed",
        "output": _output(test),
        "visibility": test.visibility,
        "tags": [result.exercise],
    }
    if test.status is Status.NOT_RUN:  # neither passed nor failed: Gradescope's status is optional
        del entry["status"]
    return entry


def document(run: Run, *, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The results.json object of `run`; `notes` (Markdown) open its output."""
    many = len(run.results) > 1
    tests: list[dict[str, Any]] = []
    lines = list(notes)
    for index, result in enumerate(run.results, start=1):
        lines.append(f"- **{result.exercise}**: {result.score:g}/{result.max_score:g} points")
        if result.error:
            lines.append(fenced(f"{result.exercise}: {result.error}"))
        for number, test in enumerate(result.tests, start=1):
            tests.append(_test(result, test, f"{index}.{number}", many))
        if result.error and not result.tests:  # nothing ran: its points still count in the maximum
            tests.append({"name": f"{result.exercise}: could not be graded", "number": f"{index}.1",
                          "score": 0.0, "max_score": result.max_score, "status": "failed",
                          "output": fenced(result.error), "visibility": "visible", "tags": [result.exercise]})
    if run.sandbox == "process":
        lines.append(UNSANDBOXED)
    return {
        "score": run.score,
        "execution_time": round(run.duration),
        "output": "\n\n".join(lines),
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        "extra_data": {"sandbox": run.sandbox},
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def render(run: Run) -> str:
    return json.dumps(document(run), indent=2, ensure_ascii=False) + "\n"
