"""The pytest plugin hidden tests use: markers, fixtures, and the collector of TestResults.

Markers: points(n), visibility(name), hint(text, ...) (tiers: a nudge first, more on each request),
reads(file, ...) (the learner files a check reads); markers nobody registered stop the exercise.
Fixtures: submission, submissions, workspace, exercise, sql, learner_db, aws, probe, expected. The
runner loads this module with `-p grader.plugin` and passes a `GradingSession` as a plugin object; the
session turns each test's phases into one TestResult, and each test left out of the grade (by `-k` or
a file target) into a TestResult with status not_run. `RoundLoop` is the runtest loop of a session kept
open to grade submission after submission (runner.KeptSession).
"""
from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

import pytest

from grader.errors import ServiceError, UnsupportedOnBackend
from grader.results import VISIBILITIES, Status, TestResult, score_for
from grader.sandbox import SubmissionError, SubmissionProxy, WorkerSession

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.expected import Expected
    from grader.sandbox import Sandbox
    from grader.services import Service

SESSION_KEY = pytest.StashKey["GradingSession"]()
MAX_FEEDBACK = 3000


class Observer(Protocol):
    """Sees what the hidden tests see of a submission (the fixtures' objects pass through `watch`)."""

    def watch(self, kind: str, value: Any, test: str) -> Any: ...


@dataclass(frozen=True)
class Trial:
    """How `grade validate --mutants` runs a grade besides the ordinary way."""

    probe: bool = False  # the `probe` fixture: hidden tests widen their data
    observer: Observer | None = None  # records what the hidden tests observe
    stop_at_first_failure: bool = False  # a mutant is judged by its first lost check
    run_first: tuple[str, ...] = ()  # checks (by name) to run before the others, in this order


def registered_markers(config: pytest.Config) -> list[str]:
    """The names of every marker registered with pytest (ours and pytest's own)."""
    return sorted({line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")})


def marker_problems(item: pytest.Item, known: list[str]) -> list[str]:
    """What is wrong with the markers of one test: unknown names and arguments of ours that cannot be used."""
    from grader.catalog import did_you_mean

    where = item.nodeid
    problems = []
    for mark in item.iter_markers():
        if mark.name not in known:
            ours = [name for name in OUR_MARKERS if name in known]
            problems.append(f"{where}: unknown marker @pytest.mark.{mark.name}{did_you_mean(mark.name, known)} "
                            f"The grader's markers: {', '.join(ours)}; registered: {', '.join(known)}.")
    visibility = _marker_arg(item, "visibility", "visible")
    if visibility not in VISIBILITIES:
        problems.append(f"{where}: visibility({visibility!r}) must be one of {', '.join(VISIBILITIES)}"
                        f"{did_you_mean(str(visibility), VISIBILITIES)}".rstrip("."))
    points = _marker_arg(item, "points", 1)
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        problems.append(f"{where}: points({points!r}) must be a number of points, 0 or more")
    hint = item.get_closest_marker("hint")
    if hint is not None and not all(isinstance(text, str) for text in hint.args):
        problems.append(f"{where}: hint{hint.args!r} must be text: hint(\"a nudge\", \"more\", ...)")
    return problems


OUR_MARKERS = ("points", "visibility", "hint", "reads")


FULL_COLLECTION_EVERY = 100  # collections of the middle generation between two full ones (Python's own: 10)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Collect the oldest generation ten times less often while grading. A full collection walks every
    object of the process (pytest, moto and boto3's models: millions), and grading allocates enough to
    set one off again and again: 0.3 s of the 3 s of CPU of a vpc_networking grade. Young objects are
    collected as often as ever, and every full collection still comes, later."""
    young, middle, old = gc.get_threshold()
    session.stash[_THRESHOLD_KEY] = (young, middle, old)
    gc.set_threshold(young, middle, max(old, FULL_COLLECTION_EVERY))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if _THRESHOLD_KEY in session.stash:
        gc.set_threshold(*session.stash[_THRESHOLD_KEY])


_THRESHOLD_KEY = pytest.StashKey[tuple[int, int, int]]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config.option, "verbose"):  # the runner turns the terminal plugin off, which adds it;
        config.option.verbose = 0  # pytest 7.4 to 8.3 read it to explain a failed assert
    config.addinivalue_line("markers", "points(n): the test's weight in the score (default 1)")
    config.addinivalue_line(
        "markers",
        "visibility(name): who sees the result: visible, hidden, after_due_date or after_published",
    )
    config.addinivalue_line(
        "markers",
        "hint(text, ...): hints for a learner whose check fails, in tiers: a nudge first, then more on "
        "each `grade hint`",
    )
    config.addinivalue_line(
        "markers",
        "reads(file, ...): the learner files the check reads (default: files whose stem is in the "
        "test's name, else every file)",
    )
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, GradingSession):
            config.stash[SESSION_KEY] = plugin
            # The session reads each exception itself: pytest need not format source tracebacks,
            # which cost more than running the checks.
            config.option.tbstyle = "line"


def _session(request: pytest.FixtureRequest) -> GradingSession:
    try:
        return request.config.stash[SESSION_KEY]
    except KeyError:
        pytest.fail("hidden tests run only through `grade run` (no grading session is active)")


@pytest.fixture
def exercise(request: pytest.FixtureRequest) -> Exercise:
    """The exercise being graded."""
    return _session(request).exercise


@pytest.fixture
def workspace(request: pytest.FixtureRequest) -> Path:
    """The learner's exercise folder: read its files as text, never import from it."""
    return _session(request).learner_dir


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Iterator[SubmissionProxy]:
    """The learner's module, called through a fresh sandbox worker for this test."""
    grading = _session(request)
    if grading.sandbox is None:
        pytest.fail(f"exercise {grading.exercise.slug} has no Python module to call (set `module` "
                    "or list a .py file in exercise.toml)")
    failure = _import_failure(grading.sandbox)
    if failure:  # known from an earlier check: fail now, before this check sets anything up
        raise SubmissionError(failure)
    worker = grading.sandbox.session()
    try:
        yield _observed(request, "submission", SubmissionProxy(worker))
    finally:
        worker.close()


@pytest.fixture
def submissions(request: pytest.FixtureRequest) -> Iterator[Callable[[int], list[SubmissionProxy]]]:
    """`submissions(n)`: n proxies to the learner's module, each on a child of its own, forked at once, so
    that threads of the check can call them at the same moment (`proxy.pid` is the child's pid)."""
    grading = _session(request)
    if grading.sandbox is None:
        pytest.fail(f"exercise {grading.exercise.slug} has no Python module to call")
    workers: list[WorkerSession] = []

    def make(count: int) -> list[SubmissionProxy]:
        failure = _import_failure(grading.sandbox)
        if failure:
            raise SubmissionError(failure)
        made = []
        for _ in range(count):
            worker = grading.sandbox.session()
            workers.append(worker)
            worker.start()
            made.append(SubmissionProxy(worker))
        return made  # not observed: the order in which calls at the same moment end is no one's choice

    try:
        yield make
    finally:
        for worker in workers:
            worker.close()


def _observed(request: pytest.FixtureRequest, kind: str, value: Any) -> Any:
    observer = _session(request).trial.observer
    return value if observer is None else observer.watch(kind, value, request.node.nodeid)


@pytest.fixture
def probe(request: pytest.FixtureRequest) -> bool:
    """True when `grade validate --mutants` asks whether a surviving mutant is equivalent: hidden tests
    may then widen their data (more seeds, more instances) beyond what a grade uses."""
    return bool(_observed(request, "probe", _session(request).trial.probe))


@pytest.fixture
def expected(request: pytest.FixtureRequest) -> Expected:
    """What this check compares against that comes from the reference solution: computed from
    solutions/ in the course, read from expected/<slug>.json in a published bundle (grader/expected.py)."""
    from grader.expected import Expected

    grading = _session(request)
    return Expected(grading.exercise, request.node.nodeid, grading.published_expected(),
                    grading.services.get("sql"))


def _import_failure(sandbox: Sandbox) -> str | None:
    """The message of a learner module that could not be imported, once the sandbox knows it."""
    return getattr(sandbox, "import_error", None) or getattr(sandbox, "_import_error", None)


def _service(request: pytest.FixtureRequest, name: str) -> Service:
    grading = _session(request)
    try:
        return grading.services[name]
    except KeyError:
        pytest.fail(f"exercise {grading.exercise.slug} does not list service {name!r} in exercise.toml")


@pytest.fixture
def sql(request: pytest.FixtureRequest) -> Service:
    """The run's SQL backend, remembering the learner queries it ran in this grade (RememberedQueries)."""
    grading = _session(request)
    remembered = grading.remembered.get("sql")
    if remembered is None:
        from grader.services.sql import RememberedQueries  # loaded with the service itself

        remembered = grading.remembered["sql"] = RememberedQueries(_service(request, "sql"))  # type: ignore[arg-type]
    return _observed(request, "sql", remembered)


@pytest.fixture
def learner_db(request: pytest.FixtureRequest) -> Service:
    """The database learner code connects to (grader/services/sql/learner_db.py), disarmed before the test."""
    service = _service(request, "learner_db")
    service.reset()
    return _observed(request, "learner_db", service)


@pytest.fixture
def aws(request: pytest.FixtureRequest) -> Service:
    """The run's AWS endpoint, with every resource wiped before the test."""
    service = _service(request, "aws")
    service.reset()
    return _observed(request, "aws", service)


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None or not marker.args:
        return default
    return marker.args[0]


@dataclass(frozen=True)
class Check:
    """A hidden test as the learner knows it, read from its markers without running it."""

    nodeid: str
    name: str
    points: float
    visibility: str
    hints: tuple[str, ...]
    reads: tuple[str, ...]


def hints_of(item: pytest.Item) -> tuple[str, ...]:
    """The tiers of the item's hint marker: `hint("nudge", "more", ...)`."""
    marker = item.get_closest_marker("hint")
    if marker is None:
        return ()
    return tuple(str(text) for text in marker.args if str(text).strip())


def reads_of(item: pytest.Item, files: tuple[str, ...]) -> tuple[str, ...]:
    """The learner files a check reads: its `reads` marker, else the files whose stem appears in the
    test function's name, else all of them."""
    marker = item.get_closest_marker("reads")
    if marker is not None:
        return tuple(str(name) for name in marker.args)
    function = getattr(item, "originalname", None) or item.name
    named = tuple(name for name in files if Path(name).stem in function)
    return named or files


def check_of(item: pytest.Item, files: tuple[str, ...]) -> Check:
    """What the learner reads about `item`: name, points, visibility, hint tiers, files it reads."""
    return Check(nodeid=item.nodeid, name=test_name(item), points=float(_marker_arg(item, "points", 1)),
                 visibility=str(_marker_arg(item, "visibility", "visible")), hints=hints_of(item),
                 reads=reads_of(item, files))


def test_name(item: pytest.Item) -> str:
    """The check's name a learner reads: the test's docstring line, else its name."""
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    name = doc[0].strip() if doc else item.name.split("[")[0].removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        name = f"{name} [{callspec.id}]"
    return name


def feedback(exc: BaseException) -> str:
    """What a learner reads for a failed check: the message, without pytest's introspection."""
    text = str(exc).strip()
    if isinstance(exc, AssertionError) and not isinstance(exc, SubmissionError):
        head, sep, _ = text.partition("\nassert ")
        if sep and head.strip():
            text = head.strip()
    if len(text) > MAX_FEEDBACK:
        text = text[: MAX_FEEDBACK - 20] + "\n... (cut short)"
    return text


class GradingSession:
    """One exercise graded: context for the fixtures and collector of TestResults."""

    def __init__(
        self,
        exercise: Exercise,
        learner_dir: Path,
        services: dict[str, Service],
        sandbox: Sandbox | None,
        trial: Trial | None = None,
        *,
        files: tuple[str, ...] = (),
    ) -> None:
        self.trial = trial or Trial()
        self.exercise = exercise
        self.learner_dir = learner_dir
        self.services = services
        self.sandbox = sandbox
        self.files = files  # grade only the checks that read one of these learner files
        self.results: dict[str, TestResult] = {}
        self.checks: dict[str, Check] = {}  # every collected test, in collection order
        self.problems: list[str] = []  # hidden tests that could not be collected, markers that are wrong
        self.collected_points = 0.0  # the points of every check collected: what this course can grade
        self._published: tuple[dict[str, Any] | None] | None = None
        self.remembered: dict[str, Any] = {}  # a service as this grade's checks share it, by name

    def begin_round(self, learner_dir: Path, services: dict[str, Service], sandbox: Sandbox | None) -> None:
        """Grade another submission with the checks already collected (a kept session's next round):
        what a grade found is forgotten, what collection found (the checks, their points) stays."""
        self.learner_dir, self.services, self.sandbox = learner_dir, services, sandbox
        self.results = {}
        self.remembered = {}

    def published_expected(self) -> dict[str, Any] | None:
        """The exercise's published expected values (a bundle), or None (computed from solutions/)."""
        if self._published is None:
            from grader.expected import published

            self._published = (published(self.exercise),)
        return self._published[0]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Refuse unknown markers (strict: a misspelt visibility or hint would silently change what
        learners see, so the whole exercise stops); know every check; let -k match the names a learner
        reads; keep the checks of `files`; put first what the trial asks for."""
        known = registered_markers(config)
        for item in items:
            self.problems.extend(marker_problems(item, known))
        if self.problems:
            items[:] = []
            return
        for item in items:
            check = check_of(item, tuple(self.exercise.files))
            self.checks[item.nodeid] = check
            item.extra_keyword_matches.add(check.name)
        self.collected_points = round(sum(check.points for check in self.checks.values()), 4)
        if self.files:
            wanted = set(self.files)
            kept = [i for i in items if wanted & set(self.checks[i.nodeid].reads)]
            left = [i for i in items if not wanted & set(self.checks[i.nodeid].reads)]
            if left:
                items[:] = kept
                config.hook.pytest_deselected(items=left)
        if self.trial.run_first:
            rank = {nodeid: i for i, nodeid in enumerate(self.trial.run_first)}
            items.sort(key=lambda item: rank.get(test_name(item), len(rank)))  # stable: the rest keep their order

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            check = self.checks.get(item.nodeid) or check_of(item, tuple(self.exercise.files))
            self.results[item.nodeid] = TestResult(
                name=check.name, status=Status.NOT_RUN, score=0.0, max_score=check.points,
                visibility=check.visibility if check.visibility in VISIBILITIES else "visible", nodeid=item.nodeid,
            )

    def _backend_failures(self) -> list[str]:
        """Failures of the services themselves (a mock that crashed) since the last call."""
        failures: list[str] = []
        for service in self.services.values():
            take = getattr(service, "take_failures", None)
            if take is not None:
                failures.extend(take())
        return failures

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self._backend_failures()  # what failed before this test belongs to no check

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """The first check's fixtures are set up: the services it uses are loaded (moto loads in a thread
        of its own while pytest starts and collects). What the process holds now lives as long as it
        does: runner.release_collections freezes it (once) and collections resume."""
        from grader.runner import release_collections

        release_collections()

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str, obj: object) -> None:
        """A unittest.TestCase class is refused: pytest's unittest plugin is left out of grading
        (runner.UNUSED_PLUGINS), and without it pytest would skip the class with a mere warning."""
        unittest = sys.modules.get("unittest")  # a TestCase exists only once unittest is imported
        if unittest is not None and isinstance(obj, type) and issubclass(obj, unittest.TestCase):
            raise collector.CollectError(
                f"{name} is a unittest.TestCase class; hidden tests are pytest test functions "
                "(the grader runs pytest without its unittest support)")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid}: {report.longreprtext.strip().splitlines()[-1]}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        self._record(item, call, report)

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        points = float(_marker_arg(item, "points", 1))
        visibility = str(_marker_arg(item, "visibility", "visible"))
        hints = hints_of(item)
        nodeid = item.nodeid
        previous = self.results.get(nodeid)
        if previous is not None and previous.status is not Status.PASSED:
            return  # the first failure (setup or call) is what the learner needs to see
        exc = call.excinfo.value if call.excinfo is not None else None
        failures = self._backend_failures() if report.failed else []
        if failures:
            status, points_max = Status.ERROR, points
            output = (f"The grader's mock service failed during this check, so it could not be graded: "
                      f"{'; '.join(dict.fromkeys(failures))}. This is a problem of the grader, not of your work: "
                      "please report it.")
        elif isinstance(exc, UnsupportedOnBackend):
            status, output, points_max = Status.SKIPPED, f"Not graded on this backend: {exc}.", 0.0
        elif isinstance(exc, ServiceError):
            status, points_max = Status.ERROR, points
            output = (f"A service of the grader failed, so this check could not be graded ({exc}). This is a "
                      "problem of the grader, not of your work: please report it.")
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            status, output, points_max = Status.SKIPPED, reason.removeprefix("Skipped: "), 0.0
        elif report.failed:
            if isinstance(exc, (AssertionError, pytest.fail.Exception)):
                status, output = Status.FAILED, feedback(exc)
            else:
                status = Status.ERROR
                kind = type(exc).__name__ if exc is not None else "error"
                output = (f"This check could not run ({kind}: {exc}). This is a problem with the "
                          "exercise, not with your work: please report it.")
            points_max = points
        elif report.when == "call":
            status, output, points_max = Status.PASSED, "", points
        else:
            return  # a setup or teardown that passed adds nothing
        if self.sandbox is not None:
            output = self.sandbox.redact(output)
        failed = status in (Status.FAILED, Status.ERROR)
        self.results[nodeid] = TestResult(
            name=test_name(item),
            status=status,
            score=score_for(status, points),
            max_score=points_max,
            output=output,
            visibility=visibility,
            hint=hints[0] if failed and hints else "",
            execution_time=round(report.duration + (previous.execution_time if previous else 0.0), 4),
            hints=hints if failed else (),
            nodeid=nodeid,
        )

    def test_results(self) -> tuple[TestResult, ...]:
        """One TestResult per collected test, in collection order."""
        order = [n for n in self.checks if n in self.results]
        order += [n for n in self.results if n not in self.checks]
        return tuple(self.results[n] for n in order)


@dataclass
class Round:
    """One grade handed to a kept session: the submission's copy, its sandbox and services; `error` is
    set when the round could not run to its end."""

    learner_dir: Path
    services: dict[str, Service]
    sandbox: Sandbox | None
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)  # set once the round is over


class RoundLoop:
    """The runtest loop of a kept session (runner.KeptSession): pytest has started and collected once;
    each round runs every collected check through pytest's own protocol, the last one with no next item,
    so that every fixture, session scope included, is torn down as at the end of a session. A session
    whose collection went wrong (a hidden test that cannot be imported, an unknown marker) runs no round:
    `collected` stays False and grades go the ordinary way, which reports what is wrong."""

    def __init__(self, grading: GradingSession, rounds: Any, ready: Any) -> None:
        self.grading = grading
        self.rounds = rounds  # a queue.Queue of Round, None to end the session
        self.ready = ready  # a threading.Event, set once collection is over
        self.collected = False  # the hidden tests collected without a problem
        self.unfinished: Round | None = None  # the round that stopped the session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        stashes = _stashes(session)
        if session.testsfailed or self.grading.problems or not session.items or stashes is None:
            self.ready.set()
            return True
        self.collected = True
        self.ready.set()
        items = session.items
        while True:
            _release_stdin(session)
            job = self.rounds.get()
            if job is None:
                return True
            try:
                for stash, before in stashes:  # what a grade's checks stored (a cache of its outcomes) is gone
                    stash._storage = dict(before)
                self.grading.begin_round(job.learner_dir, job.services, job.sandbox)
                for index, item in enumerate(items):
                    following = items[index + 1] if index + 1 < len(items) else None
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
            except BaseException as exc:  # a defect: this session ends, the next grade starts another
                job.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self.unfinished = job  # answered once the session has ended, every fixture torn down
                return True
            _remove_temporary_folders(session)
            job.done.set()


def _stashes(session: pytest.Session) -> list[tuple[Any, dict[Any, Any]]] | None:
    """Every stash a check can reach (the config's, the session's, each collector's and check's) with
    what it holds before the first round: a round starts from that, as a session of its own would,
    whatever the hidden tests kept there (vpc_networking keeps each network's outcome in the session's).
    None where pytest keeps a stash otherwise than this reads (a round then cannot start clean)."""
    nodes: list[Any] = [session.config, session]
    seen = {id(session)}
    for item in session.items:
        for node in item.listchain():
            if id(node) not in seen:
                seen.add(id(node))
                nodes.append(node)
    found = []
    for node in nodes:
        storage = getattr(getattr(node, "stash", None), "_storage", None)
        if not isinstance(storage, dict):
            return None
        found.append((node.stash, dict(storage)))
    return found


def _remove_temporary_folders(session: pytest.Session) -> None:
    """The folders the round's checks got from tmp_path go with the round: pytest keeps those of its
    last three sessions, and a kept session would gather one per check and round."""
    import shutil

    base = getattr(getattr(session.config, "_tmp_path_factory", None), "_basetemp", None)
    if isinstance(base, Path) and base.is_dir():
        for folder in base.iterdir():
            shutil.rmtree(folder, ignore_errors=True)


def _release_stdin(session: pytest.Session) -> None:
    """Between rounds the process's standard streams are its own again, stdin too: pytest's capture
    gives stdin back only at the end of a session (the checks' capture takes it again, as ever)."""
    capture = session.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
