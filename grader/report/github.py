"""Markdown for a CI job summary (GitHub's $GITHUB_STEP_SUMMARY): a table per exercise."""
from __future__ import annotations

from grader.results import UNSANDBOXED, Run, Status

ICONS = {Status.PASSED: "✅", Status.FAILED: "❌", Status.ERROR: "⚠️", Status.SKIPPED: "⏭️", Status.NOT_RUN: "➖"}


def _cell(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first.replace("|", "\\|")[:200]


def render(run: Run) -> str:
    lines = [f"## grade: {run.score:g}/{run.max_score:g} points", ""]
    if run.sandbox:
        lines += [f"Sandbox: {run.sandbox}" + (f". {UNSANDBOXED}" if run.sandbox == "process" else ""), ""]
    for result in run.results:
        lines += [f"### {result.exercise}: {result.score:g}/{result.max_score:g}", ""]
        if result.error:
            lines += [f"> {_cell(result.error)}", ""]
        if result.tests:
            lines += ["| check | points | result | feedback |", "|---|---:|---|---|"]
            for test in result.tests:
                feedback = "(hidden check)" if test.visibility == "hidden" else _cell(test.output)
                points = f"-/{test.max_score:g}" if test.status is Status.NOT_RUN else f"{test.score:g}/{test.max_score:g}"
                lines.append(f"| {_cell(test.name)} | {points} | "
                             f"{ICONS[test.status]} {test.status.value.replace('_', ' ')} | {feedback} |")
            lines.append("")
    return "\n".join(lines) + "\n"
