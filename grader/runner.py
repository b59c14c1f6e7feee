"""Grades one submission of one exercise: services up, hidden tests through pytest, a Result out."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from grader import collecting
from grader import services as service_registry
from grader.catalog import Exercise
from grader.errors import GraderError, SandboxUnavailable, ServiceError, UsageError
from grader.results import Result, Run, Status, TestResult
from grader.sandbox import NAMESPACES, Sandbox, SubmissionError, detect, snapshot
from grader.services import Service, ServiceOptions
from grader.targets import Target, display_path

if TYPE_CHECKING:
    from grader.plugin import Check, Trial

# pytest and the grader's plugin (0.2 s of imports) are imported when a grade needs them, after the
# learner's sandbox has started: the worker boots (boto3 and its models: 0.5 s) while they load.


def version() -> str:
    try:
        return metadata.version("dataeng-grader")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0+unknown"


class ServicePool:
    """The services of one `grade` process: each started on first need, reused, stopped at the end.

    With `spare_workers` (watch mode, batch workers: a process that grades again and again) the pool
    also keeps, per exercise, a sandbox worker started ahead of its submission, so the next grade
    finds the interpreter loaded and boto3 warm. A spare has never run learner code: every
    submission still gets a sandbox of its own."""

    def __init__(self, options: ServiceOptions | None = None, *, spare_workers: bool = False,
                 spares_later: bool = False) -> None:
        self.options = options or ServiceOptions()
        self.spare_workers = spare_workers
        # `spares_later` (watch): the next spare starts on start_spares(), after the grade, not during it
        self.spares_later = spares_later
        self._running: dict[str, Service] = {}
        self._spares: dict[str, tuple[str, Sandbox]] = {}  # slug -> (the settings it was made with, sandbox)
        self._kept: KeptSession | None = None  # the pytest session kept open for the exercise graded last

    def sandbox(self, exercise: Exercise, **settings: Any) -> Sandbox:
        """A started sandbox for one grade of `exercise`, ready for `load()`; made with `settings`."""
        if not self.spare_workers:
            return Sandbox(None, None, **settings)
        key = repr(sorted(settings.items()))
        made, spare = self._spares.pop(exercise.slug, ("", None))
        if spare is not None and (made != key or not spare.alive):
            spare.close()
            spare = None
        if spare is None:
            spare = Sandbox(None, None, **settings)
            spare.start()
        following = Sandbox(None, None, **settings)
        if not self.spares_later:
            following.start()  # its start-up overlaps with this grade
        self._spares[exercise.slug] = (key, following)
        return spare

    def start_spares(self) -> None:
        """Start the spare workers not started yet (with `spares_later`: once a grade has been shown, so
        that their start-up does not take the CPU from it)."""
        for _, spare in self._spares.values():
            spare.start()  # nothing to do for one already started

    def keep_spares(self, slugs: set[str] | frozenset[str]) -> None:
        """End the spare workers of every exercise not in `slugs` (a process that has moved on)."""
        for slug in [s for s in self._spares if s not in slugs]:
            self._spares.pop(slug)[1].close()

    def kept_session(self, exercise: Exercise) -> KeptSession:
        """The pytest session kept open for `exercise` (grade(kept=True)); one at a time: a session of
        another exercise, one that has ended, or one whose hidden tests changed since it collected them
        is closed and a new one started."""
        kept = self._kept
        same = (kept is not None and kept.exercise.root == exercise.root and kept.exercise.slug == exercise.slug
                and kept.signature == tests_signature(exercise))
        if kept is not None and same and kept.ended and not kept.loop.collected:
            return kept  # these hidden tests do not collect: each grade runs pytest its own way, which says why
        if kept is not None and (not same or kept.ended):
            kept.close()
            kept = self._kept = None
        if kept is None:
            kept = self._kept = KeptSession(exercise)
        return kept

    def get(self, name: str) -> Service:
        if name not in self._running:
            make = service_registry.factory(name)
            try:
                service = make(self.options)
                service.start()
            except GraderError:
                raise
            except Exception as exc:
                raise ServiceError(f"the {name} service could not start: {exc}") from exc
            self._running[name] = service
        return self._running[name]

    def check(self) -> None:
        """Raise ServiceError when a running service no longer answers; forget it, so that the next
        grade starts it again."""
        for name, service in list(self._running.items()):
            probe = getattr(service, "check", None)
            if probe is None:
                continue
            try:
                probe()
            except Exception as exc:
                del self._running[name]
                with contextlib.suppress(Exception):
                    service.stop()
                if isinstance(exc, ServiceError):
                    raise
                raise ServiceError(f"the {name} service stopped answering: {exc}") from exc

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None
        for _, spare in self._spares.values():
            spare.close()
        self._spares.clear()
        for service in reversed(list(self._running.values())):
            with contextlib.suppress(Exception):
                service.stop()
        self._running.clear()

    def __enter__(self) -> ServicePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tests_signature(exercise: Exercise) -> tuple[tuple[str, int, int], ...]:
    """The hidden tests' files as they are now (path, time, size): a kept session that collected
    other ones is started again."""
    found = []
    for path in sorted(exercise.tests_dir.rglob("*")) if exercise.tests_dir.is_dir() else ():
        if "__pycache__" in path.parts:
            continue
        with contextlib.suppress(OSError):
            stat = path.stat()
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class KeptSession:
    """One pytest session of an exercise, kept open in a thread of its own and graded round after round.

    A process that grades one exercise again and again (a batch worker, `grade watch`) paid pytest's
    start on every grade: its configuration, plugins and fixture definitions, and the collection of the
    hidden tests (18 ms of CPU of a 34 ms log_parsing grade). Here pytest starts and collects once; a
    grade hands the session a round (grader.plugin.RoundLoop): the submission's copy, its own sandbox
    and the services, and every check runs through pytest's own protocol, its fixtures set up and torn
    down as in a session of its own. The hidden tests' modules stay imported while it lives; the pool
    starts a new session when their files change."""

    def __init__(self, exercise: Exercise) -> None:
        from grader.plugin import GradingSession, RoundLoop

        self.exercise = exercise
        self.signature = tests_signature(exercise)
        self.grading = GradingSession(exercise, exercise.stub_dir, {}, None)
        self._rounds: queue.Queue[Any] = queue.Queue()
        self._ready = threading.Event()
        self.loop = RoundLoop(self.grading, self._rounds, self._ready)
        self.ended = False
        self._thread = threading.Thread(target=self._main, name=f"grader-session-{exercise.slug}", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        import pytest

        from grader import plugin

        try:
            with _course_on_path(self.exercise, keep_tests=True), _plain_pytest_env():
                pytest.main(pytest_args(self.exercise), plugins=[plugin, self.grading, self.loop])
        finally:
            self.ended = True
            self._ready.set()
            if self.loop.unfinished is not None:
                self.loop.unfinished.done.set()
            while True:  # a round handed over as the session ended: answered, never left waiting
                try:
                    job = self._rounds.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.error = job.error or "the grading session ended"
                    job.done.set()

    def usable(self) -> bool:
        """Whether rounds can be graded here: the hidden tests collected without a problem. A session
        that cannot be used has ended when this returns (the grade that asked runs a session of its own,
        never two at once), and what its collection imported is forgotten."""
        self._ready.wait()
        if self.loop.collected and not self.ended:
            return True
        self.close()
        return False

    def grade(self, learner_dir: Path, services: dict[str, Service], sandbox: Sandbox | None) -> str:
        """Run every check on this submission; "" or what stopped the round (a defect of the grader)."""
        from grader.plugin import Round

        job = Round(learner_dir, services, sandbox)
        self._rounds.put(job)
        job.done.wait()
        return job.error

    def close(self) -> None:
        """End the session (its last round, if one runs, first) and forget the hidden tests' modules."""
        if self._thread.is_alive():
            self._rounds.put(None)
            self._thread.join(timeout=60)
        _forget_tests(self.exercise)


# A command's first grade loads hundreds of modules (pytest, boto3, moto, sqlglot): objects that live as
# long as the process. CPython walks all of them in a full collection each time they grow by a quarter
# (twice in a cold dynamodb_crud grade: 0.14 s of its CPU). A command holds collections from its start
# until its first grade's first check begins (its fixtures set up: the services it uses loaded, moto in a
# thread of its own while pytest starts); what was loaded by then is frozen (never walked again, once a
# process: a later freeze would keep whatever garbage it met for good) and collections resume, for the
# garbage the checks make (once moto's loader, which holds them too, is done: grader.collecting).
_collections_held = False
_loaded_frozen = False


def hold_collections() -> None:
    """Stop garbage collection until the first grade's checks begin, or `release_collections()`."""
    global _collections_held
    if not _collections_held:
        collecting.hold()
        _collections_held = True


def release_collections() -> None:
    """Collect garbage again (after freezing what was loaded, the first time); nothing if not held."""
    global _collections_held, _loaded_frozen
    if _collections_held:
        _collections_held = False
        if not _loaded_frozen:
            _loaded_frozen = True
            gc.freeze()
        collecting.release()


@contextlib.contextmanager
def _course_on_path(exercise: Exercise, keep_tests: bool = False) -> Iterator[None]:
    """Let hidden tests import `fixtures.*` from the course root; forget their modules afterwards
    (unless `keep_tests`), so that the next exercise (or the next grade of this one) imports its own
    test files."""
    entry = str(exercise.root)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
        if not keep_tests:
            _forget_tests(exercise)


def _forget_tests(exercise: Exercise) -> None:
    """Forget the hidden tests' modules: the next grade imports its own test files."""
    tests_dir = str(exercise.tests_dir)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(tests_dir):
            del sys.modules[name]


# what pytest reads from the environment: a CI's PYTEST_ADDOPTS or an installed plugin (pytest-randomly
# reorders and reseeds) must not change how hidden tests run
_PYTEST_ENV = {"PYTEST_ADDOPTS": None, "PYTEST_PLUGINS": None, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _set_env(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _plain_pytest_env() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _PYTEST_ENV}
    _set_env(_PYTEST_ENV)
    try:
        yield
    finally:
        _set_env(saved)


def pytest_args(exercise: Exercise) -> list[str]:
    """How the runner invokes pytest on an exercise's hidden tests.

    The hidden tests see the grader plugin and the conftest.py of their own folder, nothing else:
    `-c` ignores any configuration file and `--confcutdir` stops pytest from loading a conftest.py
    of a folder above them (the course's own tests/conftest.py could replace the grader's fixtures).
    The grader's plugin module is handed to pytest.main as an object, with the session, not named with
    `-p`: pytest 9 looks a `-p` name up among every installed package's entry points first (11 ms a grade)."""
    return [
        str(exercise.tests_dir),
        "-c", os.devnull,  # ignore any project configuration: the hidden tests stand alone
        "--rootdir", str(exercise.tests_dir.parent),
        "--confcutdir", str(exercise.tests_dir),
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:pytester",
        # these two run gc.collect() several times at the end of every session (half a second a grade)
        "-p", "no:unraisableexception",
        "-p", "no:threadexception",
        "-p", "no:doctest",
        "-p", "no:pastebin",
        "-p", "no:junitxml",
        "-W", "ignore::DeprecationWarning",
        # more plugins grading never uses, each registered and configured on every grade
        *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
    ]


def require_namespaces() -> None:
    """Refuse to go on unless learner code runs in the namespace sandbox here (SandboxUnavailable)."""
    level = detect()
    if level.name != NAMESPACES:
        raise SandboxUnavailable(
            f"refusing to grade: learner code would run without the namespace sandbox ({level.reason}); "
            "`grade doctor` says why, --no-require-sandbox grades anyway")


def hidden_paths(exercise: Exercise) -> list[Path]:
    """What learner code must never see, even where a folder bound into its sandbox holds it."""
    from grader.services.cache import cache_dir  # not grader.services.sql, which imports sqlglot

    return [exercise.root, Path.home(), Path(os.environ.get("GRADER_CACHE_DIR") or cache_dir())]


# Hidden tests have tmp_path, monkeypatch and capsys (tmpdir, capture and monkeypatch stay), not caplog
# (logging), recwarn (pytest.warns needs no plugin), tmpdir (legacypath) or unittest.TestCase classes.
# subtests is a plugin from pytest 9, nose one until pytest 8: `-p no:NAME` only blocks a name, so a
# name the installed pytest does not have changes nothing (so on 7.4 and on 9).
UNUSED_PLUGINS = ("debugging", "setuponly", "setupplan", "stepwise", "faulthandler",
                  "legacypath", "recwarn", "logging", "unittest", "subtests", "nose")


def grade(
    exercise: Exercise,
    learner_dir: Path,
    pool: ServicePool,
    *,
    label: str | None = None,
    trial: Trial | None = None,
    keyword: str | None = None,
    files: tuple[str, ...] = (),
    require_sandbox: bool = False,
    keep_tests: bool = False,
    final: bool = False,
    kept: bool = False,
) -> Result:
    """Grade the files in `learner_dir` against the exercise's hidden tests (`trial`: how
    `grade validate --mutants` runs it: on wider data, observed, stopping at the first lost check).

    `keyword` (a pytest -k expression on check names) and `files` (learner files: only the checks
    that read them) leave the other checks out; they are reported as not run. `keep_tests` leaves
    the hidden tests' modules imported for the next grade of the same course (a batch worker's warm
    state); by default they are forgotten, so edits to them are seen. `final`: the last grade of a
    command that ends with it (`grade run`): once its checks have run, collections are held until the
    command ends (`release_collections`), since whatever they would free dies with the process.
    `kept`: a round of the pool's kept pytest session of the exercise (KeptSession: a process that
    grades it again and again), for a whole grade (not a trial, `keyword` or `files`).
    """
    started = time.monotonic()
    if require_sandbox:
        require_namespaces()
    level = detect()
    learner_dir = Path(learner_dir).resolve()
    label = label or display_path(learner_dir)
    if exercise.error:
        return ungraded_result(exercise, label, f"this exercise cannot be graded: {exercise.error}. {COURSE_FAULT}")
    if not exercise.tests_dir.is_dir() and exercise.tests_dir.parent.name == "visible":
        # a learner's course without a visible check of this exercise: all of its points wait for the autograder
        return Result(exercise=exercise.slug, title=exercise.title, submission=label, backend="", version=version(),
                      points=exercise.points, sandbox=level.name, held_back=exercise.points)
    services = {name: pool.get(name) for name in exercise.services}
    for service in services.values():  # the backends learner code calls load while its sandbox starts
        if exercise.warm_clients and hasattr(service, "warm"):
            service.warm(exercise.warm_clients)
    backend = ",".join(s.backend for s in services.values()) or "python"
    env: dict[str, str] = {}
    channels: dict[str, str] = {}
    folders: dict[str, tuple[str, bool]] = {}
    for service in services.values():
        env.update(service.worker_env())
        if level.name == NAMESPACES and hasattr(service, "worker_channels"):
            channels.update(service.worker_channels())
        if hasattr(service, "worker_folders"):
            folders.update(service.worker_folders())
    with tempfile.TemporaryDirectory(prefix="grader-submission-") as scratch:
        # the graded copy: regular files only, so a link to the reference answer is never read as the
        # learner's, and nothing can change the files while the checks read them
        workspace = Path(scratch) / "submission"
        if learner_dir.is_dir():
            try:
                snapshot(learner_dir, workspace)
            except SubmissionError as exc:  # too many files or bytes: every check fails with the reason
                return refused_result(exercise, label, str(exc), backend, level.name, started)
        workspace.mkdir(exist_ok=True)
        for name in exercise.support:  # the course's copy, whatever the learner's folder holds
            with contextlib.suppress(OSError):
                (workspace / name).unlink()
            shutil.copyfile(exercise.stub_dir / name, workspace / name)
        sandbox = None
        if exercise.module:
            sandbox = pool.sandbox(exercise, timeout=exercise.timeout, env=env, channels=channels, folders=folders,
                                   memory_mb=exercise.memory_mb, warm=tuple(exercise.warm_clients),
                                   quick_waiters=any(getattr(s, "ready_at_once", False) for s in services.values()),
                                   hidden=tuple(hidden_paths(exercise)), level=level)
            sandbox.load(workspace, exercise.module, display_dir=label)  # imports while pytest collects
        import pytest

        from grader import plugin

        round_of = (pool.kept_session(exercise) if kept and trial is None and not keyword and not files and not final
                    else None)
        failure = ""
        try:
            if round_of is not None and round_of.usable():
                session = round_of.grading
                try:
                    failure = round_of.grade(workspace, services, sandbox)
                finally:
                    release_collections()
                code = pytest.ExitCode.INTERNAL_ERROR if failure else pytest.ExitCode.OK
            else:
                session = plugin.GradingSession(exercise, workspace, services, sandbox, trial, files=tuple(files))
                args = pytest_args(exercise) + (["-x"] if trial is not None and trial.stop_at_first_failure else [])
                args += ["-k", keyword] if keyword else []
                with (_course_on_path(exercise, keep_tests), _plain_pytest_env(),
                      contextlib.redirect_stdout(io.StringIO())):
                    try:
                        code = pytest.main(args, plugins=[plugin, session])  # the first check releases collections
                    finally:
                        release_collections()  # a grade that ran no check
                        if final:  # before the hidden tests' modules are forgotten
                            hold_collections()
        finally:
            if sandbox is not None:
                sandbox.close()  # every learner process has ended when this returns
    error, ungraded = "", False
    if sandbox is not None and sandbox.failure:
        error, ungraded = f"could not grade: {sandbox.failure}", True
    elif session.problems:
        error = "the hidden tests could not be loaded: " + "; ".join(session.problems)
    elif code == pytest.ExitCode.NO_TESTS_COLLECTED and not session.results:
        error = f"no hidden tests found in {exercise.tests_dir}"
    elif code == pytest.ExitCode.NO_TESTS_COLLECTED:
        pass  # every check was left out by -k or a file target: all of them are reported as not run
    elif failure:
        error = f"the grading session stopped: {failure}"
    elif code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        error = f"pytest stopped with exit code {int(code)}"
    if error and not ungraded:  # the course's checks could not run: never the learner's failure
        error, ungraded = f"{error}. {COURSE_FAULT}", True
    held_back = round(exercise.points - session.collected_points, 4) if not error else 0.0
    return Result(
        exercise=exercise.slug,
        title=exercise.title,
        submission=label,
        backend=backend,
        tests=session.test_results(),
        duration=round(time.monotonic() - started, 3),
        version=version(),
        error=error,
        ungraded=ungraded,
        points=exercise.points,
        sandbox=level.name,
        held_back=max(held_back, 0.0),
    )


def refused_result(exercise: Exercise, label: str, reason: str, backend: str, sandbox: str,
                   started: float) -> Result:
    """A submission the grader will not take (a folder too large): graded, every check failed with the reason."""
    tests = tuple(TestResult(name=check.name, status=Status.FAILED, score=0.0, max_score=check.points,
                             output=reason, visibility=check.visibility, nodeid=check.nodeid)
                  for check in collect(exercise))
    return Result(exercise=exercise.slug, title=exercise.title, submission=label, backend=backend, tests=tests,
                  duration=round(time.monotonic() - started, 3), version=version(), points=exercise.points,
                  sandbox=sandbox)


def check_keyword(expression: str) -> None:
    """Refuse a -k expression pytest cannot parse, with pytest's own explanation."""
    from _pytest.mark.expression import Expression

    try:
        Expression.compile(expression)
    except Exception as exc:  # pytest's ParseError before 8.4, SyntaxError since
        raise UsageError(f"-k {expression!r} is not an expression: {exc}") from None


def matching(run: Run, keyword: str) -> Run:
    """`run` without the exercises none of whose checks matched `-k keyword`; a usage error when none did."""
    kept = tuple(r for r in run.results
                 if r.error or r.ungraded or any(t.status is not Status.NOT_RUN for t in r.tests))
    if not kept:
        names = [t.name for r in run.results for t in r.tests][:12]
        raise UsageError(f"-k {keyword!r} matches no check; the checks are: " + "; ".join(names))
    return dataclasses.replace(run, results=kept)


def collect(exercise: Exercise) -> list[Check]:
    """The exercise's checks as its hidden tests declare them (names, points, hint tiers), without
    running any: no service starts and no learner code runs."""
    import pytest

    from grader import plugin

    session = plugin.GradingSession(exercise, exercise.stub_dir, {}, None)
    with _course_on_path(exercise), _plain_pytest_env(), contextlib.redirect_stdout(io.StringIO()):
        pytest.main([*pytest_args(exercise), "--collect-only"], plugins=[plugin, session])
    if session.problems:
        raise GraderError("the hidden tests could not be loaded: " + "; ".join(session.problems))
    return list(session.checks.values())


COURSE_FAULT = "This is a mistake in the course, not in your work: please tell your instructor"


def ungraded_result(exercise: Exercise, label: str, error: str) -> Result:
    """The Result of an exercise that could not be graded at all."""
    return Result(exercise=exercise.slug, title=exercise.title, submission=label, backend="", version=version(),
                  error=error, ungraded=True, points=exercise.points, sandbox=detect().name)


def grade_many(exercises: list[Exercise], workspace: Path, pool: ServicePool, *,
               require_sandbox: bool = False) -> Run:
    """Grade `workspace/<slug>/` for each exercise; a service failure stops nothing else."""
    return grade_targets([Target(e, Path(workspace) / e.slug) for e in exercises], pool,
                         require_sandbox=require_sandbox)


def grade_targets(targets: Sequence[Target], pool: ServicePool, *, keyword: str | None = None,
                  on_start: Callable[[int, Target], None] | None = None,
                  require_sandbox: bool = False, final: bool = False) -> Run:
    """Grade each target (an exercise, its learner folder, maybe only some files); a service failure
    stops nothing else. `on_start(index, target)` is called before each grade. With
    `require_sandbox`, nothing is graded unless learner code gets the namespace sandbox. `final`: the
    command ends with these grades (see `grade`)."""
    started = time.monotonic()
    if require_sandbox:
        require_namespaces()
    results = []
    for index, target in enumerate(targets):
        exercise, learner_dir = target.exercise, target.learner_dir
        if on_start is not None:
            on_start(index, target)
        try:
            results.append(grade(exercise, learner_dir, pool, keyword=keyword, files=target.files,
                                 final=final and index == len(targets) - 1))
        except ServiceError as exc:
            results.append(ungraded_result(exercise, display_path(learner_dir), f"could not grade: {exc}"))
    return Run(results=tuple(results), duration=round(time.monotonic() - started, 3))

