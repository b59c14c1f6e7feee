"""Make the mutants of an exercise's reference solution, grade each like a submission, classify it.

Each mutant is graded with the ordinary runner in a temporary copy of solutions/<slug>/ (the course
is never written), stopping at its first lost check and running first the checks that killed earlier
mutants. A mutant that keeps full marks is graded again on wider data (the `probe` fixture) with
everything the checks see recorded, and compared with two such grades of the solution: equal
everywhere, it is probably equivalent; otherwise it survived, and the first difference says why.
"""
from __future__ import annotations

import contextlib
import difflib
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from grader.catalog import Exercise
from grader.errors import ServiceError
from grader.mutants import policy, python, sql
from grader.mutants.observe import Observations, first_difference
from grader.plugin import Trial
from grader.results import Result, Status
from grader.runner import ServicePool, grade

MUTATORS = {".py": python, ".sql": sql, ".json": policy}  # by file suffix: normalize, check, mutants
DEFAULT_SEED = 2024
DEFAULT_CAP = 20
KILLED, SURVIVED, EQUIVALENT = "killed", "survived", "equivalent"


@dataclass(frozen=True)
class Mutant:
    """One change of one reference file, and the diff that shows it."""

    file: str
    operator: str
    description: str
    text: str
    diff: str
    problem: str = ""  # why it is invalid (does not parse or compile); empty for a valid mutant

    @property
    def ident(self) -> str:
        return f"{self.file}: {self.description}"


@dataclass(frozen=True)
class Verdict:
    """How one mutant fared."""

    mutant: Mutant
    status: str  # killed, survived or equivalent (invalid mutants are counted, never graded)
    why: str = ""  # the check that killed it, or what tells a survivor from the solution
    by_error: bool = False  # killed only by a check that could not run (status error)


@dataclass(frozen=True)
class Unsteady:
    """A submission whose checks ended differently from one whole grade of it to the next."""

    what: str  # "the solution", or a mutant's ident
    checks: tuple[str, ...]  # the checks whose result (status or score) changed
    diff: str = ""  # the mutant's diff; "" for the solution


@dataclass
class Report:
    """The mutation validation of one exercise."""

    exercise: str
    made: int = 0  # valid mutants made
    invalid: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    problem: str = ""  # why the exercise could not be validated
    duration: float = 0.0
    repeat: int = 1  # whole grades of the solution and of each sampled mutant, compared (1: none)
    unsteady: list[Unsteady] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for v in self.verdicts if v.status == status)

    @property
    def sampled(self) -> int:
        return len(self.verdicts)

    @property
    def score(self) -> float | None:
        """Killed as a percentage of the mutants that were not equivalent; None when there are none."""
        judged = self.count(KILLED) + self.count(SURVIVED)
        return round(100.0 * self.count(KILLED) / judged, 1) if judged else None

    def passed(self, threshold: float) -> bool:
        return not self.problem and not self.unsteady and (self.score is None or self.score >= threshold)


def _unified(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"solutions/{name}", f"mutant/{name}", n=1))


def make_mutants(exercise: Exercise) -> list[Mutant]:
    """Every mutant of every reference file a mutator knows, valid or not, in file and source order."""
    out = []
    for name in exercise.files:
        mutator = MUTATORS.get(Path(name).suffix)
        path = exercise.solution_dir / name
        if mutator is None or not path.is_file():
            continue
        original = path.read_text(encoding="utf-8")
        base = mutator.normalize(original)
        for change in mutator.mutants(original):
            out.append(Mutant(name, change.operator, change.description, change.text,
                              _unified(base, change.text, name), mutator.check(change.text) or ""))
    return out


def sample(mutants: list[Mutant], cap: int, seed: int, slug: str) -> list[Mutant]:
    """At most `cap` mutants (all when cap is 0), drawn round-robin over (file, operator) after a
    shuffle seeded by `seed` and the exercise: the same seed, the same sample."""
    if cap <= 0 or len(mutants) <= cap:
        return list(mutants)
    rng = random.Random(f"{seed}:{slug}")
    groups: dict[tuple[str, str], list[Mutant]] = {}
    for mutant in mutants:
        groups.setdefault((mutant.file, mutant.operator), []).append(mutant)
    for members in groups.values():
        rng.shuffle(members)
    order = sorted(groups)
    rng.shuffle(order)
    chosen: list[Mutant] = []
    while len(chosen) < cap:
        for key in order:
            if groups[key] and len(chosen) < cap:
                chosen.append(groups[key].pop())
    position = {id(m): i for i, m in enumerate(mutants)}
    return sorted(chosen, key=lambda m: position[id(m)])


def _lost(result: Result) -> tuple[str, bool] | None:
    """(the first check that lost points, whether only errors lost them), or None at full marks."""
    if result.ungraded:
        raise ServiceError(result.error or "the services did not start")
    failed = [t for t in result.tests if t.score < t.max_score or t.status in (Status.FAILED, Status.ERROR)]
    if not failed and not result.error and result.score >= result.max_score:
        return None
    if not failed:
        return result.error or "fewer points than the solution", True
    first = failed[0]
    line = first.output.strip().splitlines()[0] if first.output.strip() else first.status.value
    return f"{first.name}: {line}", all(t.status is Status.ERROR for t in failed)


class _Workspace:
    """A private copy of solutions/<slug>/ with the reference files written as the mutators write them."""

    def __init__(self, exercise: Exercise, root: Path) -> None:
        self.folder = root / exercise.slug
        shutil.copytree(exercise.solution_dir, self.folder)
        self.base: dict[str, str] = {}
        for name in exercise.files:
            mutator = MUTATORS.get(Path(name).suffix)
            path = self.folder / name
            if mutator is not None and path.is_file():
                self.base[name] = mutator.normalize(path.read_text(encoding="utf-8"))
                path.write_text(self.base[name], encoding="utf-8")

    def holding(self, mutant: Mutant) -> _Holding:
        return _Holding(self, mutant)


class _Holding:
    def __init__(self, workspace: _Workspace, mutant: Mutant) -> None:
        self.workspace, self.mutant = workspace, mutant

    def __enter__(self) -> Path:
        (self.workspace.folder / self.mutant.file).write_text(self.mutant.text, encoding="utf-8")
        return self.workspace.folder

    def __exit__(self, *exc: object) -> None:
        name = self.mutant.file
        (self.workspace.folder / name).write_text(self.workspace.base[name], encoding="utf-8")


def _observed(exercise: Exercise, folder: Path, pool: ServicePool) -> tuple[Result, Observations]:
    observations = Observations()
    with observations.active():
        result = grade(exercise, folder, pool, label=f"mutant of solutions/{exercise.slug}",
                       trial=Trial(probe=True, observer=observations))
    return result, observations


def validate_mutants(
    exercise: Exercise,
    pool: ServicePool,
    *,
    cap: int = DEFAULT_CAP,
    seed: int = DEFAULT_SEED,
    progress: Callable[[Mutant, Verdict], None] | None = None,
    repeat: int = 1,
) -> Report:
    """Make, sample, grade and classify the mutants of one exercise's reference solution. With `repeat`
    over 1, the solution and each sampled mutant are also graded whole that many times, and a check
    whose result changes from one grade to the next makes the exercise unsteady (a failure)."""
    started = time.monotonic()
    made = make_mutants(exercise)
    valid = [m for m in made if not m.problem]
    report = Report(exercise.slug, made=len(valid), invalid=len(made) - len(valid), repeat=max(1, repeat))
    if not valid:
        report.problem = f"no mutant could be made of solutions/{exercise.slug}/ (no .py, .sql or .json file)"
        return report
    chosen = sample(valid, cap, seed, exercise.slug)
    with tempfile.TemporaryDirectory(prefix="grader-mutants-") as scratch:
        workspace = _Workspace(exercise, Path(scratch))
        control = grade(exercise, workspace.folder, pool, label=f"solutions/{exercise.slug}")
        lost = _lost(control)
        if lost is not None:
            report.problem = (f"the solution, as the mutants are written, does not keep full marks "
                              f"({control.score:g}/{control.max_score:g}): {lost[0]}")
            return report
        killers: list[str] = []
        survivors: list[Mutant] = []
        for mutant in chosen:
            with workspace.holding(mutant) as folder:
                result = grade(exercise, folder, pool, label=f"mutant of solutions/{exercise.slug}",
                               trial=Trial(stop_at_first_failure=True, run_first=tuple(killers)))
            lost = _lost(result)
            if lost is None:
                survivors.append(mutant)
                continue
            verdict = Verdict(mutant, KILLED, lost[0], lost[1])
            report.verdicts.append(verdict)
            killer = _first_loser(result)
            if killer:
                killers = [killer, *(k for k in killers if k != killer)]
            if progress:
                progress(mutant, verdict)
        for verdict in _judge_survivors(exercise, workspace, pool, survivors):
            report.verdicts.append(verdict)
            if progress:
                progress(verdict.mutant, verdict)
        if report.repeat > 1:
            report.unsteady = list(_unsteady(exercise, workspace, pool, chosen, report.repeat))
    order = {id(m): i for i, m in enumerate(chosen)}
    report.verdicts.sort(key=lambda v: order[id(v.mutant)])
    report.duration = round(time.monotonic() - started, 1)
    return report


def _unsteady(exercise: Exercise, workspace: _Workspace, pool: ServicePool, mutants: list[Mutant],
              repeat: int) -> Iterator[Unsteady]:
    """The solution, then each mutant, graded whole `repeat` times: those whose checks did not end alike."""
    for mutant in (None, *mutants):
        with contextlib.nullcontext(workspace.folder) if mutant is None else workspace.holding(mutant) as folder:
            label = f"solutions/{exercise.slug}" if mutant is None else f"mutant of solutions/{exercise.slug}"
            results = [grade(exercise, folder, pool, label=label) for _ in range(repeat)]
        changed = _changed_checks(results)
        if changed:
            yield Unsteady("the solution" if mutant is None else mutant.ident, changed,
                           "" if mutant is None else mutant.diff)


def _changed_checks(results: list[Result]) -> tuple[str, ...]:
    """The checks whose status, score or feedback differs among `results` (the same submission gets the same
    words too); "(the grade)" when its error did."""
    outcomes = [{test.name: (test.status.name, test.score, test.output) for test in result.tests}
                for result in results]
    names = list(dict.fromkeys(name for outcome in outcomes for name in outcome))
    changed = [name for name in names if len({outcome.get(name) for outcome in outcomes}) > 1]
    if len({(result.error, result.ungraded) for result in results}) > 1:
        changed.insert(0, "(the grade)")
    return tuple(changed)


def _first_loser(result: Result) -> str:
    """The name of the first check that lost points (the runner's results are in run order)."""
    return next((test.name for test in result.tests if test.score < test.max_score), "")


def _judge_survivors(exercise: Exercise, workspace: _Workspace, pool: ServicePool,
                     survivors: list[Mutant]) -> Iterator[Verdict]:
    """Probably equivalent, or survived: graded on wider data and observed, against the solution twice."""
    if not survivors:
        return
    first, seen = _observed(exercise, workspace.folder, pool)
    second, again = _observed(exercise, workspace.folder, pool)
    for result in (first, second):
        lost = _lost(result)
        if lost is not None:  # the probe data itself is wrong: no survivor can be called equivalent
            for mutant in survivors:
                yield Verdict(mutant, SURVIVED, f"the solution loses points on the wider data: {lost[0]}")
            return
    for mutant in survivors:
        with workspace.holding(mutant) as folder:
            result, mine = _observed(exercise, folder, pool)
        lost = _lost(result)
        if lost is not None:
            yield Verdict(mutant, SURVIVED, f"full marks, but on wider data it loses {lost[0]}")
            continue
        difference = first_difference(seen, again, mine)
        if difference:
            yield Verdict(mutant, SURVIVED, f"full marks, but the checks see a difference: {difference}")
        elif seen.widened:
            yield Verdict(mutant, EQUIVALENT, "the checks see the same as for the solution, also on wider data")
        else:
            yield Verdict(mutant, EQUIVALENT, "the checks see the same as for the solution (its hidden tests have "
                                              "no wider data: they do not use the probe fixture)")
