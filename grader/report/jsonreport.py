"""The json report: one object with the run's score and every exercise's tests."""
from __future__ import annotations

import json
from typing import Any

from grader.results import Result, Run, TestResult


def test_dict(test: TestResult) -> dict[str, Any]:
    return {
        "name": test.name,
        "status": test.status.value,
        "score": test.score,
        "max_score": test.max_score,
        "output": test.output,
        "visibility": test.visibility,
        "hint": test.hint,
        "hints": list(test.hints),
        "execution_time": test.execution_time,
    }


def result_dict(result: Result) -> dict[str, Any]:
    return {
        "exercise": result.exercise,
        "title": result.title,
        "submission": result.submission,
        "backend": result.backend,
        "score": result.score,
        "max_score": result.max_score,
        "duration": result.duration,
        "version": result.version,
        "error": result.error,
        "not_run": result.not_run,
        "sandbox": result.sandbox,
        "tests": [test_dict(t) for t in result.tests],
    }


def render(run: Run) -> str:
    return json.dumps(
        {
            "score": run.score,
            "max_score": run.max_score,
            "duration": run.duration,
            "sandbox": run.sandbox,
            "exercises": [result_dict(r) for r in run.results],
        },
        indent=2,
        ensure_ascii=False,
    ) + "\n"
