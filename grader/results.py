"""Result and TestResult: what one grade produced, and the score arithmetic."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(str, enum.Enum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    NOT_RUN = "not_run"  # left out of this grade (by -k or a file target): no verdict, no points


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
UNSANDBOXED = ("Learner code ran as a plain process, without the namespace sandbox "
               "(run `grade doctor` to see why).")


@dataclass(frozen=True)
class TestResult:
    """One hidden test: its points, its outcome and the feedback a learner reads."""

    __test__ = False  # not a pytest test class

    name: str
    status: Status
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    hint: str = ""  # the first tier of `hints`, set when the check did not pass
    execution_time: float = 0.0
    hints: tuple[str, ...] = ()  # every tier, a nudge first; set when the check did not pass
    nodeid: str = ""  # pytest's id of the check, relative to the tests folder: "<slug>/test_x.py::test_y"


@dataclass(frozen=True)
class Result:
    """One (submission, exercise) grade."""

    exercise: str
    title: str
    submission: str
    backend: str
    tests: tuple[TestResult, ...] = ()
    duration: float = 0.0
    version: str = ""
    error: str = ""  # set when the hidden tests could not all run
    ungraded: bool = False  # a service did not start: nothing was graded
    points: float = 0.0  # the exercise's declared points, the maximum when no test ran
    sandbox: str = ""  # where learner code ran: "namespaces" or "process" (grader/sandbox/jail.py)
    held_back: float = 0.0  # points of checks this course does not hold: the autograder runs them

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        if not self.tests:
            return max(self.points - self.held_back, 0) if self.held_back else self.points
        return round(sum(t.max_score for t in self.tests), 4)

    @property
    def passed(self) -> bool:
        """No error, and every check graded in this run passed (checks not run are no failure)."""
        return not self.error and all(t.status in (Status.PASSED, Status.NOT_RUN) for t in self.tests)

    @property
    def not_run(self) -> float:
        """Points of the checks left out of this grade."""
        return round(sum(t.max_score for t in self.tests if t.status is Status.NOT_RUN), 4)

    @property
    def complete(self) -> bool:
        """Whether every check was graded (nothing left out by -k or a file target)."""
        return not any(t.status is Status.NOT_RUN for t in self.tests)

    @property
    def errored(self) -> bool:
        """The grader could not grade every check: a check ended in error, or the hidden tests did not run."""
        return bool(self.error) or any(t.status is Status.ERROR for t in self.tests)


@dataclass(frozen=True)
class Run:
    """Every Result of one `grade run`."""

    results: tuple[Result, ...] = field(default_factory=tuple)
    duration: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 4)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 4)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def ungraded(self) -> bool:
        return any(r.ungraded for r in self.results)

    @property
    def sandbox(self) -> str:
        """The weakest sandbox any exercise's learner code ran in ("" when none ran)."""
        levels = {r.sandbox for r in self.results if r.sandbox}
        return "process" if "process" in levels else (levels.pop() if levels else "")

    @property
    def errored(self) -> bool:
        return any(r.errored for r in self.results)


def score_for(status: Status, points: float) -> float:
    """Points earned by a check: all of them when it passed, none otherwise."""
    return float(points) if status is Status.PASSED else 0.0
