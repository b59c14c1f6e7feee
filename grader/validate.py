"""`grade validate`: every reference solution scores full marks and every untouched stub scores 0."""
from __future__ import annotations

from dataclasses import dataclass

from grader.catalog import Exercise
from grader.results import Result
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
    if not any(exercise.tests_dir.glob("test_*.py")):
        problems.append(f"tests/hidden/{exercise.slug}/ has no test_*.py")
    return problems


def validate(exercise: Exercise, pool: ServicePool) -> Verdict:
    """Grade the solution and the stub of `exercise`; list every way it fails the contract."""
    problems = _file_problems(exercise)
    if problems:
        return Verdict(exercise, None, None, tuple(problems))
    solution = grade(exercise, exercise.solution_dir, pool, label=f"solutions/{exercise.slug}")
    stub = grade(exercise, exercise.stub_dir, pool, label=f"exercises/{exercise.slug}")
    for result, kind in ((solution, "solution"), (stub, "stub")):
        if result.error:
            problems.append(f"{kind}: {result.error}")
    if solution.max_score <= 0:
        problems.append("the hidden tests give no points")
    if exercise.points and solution.max_score != exercise.points:
        problems.append(f"exercise.toml says points = {exercise.points:g}, the hidden tests add up to "
                        f"{solution.max_score:g}")
    for test in solution.tests:
        if test.score < test.max_score or test.status.value in ("error", "skipped"):
            first = test.output.strip().splitlines()[0] if test.output.strip() else test.status.value
            problems.append(f"solution fails '{test.name}': {first}")
    for test in stub.tests:
        if test.score > 0:
            problems.append(f"stub passes '{test.name}' ({test.score:g} points): the stub must score 0")
    return Verdict(exercise, solution, stub, tuple(problems))
