"""The pytest plugin hidden tests use: markers, fixtures, and the collector of TestResults.

Markers: points(n), visibility(name), hint(text). Fixtures: submission, workspace, exercise, sql,
aws, probe. The runner loads this module with `-p grader.plugin` and passes a `GradingSession` as a
plugin object; the session turns each test's phases into one TestResult.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Protocol

import pytest

from grader.results import VISIBILITIES, Status, TestResult, score_for
from grader.sandbox import SubmissionError, SubmissionProxy

if TYPE_CHECKING:
    from grader.catalog import Exercise
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the test's weight in the score (default 1)")
    config.addinivalue_line(
        "markers",
        "visibility(name): who sees the result: visible, hidden, after_due_date or after_published",
    )
    config.addinivalue_line("markers", "hint(text): shown to the learner when the test fails")
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, GradingSession):
            config.stash[SESSION_KEY] = plugin


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
    worker = grading.sandbox.session()
    try:
        yield _observed(request, "submission", SubmissionProxy(worker))
    finally:
        worker.close()


def _observed(request: pytest.FixtureRequest, kind: str, value: Any) -> Any:
    observer = _session(request).trial.observer
    return value if observer is None else observer.watch(kind, value, request.node.nodeid)


@pytest.fixture
def probe(request: pytest.FixtureRequest) -> bool:
    """True when `grade validate --mutants` asks whether a surviving mutant is equivalent: hidden tests
    may then widen their data (more seeds, more instances) beyond what a grade uses."""
    return bool(_observed(request, "probe", _session(request).trial.probe))


def _service(request: pytest.FixtureRequest, name: str) -> Service:
    grading = _session(request)
    try:
        return grading.services[name]
    except KeyError:
        pytest.fail(f"exercise {grading.exercise.slug} does not list service {name!r} in exercise.toml")


@pytest.fixture
def sql(request: pytest.FixtureRequest) -> Service:
    """The run's SQL backend."""
    return _observed(request, "sql", _service(request, "sql"))


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
    ) -> None:
        self.trial = trial or Trial()
        self.exercise = exercise
        self.learner_dir = learner_dir
        self.services = services
        self.sandbox = sandbox
        self.results: dict[str, TestResult] = {}
        self.order: list[str] = []
        self.problems: list[str] = []  # hidden tests that could not be collected

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if self.trial.run_first:
            rank = {nodeid: i for i, nodeid in enumerate(self.trial.run_first)}
            items.sort(key=lambda item: rank.get(test_name(item), len(rank)))  # stable: the rest keep their order

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
        defect = ""
        if visibility not in VISIBILITIES:
            defect = f"visibility({visibility!r}) must be one of {', '.join(VISIBILITIES)}"
            visibility = "visible"
        hint = str(_marker_arg(item, "hint", ""))
        nodeid = item.nodeid
        previous = self.results.get(nodeid)
        if previous is not None and previous.status is not Status.PASSED:
            return  # the first failure (setup or call) is what the learner needs to see
        if defect:
            status, output, points_max = Status.ERROR, f"This check is misconfigured: {defect}.", points
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            status, output, points_max = Status.SKIPPED, reason.removeprefix("Skipped: "), 0.0
        elif report.failed:
            exc = call.excinfo.value if call.excinfo is not None else None
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
        if previous is None:
            self.order.append(nodeid)
        self.results[nodeid] = TestResult(
            name=test_name(item),
            status=status,
            score=score_for(status, points),
            max_score=points_max,
            output=output,
            visibility=visibility,
            hint=hint if status in (Status.FAILED, Status.ERROR) else "",
            execution_time=round(report.duration + (previous.execution_time if previous else 0.0), 4),
        )

    def test_results(self) -> tuple[TestResult, ...]:
        return tuple(self.results[n] for n in self.order)

