"""What `grade run` was pointed at: exercise slugs, `all`, an exercise folder (`.`), or learner files.

A target is resolved to the exercise, the folder holding the learner's files, and (for a file
target) the files whose checks are graded; the other checks are reported as not run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader import catalog
from grader.catalog import Exercise
from grader.errors import UnknownExercise, UsageError


def display_path(path: Path) -> str:
    """`path` as the user would type it from the current folder (relative when below it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Target:
    """One exercise to grade: where the learner's files are and which of them to grade."""

    exercise: Exercise
    learner_dir: Path
    files: tuple[str, ...] = ()  # grade only the checks that read these files; () for every check


def exercise_here(exercises: list[Exercise], cwd: Path) -> tuple[Exercise, Path] | None:
    """The exercise whose folder holds `cwd` (any folder named after a slug), and that folder."""
    by_slug = {e.slug: e for e in exercises}
    here = cwd.resolve()
    for folder in (here, *here.parents):
        exercise = by_slug.get(folder.name)
        if exercise is None:
            continue
        if (folder / "exercise.toml").is_file() or any((folder / name).exists() for name in exercise.files):
            return exercise, folder
    return None


def resolve(root: Path, targets: tuple[str, ...], workspace: Path, cwd: Path | None = None) -> list[Target]:
    """The targets of `grade run`, in catalogue order; with no target, the exercise folder the user
    stands in."""
    cwd = (cwd or Path.cwd()).resolve()
    exercises = catalog.load_all(root)
    by_slug = {e.slug: e for e in exercises}
    if not targets:
        found = exercise_here(exercises, cwd)
        if found is None:
            raise UsageError("which exercise? Name one (grade run log_parsing), or `all`, or run grade "
                             "inside an exercise folder")
        targets = (str(found[1]),)
    if "all" in targets:
        return [Target(e, workspace / e.slug) for e in exercises]
    chosen: dict[str, Target] = {}
    for text in targets:
        target = _one(text, by_slug, exercises, workspace, cwd, targets)
        known = chosen.get(target.exercise.slug)
        if known is not None and (known.files and target.files):
            target = Target(target.exercise, target.learner_dir, tuple(dict.fromkeys(known.files + target.files)))
        elif known is not None:
            target = Target(target.exercise, target.learner_dir)  # the whole exercise wins over a file
        chosen[target.exercise.slug] = target
    return [chosen[e.slug] for e in exercises if e.slug in chosen]


def _one(text: str, by_slug: dict[str, Exercise], exercises: list[Exercise], workspace: Path, cwd: Path,
         targets: tuple[str, ...]) -> Target:
    if text in by_slug:
        return Target(by_slug[text], workspace / text)
    path = Path(text)
    for candidate in (cwd / path, workspace / path):
        if candidate.is_dir():
            found = exercise_here(exercises, candidate)
            if found is not None:
                return Target(found[0], found[1])
        elif candidate.is_file():
            found = exercise_here(exercises, candidate.parent)
            if found is not None:
                exercise, folder = found
                name = candidate.resolve().relative_to(folder).as_posix()
                if name not in exercise.files:
                    raise UsageError(f"{text} is not a file graded in {exercise.slug}; its files are "
                                     f"{', '.join(exercise.files)}")
                return Target(exercise, folder, (name,))
    known = ", ".join(by_slug) or "(none)"
    if path.exists():
        raise UsageError(f"{text} is not in an exercise folder; known exercises: {known}")
    named = [t for t in targets if t in by_slug]
    if named and "/" not in text and "." not in text:
        raise UnknownExercise(f"unknown exercise {text!r}; to grade only the checks of {named[0]} whose "
                              f"names match it: grade run {named[0]} -k {text}")
    raise UnknownExercise(f"unknown exercise {text!r}; known exercises: {known}")
