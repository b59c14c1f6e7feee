"""The gradebook: an SQLite file of immutable grading attempts, and the views exports read.

Every grade of a (student, exercise) is a new row of `attempts`, numbered 1, 2, ... per pair, with
its per-check rows in `checks`; triggers refuse UPDATE and DELETE, so the history is never
rewritten. A submission counts as done when an attempt with its content hash and the grader's
version ended `graded` or `failed`; an `ungraded` attempt (a service went away) is kept as a record
and graded again on the next run. Exports read the `latest` view: the newest attempt that is a
result, per (student, exercise).
"""
from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from grader.errors import UsageError
from grader.results import Result, Run, Status, TestResult

SCHEMA_VERSION = 1
GRADED, FAILED, UNGRADED = "graded", "failed", "ungraded"
STATUSES = (GRADED, FAILED, UNGRADED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    exercise TEXT NOT NULL,
    attempt INTEGER NOT NULL,           -- 1, 2, ... per (student, exercise)
    status TEXT NOT NULL CHECK (status IN ('graded', 'failed', 'ungraded')),
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    content_hash TEXT NOT NULL,         -- sha256 of the submission's files
    grader_version TEXT NOT NULL,
    backend TEXT NOT NULL,
    sandbox TEXT NOT NULL,              -- where learner code ran: namespaces or process
    duration REAL NOT NULL,             -- seconds the grade took on its worker
    reason TEXT NOT NULL,               -- why a grade failed, did not happen or is incomplete
    title TEXT NOT NULL,
    source TEXT NOT NULL,               -- where the files were found, relative to SUBMISSIONS
    worker TEXT NOT NULL,               -- the worker that graded it
    graded_at TEXT NOT NULL,            -- UTC, ISO 8601
    UNIQUE (student, exercise, attempt)
);
CREATE INDEX IF NOT EXISTS attempts_by_content ON attempts (student, exercise, content_hash, grader_version);
CREATE TABLE IF NOT EXISTS checks (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    visibility TEXT NOT NULL,
    output TEXT NOT NULL,
    hint TEXT NOT NULL,
    hints TEXT NOT NULL,                -- every hint tier, a JSON list
    execution_time REAL NOT NULL,
    PRIMARY KEY (attempt_id, position)
);
CREATE TRIGGER IF NOT EXISTS attempts_are_immutable BEFORE UPDATE ON attempts
BEGIN SELECT RAISE(ABORT, 'gradebook attempts are immutable'); END;
CREATE TRIGGER IF NOT EXISTS attempts_are_kept BEFORE DELETE ON attempts
BEGIN SELECT RAISE(ABORT, 'gradebook attempts are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS checks_are_immutable BEFORE UPDATE ON checks
BEGIN SELECT RAISE(ABORT, 'gradebook checks are immutable'); END;
CREATE TRIGGER IF NOT EXISTS checks_are_kept BEFORE DELETE ON checks
BEGIN SELECT RAISE(ABORT, 'gradebook checks are never deleted'); END;
CREATE VIEW IF NOT EXISTS latest AS
    SELECT a.* FROM attempts AS a
    WHERE a.status IN ('graded', 'failed')
      AND a.attempt = (SELECT MAX(b.attempt) FROM attempts AS b
                       WHERE b.student = a.student AND b.exercise = a.exercise
                         AND b.status IN ('graded', 'failed'));
"""


class GradebookError(UsageError):
    """The gradebook file cannot be used (not a gradebook, a newer schema, or missing)."""


@dataclass(frozen=True)
class Attempt:
    """One row of the gradebook: a Result and how it came about."""

    student: str
    exercise: str
    attempt: int
    status: str
    content_hash: str
    result: Result
    reason: str = ""
    source: str = ""
    worker: str = ""
    graded_at: str = ""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    """An open gradebook file; one writer (the batch's client process) at a time."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise GradebookError(f"{self.path}: no gradebook here (grade a batch first, or give --gradebook)")
        if self.path.parent and not self.path.parent.is_dir():
            raise GradebookError(f"{self.path}: the folder {self.path.parent} does not exist")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL: no fsync at every commit, only at checkpoints. A process that
            # crashes or is killed loses nothing committed; only a power loss or an OS crash can undo
            # the last commits, never corrupt the file.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{self.path} is not a gradebook: {exc}") from None

    def _migrate(self) -> None:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "attempts" not in tables:
            raise GradebookError(f"{self.path} is an SQLite file but not a gradebook")
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise GradebookError(f"{self.path} was written by a newer grader (schema {row[0]}); upgrade")
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def done(self, student: str, exercise: str, content_hash: str, version: str) -> bool:
        """Whether this exact submission already has a result from this grader version."""
        row = self.db.execute(
            "SELECT 1 FROM attempts WHERE student = ? AND exercise = ? AND content_hash = ? "
            "AND grader_version = ? AND status IN ('graded', 'failed') LIMIT 1",
            (student, exercise, content_hash, version),
        ).fetchone()
        return row is not None

    def record(self, student: str, exercise: str, status: str, result: Result, *, content_hash: str,
               reason: str = "", source: str = "", worker: str = "") -> int:
        """Append an attempt and its checks in one transaction; returns its attempt number."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        with self._transaction():
            number = self.db.execute(
                "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE student = ? AND exercise = ?",
                (student, exercise),
            ).fetchone()[0]
            cursor = self.db.execute(
                "INSERT INTO attempts (student, exercise, attempt, status, score, max_score, content_hash, "
                "grader_version, backend, sandbox, duration, reason, title, source, worker, graded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (student, exercise, number, status, result.score, result.max_score, content_hash,
                 result.version, result.backend, result.sandbox, result.duration, reason or result.error,
                 result.title, source, worker, _now()),
            )
            self.db.executemany(
                "INSERT INTO checks (attempt_id, position, name, status, score, max_score, visibility, "
                "output, hint, hints, execution_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(cursor.lastrowid, i, t.name, t.status.value, t.score, t.max_score, t.visibility, t.output,
                  t.hint, json.dumps(list(t.hints), ensure_ascii=False), t.execution_time)
                 for i, t in enumerate(result.tests)],
            )
        return int(number)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------------

    def attempts(self, *, latest: bool = False) -> Iterator[Attempt]:
        """Every attempt in order of recording, or only the latest result per (student, exercise)."""
        source = "latest" if latest else "attempts"
        rows = self.db.execute(f"SELECT * FROM {source} ORDER BY student, exercise, attempt").fetchall()
        checks: dict[int, list[TestResult]] = {}
        for row in self.db.execute(
            "SELECT * FROM checks WHERE attempt_id IN (SELECT id FROM " + source + ") ORDER BY attempt_id, position"
        ):
            checks.setdefault(row["attempt_id"], []).append(TestResult(
                name=row["name"], status=Status(row["status"]), score=row["score"], max_score=row["max_score"],
                output=row["output"], visibility=row["visibility"], hint=row["hint"],
                execution_time=row["execution_time"], hints=tuple(json.loads(row["hints"])),
            ))
        for row in rows:
            result = Result(
                exercise=row["exercise"], title=row["title"], submission=f"{row['student']}/{row['exercise']}",
                backend=row["backend"], tests=tuple(checks.get(row["id"], ())), duration=row["duration"],
                version=row["grader_version"], error=row["reason"],
                ungraded=row["status"] == UNGRADED, points=row["max_score"], sandbox=row["sandbox"],
            )
            yield Attempt(student=row["student"], exercise=row["exercise"], attempt=row["attempt"],
                          status=row["status"], content_hash=row["content_hash"], result=result,
                          reason=row["reason"], source=row["source"], worker=row["worker"],
                          graded_at=row["graded_at"])

    def students(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT student FROM latest ORDER BY student")]

    def runs(self) -> dict[str, Run]:
        """Per student, a Run of their latest results (what the per-student reporters render)."""
        results: dict[str, list[Result]] = {}
        for attempt in self.attempts(latest=True):
            results.setdefault(attempt.student, []).append(attempt.result)
        return {student: Run(results=tuple(rs), duration=round(sum(r.duration for r in rs), 3))
                for student, rs in results.items()}


# -- exports: views over the latest attempts -----------------------------------------------------

EXPORT_FILES = {"gradescope": "{student}/results.json", "json": "{student}.json", "junit": "{student}.xml"}


def export_per_student(book: Gradebook, fmt: str, folder: Path) -> list[Path]:
    """One report per student in `folder`, rendered by the reporter of `fmt` from their latest results."""
    from grader.report import render

    if fmt not in EXPORT_FILES:
        raise UsageError(f"unknown per-student format {fmt!r}; choose one of {', '.join(EXPORT_FILES)}")
    written = []
    for student, run in book.runs().items():
        path = Path(folder) / EXPORT_FILES[fmt].format(student=safe_name(student))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(run, fmt), encoding="utf-8")
        written.append(path)
    return written


def safe_name(student: str) -> str:
    """A student id usable as one file name: separators and leading dots replaced."""
    name = "".join("_" if ch in '/\\:*?"<>|' or ord(ch) < 32 else ch for ch in student).lstrip(".")
    return name or "_"


def export_csv(book: Gradebook, order: Sequence[str] = ()) -> str:
    """Student x exercise scores with totals, exercises in course `order`; an exercise a student did not
    submit is empty (0 in the total)."""
    latest = list(book.attempts(latest=True))
    rank = {slug: i for i, slug in enumerate(order)}
    order = sorted({a.exercise for a in latest}, key=lambda slug: (rank.get(slug, len(rank)), slug))
    maxima: dict[str, float] = {}
    cells: dict[str, dict[str, Attempt]] = {}
    for attempt in latest:
        cells.setdefault(attempt.student, {})[attempt.exercise] = attempt
        maxima[attempt.exercise] = max(maxima.get(attempt.exercise, 0.0), attempt.result.max_score)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *order, "total", "max"])
    total_max = sum(maxima.get(e, 0.0) for e in order)
    for student in sorted(cells):
        row = cells[student]
        scores = [row[e].result.score if e in row else None for e in order]
        writer.writerow([student, *("" if s is None else f"{s:g}" for s in scores),
                         f"{sum(s for s in scores if s is not None):g}", f"{total_max:g}"])
    writer.writerow(["(max)", *(f"{maxima.get(e, 0.0):g}" for e in order), f"{total_max:g}", f"{total_max:g}"])
    return buffer.getvalue()
