"""Finds the course (exercises/, solutions/, tests/hidden/) and reads each exercise.toml."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import CatalogError, UnknownExercise

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_SERVICES = ("sql", "aws")
DEFAULT_TIMEOUT = 10.0


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
    config: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def stub_dir(self) -> Path:
        return self.root / "exercises" / self.slug

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions" / self.slug

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests" / "hidden" / self.slug


def is_course_root(path: Path) -> bool:
    return (path / "exercises").is_dir() and (path / "tests" / "hidden").is_dir()


def find_root(start: Path | None = None) -> Path:
    """The course root: $GRADER_COURSE_ROOT, else the nearest folder up from `start` with
    exercises/ and tests/hidden/, else the checkout this package was installed from."""
    env = os.environ.get("GRADER_COURSE_ROOT")
    if env:
        root = Path(env).resolve()
        if not is_course_root(root):
            raise CatalogError(f"GRADER_COURSE_ROOT={env} has no exercises/ and tests/hidden/ folders")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_course_root(candidate):
            return candidate
    installed = Path(__file__).resolve().parent.parent
    if is_course_root(installed):
        return installed
    raise CatalogError(
        "no course found: run grade inside a folder that holds exercises/ and tests/hidden/, "
        "or set GRADER_COURSE_ROOT"
    )


def _load(root: Path, slug: str) -> Exercise:
    path = root / "exercises" / slug / "exercise.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    missing = [key for key in ("title", "files") if key not in data]
    if missing:
        raise CatalogError(f"{path}: missing {', '.join(missing)}")
    services = tuple(data.get("services", ()))
    unknown = [s for s in services if s not in KNOWN_SERVICES]
    if unknown:
        raise CatalogError(
            f"{path}: unknown service {', '.join(unknown)}; known: {', '.join(KNOWN_SERVICES)}"
        )
    files = tuple(data["files"])
    module = data.get("module")
    if module is None:
        module = next((Path(f).stem for f in files if f.endswith(".py")), None)
    return Exercise(
        slug=slug,
        title=str(data["title"]),
        summary=str(data.get("summary", "")),
        order=int(data.get("order", 1000)),
        points=float(data.get("points", 0)),
        files=files,
        module=module,
        services=services,
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        root=root,
        config=data,
    )


def load_all(root: Path) -> list[Exercise]:
    """Every exercise of the course, in order."""
    exercises = [
        _load(root, toml.parent.name) for toml in sorted((root / "exercises").glob("*/exercise.toml"))
    ]
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
        raise UnknownExercise(f"unknown exercise {', '.join(map(repr, unknown))}; known exercises: {known}")
    wanted = set(targets)
    return [e for e in exercises if e.slug in wanted]
