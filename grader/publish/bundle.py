"""What every bundle shares: the validated plan, the pieces copied from the one source, the grader itself.

A bundle is built from exercises/, tests/hidden/, fixtures/ and what validation recorded of solutions/
(the expected values); solutions/ itself never travels. The grader travels as its own source under
`.grader/`, with a pyproject.toml that installs it (`pip install .`), so a bundle needs nothing but an
index of packages.
"""
from __future__ import annotations

import ast
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from string import Template
from typing import Iterable, Sequence

from grader import catalog, expected
from grader.catalog import Exercise
from grader.errors import PublishError, UsageError
from grader.publish.visibility import plan_files, strip, travels
from grader.results import Result
from grader.runner import ServicePool, version
from grader.validate import validate

MARKER = ".grade-bundle"  # written into every bundle folder: publishing may replace such a folder
VENDOR = ".grader"  # where a bundle keeps the grader's source
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass(frozen=True)
class Plan:
    """A course that validated, ready to publish: its exercises, their checks, the expected values."""

    root: Path
    exercises: tuple[Exercise, ...]
    results: dict[str, Result]  # the solution's grade of each exercise: every check with its visibility
    recording: expected.Recording

    def files(self, exercise: Exercise) -> dict[str, dict[str, bool]]:
        """Test file -> function -> whether it ships to learners."""
        return plan_files(exercise.slug, self.results[exercise.slug].tests)

    def visible_points(self, exercise: Exercise) -> float:
        return round(sum(t.max_score for t in self.results[exercise.slug].tests if travels(t.visibility)), 4)

    def expected_values(self, exercise: Exercise, *, visible_only: bool) -> dict[str, object]:
        tests = self.results[exercise.slug].tests
        nodeids = {t.nodeid for t in tests if travels(t.visibility)} if visible_only else None
        return self.recording.values_for(exercise.slug, nodeids)


def make_plan(root: Path, slugs: Sequence[str], pool: ServicePool) -> Plan:
    """Validate the exercises named by `slugs` (all when empty), recording what their checks expect;
    refuse a course that does not validate."""
    exercises = catalog.select(root, list(slugs))
    if not exercises:
        raise UsageError("the course has no exercises to publish")
    with expected.recording() as record:
        verdicts = [validate(exercise, pool) for exercise in exercises]
    failed = [v for v in verdicts if not v.ok]
    if failed:
        lines = [f"{v.exercise.slug}: {problem}" for v in failed for problem in v.problems]
        raise PublishError("the course does not validate, so nothing was published (see `grade validate`):\n"
                           + "\n".join(f"  - {line}" for line in lines))
    results = {v.exercise.slug: v.solution for v in verdicts if v.solution is not None}
    plan = Plan(root=root, exercises=tuple(exercises), results=results, recording=record)
    for exercise in exercises:
        plan.files(exercise)  # a check that cannot be split is refused before anything is written
    return plan


# --- folders ----------------------------------------------------------------------------------------


def fresh_folder(out: Path) -> Path:
    """`out`, empty: a folder that does not exist or is empty, or an earlier bundle (replaced)."""
    out = out.resolve()
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise UsageError(f"{out} is not empty: publish into a new folder (an earlier bundle is replaced)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text(f"published by grade {version()}\n", encoding="utf-8")
    return out


def copy_exercises(plan: Plan, out: Path) -> None:
    """exercises/<slug>/ as learners receive them: exercise.toml, README.md and the stub files."""
    for exercise in plan.exercises:
        shutil.copytree(exercise.stub_dir, out / "exercises" / exercise.slug, ignore=SKIP)


def copy_tests(plan: Plan, out: Path, *, folder: str, visible_only: bool) -> list[Path]:
    """The exercises' checks into out/tests/<folder>/<slug>/ (only the visible ones when `visible_only`),
    with the files beside them that the copied modules use; the Python files written."""
    written: list[Path] = []
    for exercise in plan.exercises:
        source, target = exercise.tests_dir, out / "tests" / folder / exercise.slug
        if not visible_only:
            shutil.copytree(source, target, ignore=SKIP)
            written += sorted(target.rglob("*.py"))
            continue
        functions = plan.files(exercise)
        kept: list[Path] = []
        for path in sorted(source.glob("test_*.py")):
            text = strip(path.read_text(encoding="utf-8"),
                         functions.get(f"{exercise.slug}/{path.name}", {}))
            if text is not None:
                target.mkdir(parents=True, exist_ok=True)
                (target / path.name).write_text(text, encoding="utf-8")
                kept.append(target / path.name)
        if not kept:
            continue
        if (source / "conftest.py").is_file():
            shutil.copy2(source / "conftest.py", target / "conftest.py")
            kept.append(target / "conftest.py")
        _copy_used_neighbours(source, target, kept)
        written += sorted(target.rglob("*.py"))
    return written


def _copy_used_neighbours(source: Path, target: Path, kept: list[Path]) -> None:
    """Files beside the tests that a copied module imports (a module) or names (a data file)."""
    todo = list(kept)
    while todo:
        tree = ast.parse(todo.pop().read_text(encoding="utf-8"))
        words = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        words |= {name for module in imported_modules(tree, "") for name in (module, module.split(".")[-1])}
        for path in source.iterdir():
            if path.is_file() and path.suffix != ".pyc" and not (target / path.name).exists() and (
                    path.name in words or (path.suffix == ".py" and path.stem in words)):
                shutil.copy2(path, target / path.name)
                if path.suffix == ".py":
                    todo.append(target / path.name)


def imported_modules(tree: ast.AST, package: str) -> set[str]:
    """The absolute names of the modules `tree` imports (`package`: where a relative import starts)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from fixtures import logs`
    return names


def copy_fixtures(root: Path, out: Path, modules_of: Iterable[Path]) -> None:
    """The modules of fixtures/ that `modules_of` import, and what those import in turn: a subpackage
    whole, a module of fixtures/ alone, fixtures/__init__.py always."""
    source = root / "fixtures"
    if not source.is_dir():
        return
    wanted: set[Path] = set()
    todo = [(path, "") for path in modules_of]
    while todo:
        path, package = todo.pop()
        for name in imported_modules(ast.parse(path.read_text(encoding="utf-8")), package):
            parts = name.split(".")
            if parts[0] != "fixtures" or len(parts) < 2:
                continue
            place = source / parts[1]
            found = place if place.is_dir() else place.with_suffix(".py")
            if found.exists() and found not in wanted:
                wanted.add(found)
                inner = sorted(found.rglob("*.py")) if found.is_dir() else [found]
                todo += [(p, ".".join(["fixtures", *p.relative_to(source).with_suffix("").parts[:-1]]))
                         for p in inner]
    (out / "fixtures").mkdir(parents=True, exist_ok=True)
    if (source / "__init__.py").is_file():
        shutil.copy2(source / "__init__.py", out / "fixtures" / "__init__.py")
    for found in sorted(wanted):
        if found.is_dir():
            shutil.copytree(found, out / "fixtures" / found.name, ignore=SKIP)
        else:
            shutil.copy2(found, out / "fixtures" / found.name)


def write_expected(plan: Plan, out: Path, *, visible_only: bool) -> None:
    """expected/<slug>.json: the values the bundle's checks compare against (none of solutions/)."""
    for exercise in plan.exercises:
        values = plan.expected_values(exercise, visible_only=visible_only)
        if values:
            expected.write(out, exercise.slug, values)


# --- the grader itself --------------------------------------------------------------------------------


def requirements() -> list[str]:
    """The grader's own runtime requirements, as its installed metadata states them."""
    return [r for r in metadata.requires("dataeng-grader") or [] if "extra ==" not in r]


def vendor_grader(out: Path) -> None:
    """The grader's source under out/.grader/ and a pyproject.toml that installs it with `pip install .`."""
    import grader

    package = Path(grader.__file__).resolve().parent
    shutil.copytree(package, out / VENDOR / "grader", ignore=SKIP)
    meta = metadata.metadata("dataeng-grader")
    deps = ",\n".join(f"    {_toml_string(r)}" for r in requirements())
    text = template("pyproject.toml.tmpl").substitute(
        version=version(), requires_python=_toml_string(meta.get("Requires-Python") or ">=3.10"),
        dependencies=deps, vendor=VENDOR)
    (out / "pyproject.toml").write_text(text, encoding="utf-8")


def _toml_string(text: str) -> str:
    import json

    return json.dumps(text)


def template(name: str) -> Template:
    """A file of grader/publish/templates/bundle/, as a string.Template."""
    path = resources.files("grader.publish") / "templates" / "bundle" / name
    return Template(path.read_text(encoding="utf-8"))


# --- archives -----------------------------------------------------------------------------------------


def zip_folder(folder: Path, target: Path, *, top: str = "") -> Path:
    """Zip `folder`'s contents into `target` (under the folder `top` when given), keeping the execute
    bit of scripts; entries sorted and dated alike, so the same bundle zips to the same bytes."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or path == target:
                continue
            name = "/".join(filter(None, [top, *path.relative_to(folder).parts]))
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target
