"""Finds the course (exercises/, solutions/, tests/) and reads each exercise.toml, strictly.

An exercise.toml with a mistake (an unknown key, a missing or mistyped value, a module that is not one
of its files) does not stop the course: that exercise is loaded with `error` set, listed as broken and
graded as an instructor's error, and every other exercise lists and grades as usual.
"""
from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.errors import CatalogError, UnknownExercise

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_SERVICES = ("sql", "aws", "learner_db")
DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 1024
REQUIRED_KEYS = ("title", "points", "files")
#: every key exercise.toml may hold; exercise-specific settings go in the [config] table
KNOWN_KEYS = (*REQUIRED_KEYS, "summary", "order", "module", "services", "timeout", "warm_clients", "memory_mb",
              "support", "config")
#: where a course keeps each exercise's tests: the instructor's source and an autograder bundle hold
#: every check in tests/hidden/, a learner bundle only the visible ones in tests/visible/
TEST_FOLDERS = ("hidden", "visible")


@dataclass(frozen=True)
class Exercise:
    """One exercise as exercise.toml describes it; paths derive from the slug."""

    slug: str
    title: str
    summary: str
    order: int
    points: float
    files: tuple[str, ...]
    module: str | None
    services: tuple[str, ...]
    timeout: float
    root: Path  # the course root
    config: dict[str, Any] = field(default_factory=dict, compare=False)  # the [config] table
    warm_clients: tuple[str, ...] = ()
    memory_mb: int = DEFAULT_MEMORY_MB
    support: tuple[str, ...] = ()  # files learners use but do not edit: always graded as the course ships them
    error: str = ""  # why this exercise cannot be graded (a mistake of the course), "" when it can

    @property
    def stub_dir(self) -> Path:
        return self.root / "exercises" / self.slug

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions" / self.slug

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests" / _test_folder(self.root) / self.slug


def _test_folder(root: Path) -> str:
    return next((name for name in TEST_FOLDERS if (root / "tests" / name).is_dir()), TEST_FOLDERS[0])


def is_course_root(path: Path) -> bool:
    """A course root holds exercises/ and tests/hidden/ (or tests/visible/ in a learner bundle)."""
    return (path / "exercises").is_dir() and any((path / "tests" / name).is_dir() for name in TEST_FOLDERS)


def find_root(start: Path | None = None, *, course: Path | None = None) -> Path:
    """The course root: `course` (the --course option), else $GRADER_COURSE_ROOT, else the nearest folder
    up from `start` (default: the current folder) that holds a course. Never the grader's own checkout:
    a learner who stands outside their course is told so instead of grading another one."""
    explicit = course if course is not None else os.environ.get("GRADER_COURSE_ROOT") or None
    if explicit is not None:
        root = Path(explicit).resolve()
        if not is_course_root(root):
            source = "--course" if course is not None else "GRADER_COURSE_ROOT="
            raise CatalogError(f"{source}{'' if source.endswith('=') else ' '}{explicit} has no exercises/ and "
                               "tests/hidden/ (or tests/visible/) folders")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_course_root(candidate):
            return candidate
    raise CatalogError(
        f"no course here: {here} is not inside a folder with exercises/ and tests/. Go to your course "
        "folder, or name it with --course DIR"
    )


def closest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The choice closest to `word` when one is close enough to be a typo of it, else None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """", did you mean 'x'?" when a choice is close to `word`, else "."."""
    match = closest(word, choices)
    return f", did you mean '{match}'?" if match else "."


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


#: key -> (test, what the value must be)
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "title": (_text, "a non-empty string"),
    "summary": (lambda v: isinstance(v, str), "a string"),
    "order": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "points": (_positive, "a number above 0 (the sum of the hidden tests' points)"),
    "files": (lambda v: _texts(v) and bool(v), "a non-empty list of file names"),
    "module": (_text, "the name of a Python module, e.g. \"parse_logs\" for parse_logs.py"),
    "services": (_texts, f"a list of services ({', '.join(KNOWN_SERVICES)})"),
    "timeout": (_positive, "a number of seconds above 0"),
    "warm_clients": (_texts, "a list of boto3 service names, e.g. [\"dynamodb\"]"),
    "memory_mb": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 64, "an integer of at least 64"),
    "support": (_texts, "a list of file names in exercises/<slug>/ that learners use but do not edit"),
    "config": (lambda v: isinstance(v, dict), "a table: [config]"),
}


def problems_of(data: dict[str, Any]) -> list[str]:
    """Every way `data` (a parsed exercise.toml) breaks the contract, as messages for the instructor."""
    problems = []
    for key in data:
        if key not in KNOWN_KEYS:
            problems.append(f"unknown key '{key}'{did_you_mean(key, KNOWN_KEYS)} Known keys: {', '.join(KNOWN_KEYS)}. "
                            "Settings of this exercise's own tests go under [config].")
    for key in REQUIRED_KEYS:
        if key not in data:
            problems.append(f"'{key}' is missing: it must be {CHECKS[key][1]}")
    for key, value in data.items():
        check = CHECKS.get(key)
        if check is not None and not check[0](value):
            problems.append(f"'{key}' must be {check[1]}, not {value!r}")
    services = data.get("services")
    if _texts(services):
        for name in services:
            if name not in KNOWN_SERVICES:
                problems.append(f"unknown service '{name}'{did_you_mean(name, KNOWN_SERVICES)} Known services: "
                                f"{', '.join(KNOWN_SERVICES)}.")
    module, files = data.get("module"), data.get("files")
    if _text(module) and _texts(files) and f"{module.replace('.', '/')}.py" not in files:
        python = [f for f in files if f.endswith(".py")]
        problems.append(f"module '{module}' is not one of the files: list {module.replace('.', '/')}.py in "
                        f"'files'{', or name one of ' + ', '.join(python) if python else ''}")
    return problems


def _load(root: Path, slug: str) -> Exercise:
    path = root / "exercises" / slug / "exercise.toml"
    where = f"exercises/{slug}/exercise.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{where}: {exc}") from None
    problems = problems_of(data)
    if problems:
        raise CatalogError(f"{where}: " + "; ".join(problems))
    files = tuple(data["files"])
    module = data.get("module")
    if module is None:
        module = next((Path(f).stem for f in files if f.endswith(".py")), None)
    return Exercise(
        slug=slug,
        title=str(data["title"]),
        summary=str(data.get("summary", "")),
        order=int(data.get("order", 1000)),
        points=float(data["points"]),
        files=files,
        module=module,
        services=tuple(data.get("services", ())),
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        root=root,
        config=dict(data.get("config", {})),
        warm_clients=tuple(data.get("warm_clients", ())),
        memory_mb=int(data.get("memory_mb", DEFAULT_MEMORY_MB)),
        support=tuple(data.get("support", ())),
    )


def _broken(root: Path, slug: str, error: str) -> Exercise:
    """An exercise whose exercise.toml cannot be used: listed, and graded as the course's error."""
    try:
        order = int(tomllib.loads((root / "exercises" / slug / "exercise.toml").read_text(encoding="utf-8"))["order"])
    except Exception:
        order = 1000
    return Exercise(slug=slug, title=slug, summary="", order=order, points=0.0, files=(), module=None,
                    services=(), timeout=DEFAULT_TIMEOUT, root=root, error=error)


def load(root: Path, slug: str) -> Exercise:
    """One exercise; a broken exercise.toml gives an Exercise whose `error` says what to fix."""
    try:
        return _load(root, slug)
    except CatalogError as exc:
        return _broken(root, slug, str(exc))


def load_all(root: Path) -> list[Exercise]:
    """Every exercise of the course, in order; broken ones included, with `error` set."""
    exercises = [load(root, toml.parent.name) for toml in sorted((root / "exercises").glob("*/exercise.toml"))]
    return sorted(exercises, key=lambda e: (e.order, e.slug))


def select(root: Path, targets: list[str] | tuple[str, ...]) -> list[Exercise]:
    """The exercises named by `targets` (slugs or "all"), in catalogue order, each once."""
    exercises = load_all(root)
    by_slug = {e.slug: e for e in exercises}
    if not targets or "all" in targets:
        return exercises
    unknown = [t for t in targets if t not in by_slug]
    if unknown:
        known = ", ".join(by_slug) or "(none)"
        names = ", ".join(f"'{t}'" + (f" (did you mean '{m}'?)" if (m := closest(t, list(by_slug))) else "")
                          for t in unknown)
        raise UnknownExercise(f"unknown exercise {names}; known exercises: {known}")
    wanted = set(targets)
    return [e for e in exercises if e.slug in wanted]
