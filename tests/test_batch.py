"""grade batch as a library: finding submissions in every layout, the warm worker, and a class graded on
a local Dask cluster with the scores each submission earns on its own."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import textwrap
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Callable

import pytest
from distributed.comm.core import CommClosedError

from fixtures import classroom
from grader import catalog
from grader.batch import (FAILED, GRADED, UNGRADED, Listener, Submission, WarmGrader, _outcome, content_hash,
                          grade_batch, plan)
from grader.gradebook import Gradebook
from grader.runner import ServicePool, grade
from grader.services import ServiceOptions

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def course() -> list[catalog.Exercise]:
    return catalog.load_all(ROOT)


def pick(course: list[catalog.Exercise], *slugs: str) -> list[catalog.Exercise]:
    return [e for e in course if e.slug in slugs]


# -- finding submissions -----------------------------------------------------------------------

def test_folders_per_exercise_and_loose_files(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    write(tmp_path / "ann/log_parsing/parse_logs.py")
    write(tmp_path / "ann/log_parsing/helpers.py")
    write(tmp_path / "ann/sql_joins/q1_short_films.sql", "SELECT 1;")
    write(tmp_path / "bob/parse_logs.py")
    write(tmp_path / "bob/q1_short_films.sql", "SELECT 1;")
    write(tmp_path / "bob/q2_short_film_categories.sql", "SELECT 2;")
    write(tmp_path / "bob/notes.txt", "my notes")
    write(tmp_path / "bob/README.md", "# mine")
    write(tmp_path / "cat/exercises/log_parsing/parse_logs.py")  # a copy of the learner's course
    found = plan(tmp_path, pick(course, "log_parsing", "sql_joins"), course)
    assert found.layout == "folders"
    assert found.students == 3
    assert [(s.student, s.exercise, s.source, [name for name, _ in s.files]) for s in found.submissions] == [
        ("ann", "log_parsing", "ann/log_parsing", ["helpers.py", "parse_logs.py"]),
        ("ann", "sql_joins", "ann/sql_joins", ["q1_short_films.sql"]),
        ("bob", "log_parsing", "bob/", ["parse_logs.py"]),
        ("bob", "sql_joins", "bob/", ["q1_short_films.sql", "q2_short_film_categories.sql"]),
        ("cat", "log_parsing", "cat/exercises/log_parsing", ["parse_logs.py"]),
    ]
    assert found.problems == ("bob/notes.txt: fits no exercise (not an exercise folder or a file an exercise "
                              "asks for)",)


def test_only_the_chosen_exercises_are_planned(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    write(tmp_path / "ann/log_parsing/parse_logs.py")
    write(tmp_path / "ann/q1_short_films.sql", "SELECT 1;")
    found = plan(tmp_path, pick(course, "log_parsing"), course)
    assert [(s.student, s.exercise) for s in found.submissions] == [("ann", "log_parsing")]
    assert found.problems == ()


def test_what_cannot_be_graded_is_reported(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    write(tmp_path / "ann/log_parsing/parse_logs.py")
    (tmp_path / "ann/log_parsing/secret.py").symlink_to("/etc/hostname")
    write(tmp_path / "bob/log_parsing/parse_logs.py")
    write(tmp_path / "bob/parse_logs.py")
    write(tmp_path / "cat/log_parsing/big.bin").write_bytes(b"\0" * (6 * 1024 * 1024))
    write(tmp_path / "dan/hello.txt")
    write(tmp_path / "loose.py")
    found = plan(tmp_path, pick(course, "log_parsing"), course)
    assert [(s.student, [n for n, _ in s.files]) for s in found.submissions] == [
        ("ann", ["parse_logs.py"]), ("bob", ["parse_logs.py"])]
    assert found.submissions[1].source == "bob/log_parsing"
    assert list(found.problems) == [
        "ann/log_parsing/secret.py: a symbolic link, not graded",
        "bob: files of log_parsing both loose and in log_parsing/; graded the folder",
        "cat/log_parsing: more than 200 files or 5 MB, not graded",
        "cat/: no submission for log_parsing",
        "dan/hello.txt: fits no exercise (not an exercise folder or a file an exercise asks for)",
        "dan/: no submission for log_parsing",
        "loose.py: not a student's folder (expected one folder per student)",
    ]


def test_gradescope_export_is_read_with_its_submitters(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    write(tmp_path / "submission_metadata.yml", textwrap.dedent("""\
        submission_101:
          :submitters:
          - :name: Ann Lee
            :sid: '2001'
            :email: ann@example.edu
          :created_at: 2025-03-01 10:00:00.000000000 -08:00
          :score: 0.0
        submission_102:
          :submitters:
          - :name: Bob Roe
            :email: bob@example.edu
          - :name: Cat Poe
            :sid: '2003'
    """))
    write(tmp_path / "submission_101/parse_logs.py", "A = 1\n")
    write(tmp_path / "submission_102/log_parsing/parse_logs.py", "B = 2\n")
    found = plan(tmp_path, pick(course, "log_parsing"), course)
    assert found.layout == "gradescope"
    assert [(s.student, s.source) for s in found.submissions] == [
        ("2001", "submission_101/"), ("bob@example.edu", "submission_102/log_parsing"),
        ("2003", "submission_102/log_parsing")]
    assert found.problems == ()


def test_github_classroom_clones_are_named_by_user(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    for user in ("ann-lee", "bob"):
        (tmp_path / f"logs-assignment-{user}/.git").mkdir(parents=True)
        write(tmp_path / f"logs-assignment-{user}/exercises/log_parsing/parse_logs.py")
        write(tmp_path / f"logs-assignment-{user}/README.md")
    found = plan(tmp_path, pick(course, "log_parsing"), course)
    assert found.layout == "classroom"
    assert [s.student for s in found.submissions] == ["ann-lee", "bob"]


def test_content_hash_depends_on_names_and_contents_only() -> None:
    files = [("a.py", b"x = 1\n"), ("b.sql", b"SELECT 1;")]
    assert content_hash(files) == content_hash(list(reversed(files)))
    assert content_hash(files) != content_hash([("a.py", b"x = 2\n"), ("b.sql", b"SELECT 1;")])
    assert content_hash(files) != content_hash([("c.py", b"x = 1\n"), ("b.sql", b"SELECT 1;")])


def test_a_missing_folder_is_a_usage_error(tmp_path: Path, course: list[catalog.Exercise]) -> None:
    from grader.errors import UsageError

    with pytest.raises(UsageError, match="no such folder"):
        plan(tmp_path / "nope", course, course)


# -- the warm worker --------------------------------------------------------------------------

def submission_of(student: str, slug: str, files: dict[str, str]) -> Submission:
    data = tuple(sorted((name, text.encode()) for name, text in files.items()))
    return Submission(student, slug, data, f"{student}/{slug}", content_hash(data))


def test_a_warm_worker_grades_file_contents_and_keeps_the_hidden_tests(
        make_course: Callable[..., Path]) -> None:
    root = make_course()
    worker = WarmGrader(str(root), ServiceOptions())
    worker.setup(None)
    try:
        good = worker.grade(submission_of("ann", "demo", {"demo.py": "def double(x):\n    return 2 * x\n\n"
                                                                      "def echo(t):\n    return t\n"}))
        assert (good.status, good.result.score, good.result.max_score) == (GRADED, 4.0, 4.0)
        assert good.result.submission == "ann/demo"
        loaded = [name for name, module in sys.modules.items()
                  if str(getattr(module, "__file__", "") or "").startswith(str(root / "tests" / "hidden"))]
        assert loaded, "the hidden tests stay imported for the next submission"
        bad = worker.grade(submission_of("bob", "demo", {"demo.py": "def double(x):\n    return x\n"}))
        assert (bad.status, bad.result.score) == (GRADED, 1.0)  # double(0) == 0 still holds
        assert "double(21) should be 42" in bad.result.tests[0].output
        missing = worker.grade(submission_of("cat", "nosuch", {"x.py": ""}))
        assert missing.status == "ungraded" and "no exercise 'nosuch'" in missing.reason
    finally:
        worker.teardown(None)
        for name in [n for n, m in sys.modules.items()
                     if str(getattr(m, "__file__", "") or "").startswith(str(root))]:
            del sys.modules[name]


def test_a_warm_worker_keeps_a_sandbox_started_ahead_for_the_exercise_it_grades(
        make_course: Callable[..., Path]) -> None:
    root = make_course()
    shutil.copytree(root / "exercises" / "demo", root / "exercises" / "other")
    shutil.copytree(root / "tests" / "hidden" / "demo", root / "tests" / "hidden" / "other")
    answer = {"demo.py": "def double(x):\n    return 2 * x\n\ndef echo(t):\n    return t\n"}
    worker = WarmGrader(str(root), ServiceOptions())
    worker.setup(None)
    assert worker.pool is not None
    try:
        kept = []
        for student, slug in (("ann", "demo"), ("bob", "demo"), ("cat", "other"), ("dan", "demo")):
            outcome = worker.grade(submission_of(student, slug, answer))
            assert (outcome.status, outcome.result.score) == (GRADED, 4.0)
            kept.append([(s, spare.alive) for s, (_, spare) in worker.pool._spares.items()])
        assert kept == [[("demo", True)], [("demo", True)], [("other", True)], [("demo", True)]]
    finally:
        worker.teardown(None)
        for name in [n for n, m in sys.modules.items()
                     if str(getattr(m, "__file__", "") or "").startswith(str(root))]:
            del sys.modules[name]


# -- a class on a local cluster ---------------------------------------------------------------

class Recorder(Listener):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.summary = None

    def finished(self, submission, outcome, attempt):  # type: ignore[no-untyped-def]
        self.events.append((submission.student, submission.exercise, outcome.status))

    def stopped(self, summary):  # type: ignore[no-untyped-def]
        self.summary = summary


FAULTS = {  # what the learner reads when their code brought down the process running it
    "segfault": "killed by SIGSEGV",
    "exit-in-thread": "exited with code 3",
    "memory-hog": "MemoryError",
}


def test_a_mixed_class_gets_the_scores_each_submission_earns_alone(tmp_path: Path,
                                                                    course: list[catalog.Exercise]) -> None:
    slugs = ("log_parsing", "sql_joins")
    exercises = pick(course, *slugs)
    people = classroom.mixed_plan(slugs, 27, faults=True)
    people += [("s900", "log_parsing", "segfault"), ("s901", "log_parsing", "exit-in-thread"),
               ("s902", "log_parsing", "memory-hog")]
    students = tmp_path / "class"
    classroom.write_class(students, people, flat=frozenset({"s001", "s004", "s007"}))
    found = plan(students, exercises, course)
    assert len(found.submissions) == len(people) and found.problems == ()

    # what each kind of submission earns when graded on its own, in this process
    expected: dict[tuple[str, str], float] = {}
    with ServicePool() as pool:
        for slug, name in sorted({(slug, name) for _, slug, name in people}):
            alone = tmp_path / "alone" / f"{slug}-{name}"
            classroom.write_class(alone, [("one", slug, name)])
            exercise = next(e for e in exercises if e.slug == slug)
            expected[slug, name] = grade(exercise, alone / "one" / slug, pool).score

    recorder = Recorder()
    with Gradebook(tmp_path / "gradebook.db") as book:
        summary = grade_batch(found.submissions, exercises, book, options=ServiceOptions(), jobs=2,
                              listener=recorder)
        latest = {(a.student, a.exercise): a for a in book.attempts(latest=True)}
    assert (summary.graded, summary.failed, summary.ungraded, summary.interrupted) == (len(people), 0, 0, False)
    assert sorted(recorder.events) == sorted((s, slug, GRADED) for s, slug, _ in people)
    maxima = {e.slug: e.points for e in exercises}
    for student, slug, name in people:
        attempt = latest[student, slug]
        got = attempt.result
        assert got.score == expected[slug, name], f"{student} ({slug} {name})"
        assert got.submission == f"{student}/{slug}"
        assert attempt.worker.startswith("tcp://127.0.0.1:")
        if name == "solution":
            assert got.score == maxima[slug]
        elif name == "stub":
            assert got.score == 0
        else:
            assert 0 < got.score < maxima[slug], f"{student} ({slug} {name}) is a wrong answer"
        if name in FAULTS:
            assert any(FAULTS[name] in t.output for t in got.tests), (student, name, got.tests)


KILLER = '''
import os
import signal

import pytest


@pytest.mark.points(1)
def test_value(submission):
    """value is 1"""
    got = submission.value()
    if got == "crash":  # stands for a grading process brought down by what a submission returned
        os.kill(os.getpid(), signal.SIGKILL)
    assert got == 1, "value() should return 1"
'''


def test_a_submission_that_kills_its_worker_every_time_is_recorded_as_failed(
        make_course: Callable[..., Path], tmp_path: Path) -> None:
    root = make_course(hidden=KILLER, points=1, solution="def value():\n    return 1\n")
    exercises = catalog.load_all(root)
    subs = [submission_of("ann", "demo", {"demo.py": "def value():\n    return 1\n"}),
            submission_of("bob", "demo", {"demo.py": "def value():\n    return 'crash'\n"}),
            submission_of("cat", "demo", {"demo.py": "def value():\n    return 2\n"})]
    with Gradebook(tmp_path / "gradebook.db") as book:
        summary = grade_batch(subs, exercises, book, options=ServiceOptions(), jobs=1)
        latest = {a.student: a for a in book.attempts(latest=True)}
    assert (summary.graded, summary.failed) == (2, 1)
    assert (latest["ann"].status, latest["ann"].result.score) == (GRADED, 1.0)
    assert (latest["cat"].status, latest["cat"].result.score) == (GRADED, 0.0)
    assert latest["bob"].status == FAILED
    assert "ended its worker process" in latest["bob"].reason
    assert latest["bob"].result.score == 0 and latest["bob"].result.max_score == 1


class InterruptedBook(Gradebook):
    """A gradebook whose first result is written just as Ctrl-C arrives."""

    def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        attempt = super().record(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # lands before the caller's next statement
        return attempt


def test_ctrl_c_while_a_result_is_recorded_leaves_summary_and_gradebook_agreeing(
        make_course: Callable[..., Path], tmp_path: Path) -> None:
    root = make_course(hidden=KILLER, points=1, solution="def value():\n    return 1\n")
    exercises = catalog.load_all(root)
    subs = [submission_of(name, "demo", {"demo.py": "def value():\n    return 1\n"}) for name in ("ann", "bob")]
    with InterruptedBook(tmp_path / "gradebook.db") as book:
        summary = grade_batch(subs, exercises, book, options=ServiceOptions(), jobs=1)
        recorded = list(book.attempts())
    assert summary.interrupted
    assert len(recorded) == summary.finished == 1


class FetchedFuture:
    """A future as the client holds it: the task's status, and what fetching its result raises."""

    def __init__(self, status: str, error: Exception) -> None:
        self.status, self.error = status, error

    def result(self) -> None:
        raise self.error


def test_a_result_lost_in_fetching_is_the_clusters_loss_never_the_submissions() -> None:
    submission = submission_of("ann", "demo", {"demo.py": "x = 1\n"})
    # the task finished but the scheduler died before its result reached the client
    reset = CommClosedError("in <TCP (closed) ConnectionPool.gather>: ConnectionResetError: [Errno 104]")
    with pytest.raises(CancelledError, match="fetching the result failed: CommClosedError"):
        _outcome(FetchedFuture("finished", reset), submission, None)
    with pytest.raises(CancelledError):
        _outcome(FetchedFuture("lost", ConnectionResetError(104, "Connection reset by peer")), submission, None)
    # the task itself raised: that submission is left ungraded, with the reason
    outcome = _outcome(FetchedFuture("error", ConnectionResetError(104, "Connection reset by peer")),
                       submission, None)
    assert outcome.status == UNGRADED
    assert outcome.reason == "the grader failed: ConnectionResetError: [Errno 104] Connection reset by peer"
    assert outcome.result.ungraded and outcome.result.score == 0
