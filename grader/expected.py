"""What checks compare against that comes from the reference solution: expected values.

In the instructor's course a check computes them from solutions/ (`compute()` runs, and may read the
reference files). A published bundle holds no solutions: `grade publish` records every expected value
the checks asked for while it validated the course, with the check that asked, and writes the ones a
bundle's checks need into `expected/<slug>.json`. Graded from a bundle, a check reads the value back;
one that is not there is a defect of the bundle (the check errors, never the learner's failure).

A learner bundle holds only the values its visible checks asked for (for SQL, the expected rows of the
public database: what feedback shows anyway); an autograder bundle holds them all.
"""
from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.services.sql import QueryResult, SqlInstance

FOLDER = "expected"
FORMAT = 1


class ExpectedMissing(GraderError):
    """A bundle lacks an expected value one of its checks asks for."""


@dataclass
class Recording:
    """Expected values computed while grading from solutions/: slug -> key -> value, and who asked."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    askers: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # slug -> key -> nodeids

    def add(self, slug: str, key: str, value: Any, nodeid: str) -> None:
        self.values.setdefault(slug, {})[key] = value
        self.askers.setdefault(slug, {}).setdefault(key, set()).add(nodeid)

    def values_for(self, slug: str, nodeids: set[str] | None = None) -> dict[str, Any]:
        """The values of `slug` asked for by any of `nodeids` (every value when None), sorted by key."""
        askers = self.askers.get(slug, {})
        return {key: value for key, value in sorted(self.values.get(slug, {}).items())
                if nodeids is None or askers.get(key, set()) & nodeids}


_RECORDINGS: list[Recording] = []


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    """Record every expected value computed from solutions/ in this process until the block ends."""
    record = Recording()
    _RECORDINGS.append(record)
    try:
        yield record
    finally:
        _RECORDINGS.remove(record)


def path_for(root: Path, slug: str) -> Path:
    return root / FOLDER / f"{slug}.json"


def write(root: Path, slug: str, values: dict[str, Any]) -> Path:
    """Write `values` as the published expected values of `slug` in the bundle at `root`."""
    path = path_for(root, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "exercise": slug, "values": values}, ensure_ascii=False,
                               sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def published(exercise: Exercise) -> dict[str, Any] | None:
    """The exercise's published expected values, or None in a course that computes them from solutions/."""
    path = path_for(exercise.root, exercise.slug)
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    return dict(document["values"])


class Expected:
    """The `expected` fixture of one check: expected values, computed or published."""

    def __init__(self, exercise: Exercise, nodeid: str, stored: dict[str, Any] | None,
                 sql: Any | None = None) -> None:
        self.exercise = exercise
        self.nodeid = nodeid
        self._stored = stored
        self._sql = sql

    def value(self, key: str, compute: Callable[[], Any]) -> Any:
        """The expected value named `key`: `compute()` (JSON data; it may read solutions/) in the course,
        the published value in a bundle."""
        if self._stored is not None:
            try:
                return self._stored[key]
            except KeyError:
                raise ExpectedMissing(
                    f"this bundle has no expected value {key!r} for {self.nodeid}: publish the course again"
                ) from None
        try:
            value = json.loads(json.dumps(compute()))  # exactly what a bundle would read back
        except FileNotFoundError as exc:
            raise ExpectedMissing(
                f"{key!r} is computed from the reference solution, and {exc.filename} is not here; a published "
                f"bundle reads it from {FOLDER}/{self.exercise.slug}.json instead"
            ) from None
        for record in _RECORDINGS:
            record.add(self.exercise.slug, key, value, self.nodeid)
        return value

    def sql(self, instance: SqlInstance, filename: str) -> QueryResult:
        """The result of the reference query `filename` (solutions/<slug>/<filename>) on `instance`."""
        from grader.checks.sql import reference_result
        from grader.services.sql import QueryResult

        def compute() -> dict[str, Any]:
            if self._sql is None:
                raise ExpectedMissing(f"exercise {self.exercise.slug} lists no sql service in exercise.toml")
            sql = self._sql
            text = (self.exercise.solution_dir / filename).read_text(encoding="utf-8")

            def run() -> dict[str, Any]:
                result = reference_result(sql, instance, text, filename=filename)
                return json.loads(json.dumps({"columns": list(result.columns), "rows": [list(row) for row in result.rows]}))

            if getattr(sql, "backend", "") != "sqlite":
                return run()  # a MySQL or MariaDB server of its own version: asked every time
            return _kept(["reference", *_sqlite_engine(), instance.key, text], run)

        data = self.value(f"sql/{filename}/{instance.key}", compute)
        return QueryResult(tuple(data["columns"]), tuple(tuple(row) for row in data["rows"]))


@functools.cache
def _sqlite_engine() -> list[str]:
    """What a reference result on SQLite depends on besides the database and the query: SQLite's version
    and the grader's code that runs the query and makes its values portable."""
    import hashlib
    import sqlite3

    import grader.checks.sql
    import grader.services.sql

    digest = hashlib.sha256()
    folder = Path(grader.services.sql.__file__).parent
    for source in [Path(grader.checks.sql.__file__), *sorted(folder.glob("*.py"))]:
        digest.update(source.read_bytes())
    return ["sqlite", sqlite3.sqlite_version, digest.hexdigest()]


def _kept(key: list[str], compute: Callable[[], Any]) -> Any:
    """`compute()`'s JSON value, kept in the grader's private cache between processes under a digest of
    `key` (everything the value depends on): the reference queries of a grade on the embedded SQLite
    databases are run once per machine, not once per grade. The cache is verified like the databases
    beside it (grader.services.cache); one that cannot be used is only slower."""
    import hashlib

    from grader.services.cache import cache_dir, read_verified, write_verified

    name = hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:40]
    if name in _KEPT:  # a process that grades again (watch, a batch worker) reads each file once
        return _KEPT[name]
    try:
        path = cache_dir() / f"expected-{name}.json"
    except GraderError:
        return compute()
    data = read_verified(path)
    if data is not None:
        with contextlib.suppress(ValueError):
            value = _KEPT[name] = json.loads(data)
            return value
    value = _KEPT[name] = compute()
    with contextlib.suppress(OSError):
        write_verified(path, json.dumps(value).encode("utf-8"))
    return value


# what _kept read or computed in this process, by the digest of its key (Expected.value hands out copies)
_KEPT: dict[str, Any] = {}
