"""The mutation table for a person, and the same as JSON for CI."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from grader.mutants.engine import EQUIVALENT, KILLED, SURVIVED, Report


def _score(report: Report) -> str:
    return "-" if report.score is None else f"{report.score:g}%"


def table(reports: list[Report], threshold: float) -> Table:
    """One row per exercise: mutants made, sampled, killed, survived, equivalent, score."""
    repeated = any(r.repeat > 1 for r in reports)
    grid = Table("Exercise", "Made", "Sampled", "Killed", "Survived", "Equivalent", "Invalid", "Score",
                 *(["Unsteady"] if repeated else []), "Verdict",
                 title=f"grade validate --mutants (threshold {threshold:g}%)", title_justify="left")
    for report in reports:
        verdict = "[green]ok[/]" if report.passed(threshold) else "[red]FAIL[/]"
        grid.add_row(report.exercise, str(report.made), str(report.sampled), str(report.count(KILLED)),
                     str(report.count(SURVIVED)), str(report.count(EQUIVALENT)), str(report.invalid),
                     _score(report), *([str(len(report.unsteady))] if repeated else []), verdict)
    return grid


def _mutant(verdict: Any) -> dict[str, Any]:
    m = verdict.mutant
    return {"file": m.file, "operator": m.operator, "description": m.description, "why": verdict.why,
            "diff": m.diff}


def as_json(reports: list[Report], *, threshold: float, cap: int, seed: int, duration: float) -> dict[str, Any]:
    """Everything the table shows, plus each survivor and equivalent mutant with its diff."""
    return {
        "threshold": threshold,
        "max_mutants": cap,
        "seed": seed,
        "duration": duration,
        "passed": all(r.passed(threshold) for r in reports),
        "exercises": [
            {
                "exercise": r.exercise,
                "made": r.made,
                "sampled": r.sampled,
                "killed": r.count(KILLED),
                "survived": r.count(SURVIVED),
                "equivalent": r.count(EQUIVALENT),
                "invalid": r.invalid,
                "killed_by_errors": sum(1 for v in r.verdicts if v.by_error),
                "score": r.score,
                "passed": r.passed(threshold),
                "problem": r.problem,
                "duration": r.duration,
                "survivors": [_mutant(v) for v in r.verdicts if v.status == SURVIVED],
                "equivalents": [_mutant(v) for v in r.verdicts if v.status == EQUIVALENT],
                "repeat": r.repeat,
                "unsteady": [{"what": u.what, "checks": list(u.checks), "diff": u.diff} for u in r.unsteady],
            }
            for r in reports
        ],
    }
