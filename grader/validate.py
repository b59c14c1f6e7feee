"""`grade validate`: the course keeps its contract. Every exercise.toml is strict (catalog), every marker
known (plugin); the reference solution scores full marks twice with the same result (determinism),
every check fails on the untouched stub, and the files and points agree."""
from __future__ import annotations

from dataclasses import dataclass

from grader.catalog import Exercise
from grader.results import Result, Status
from grader.runner import ServicePool, grade


@dataclass(frozen=True)
class Verdict:
    """What validate found for one exercise."""

    exercise: Exercise
    solution: Result | None
    stub: Result | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_problems(exercise: Exercise) -> list[str]:
    problems = []
    if not (exercise.stub_dir / "README.md").is_file():
        problems.append(f"exercises/{exercise.slug}/README.md is missing: write the task for the learner")
    for name in exercise.files:
        for folder in ("exercises", "solutions"):
            if not (exercise.root / folder / exercise.slug / name).is_file():
                problems.append(f"{folder}/{exercise.slug}/{name} is listed in exercise.toml but missing")
    for name in exercise.support:
        if not (exercise.stub_dir / name).is_file():
            problems.append(f"exercises/{exercise.slug}/{name} is listed as support in exercise.toml but missing")
    if not any(exercise.tests_dir.glob("test_*.py")):
        problems.append(f"tests/hidden/{exercise.slug}/ has no test_*.py")
    return problems


def _first_line(text: str, default: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else default


def _outcomes(result: Result) -> list[tuple[str, str, float, str]]:
    return [(t.name, t.status.value, t.score, t.output) for t in result.tests]


def validate(exercise: Exercise, pool: ServicePool) -> Verdict:
    """Grade the solution (twice) and the stub of `exercise`; list every way it fails the contract."""
    if exercise.error:
        return Verdict(exercise, None, None, (exercise.error,))
    problems = _file_problems(exercise)
    if problems:
        return Verdict(exercise, None, None, tuple(problems))
    solution = grade(exercise, exercise.solution_dir, pool, label=f"solutions/{exercise.slug}")
    again = grade(exercise, exercise.solution_dir, pool, label=f"solutions/{exercise.slug}")
    stub = grade(exercise, exercise.stub_dir, pool, label=f"exercises/{exercise.slug}")
    for result, kind in ((solution, "solution"), (stub, "stub")):
        if result.error:
            problems.append(f"{kind}: {result.error}")
    if solution.error:
        return Verdict(exercise, solution, stub, tuple(problems))
    if solution.max_score <= 0:
        problems.append("the hidden tests give no points")
    if solution.max_score != exercise.points:
        problems.append(f"exercise.toml says points = {exercise.points:g}, the hidden tests add up to "
                        f"{solution.max_score:g}")
    for test in solution.tests:
        if test.score < test.max_score or test.status in (Status.ERROR, Status.SKIPPED):
            problems.append(f"solution fails '{test.name}': {_first_line(test.output, test.status.value)}")
    if not again.error and _outcomes(again) != _outcomes(solution):
        changed = [a[0] for a, b in zip(_outcomes(solution), _outcomes(again)) if a != b]
        problems.append("the solution graded twice gave different results"
                        + (f" in '{changed[0]}'" if changed else "")
                        + ": seed every random choice and reset every state a check depends on")
    for test in stub.tests:
        if test.score > 0:
            problems.append(f"stub passes '{test.name}' ({test.score:g} points): the stub must score 0")
        elif test.status is not Status.FAILED:
            problems.append(f"'{test.name}' ends {test.status.value} on the stub instead of failing: "
                            f"{_first_line(test.output, 'no output')}")
    return Verdict(exercise, solution, stub, tuple(problems))
