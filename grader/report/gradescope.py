"""Gradescope's results.json: score, execution_time, output, tests[] (their documented schema)."""
from __future__ import annotations

import json

from grader.results import UNSANDBOXED, Run, Status


def render(run: Run) -> str:
    many = len(run.results) > 1
    tests = []
    notes = []
    for result in run.results:
        if result.error:
            notes.append(f"{result.exercise}: {result.error}")
        for test in result.tests:
            output = test.output
            if test.hint:
                output = f"{output}\nHint: {test.hint}" if output else f"Hint: {test.hint}"
            entry = {
                "name": f"{result.exercise}: {test.name}" if many else test.name,
                "score": test.score,
                "max_score": test.max_score,
                "status": "passed" if test.status is Status.PASSED else "failed",
                "output": output,
                "visibility": test.visibility,
            }
            if test.status is Status.SKIPPED:
                entry["output"] = f"Not run: {test.output}"
            elif test.status is Status.NOT_RUN:  # neither passed nor failed: Gradescope's status is optional
                del entry["status"]
                entry["output"] = "Not run: left out of this grade (-k or a file target)."
            tests.append(entry)
    if run.sandbox == "process":
        notes.append(UNSANDBOXED)
    document = {
        "score": run.score,
        "execution_time": round(run.duration),
        "output": "\n".join(notes) if notes else f"Graded {len(run.results)} exercise(s).",
        "extra_data": {"sandbox": run.sandbox},
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
