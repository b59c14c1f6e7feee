"""The learner's progress: best and last score of every exercise, and the hint tiers already shown.

Kept in `<workspace>/.grade/progress.json` (the workspace is the folder holding one folder per
exercise, `exercises/` by default; `GRADER_STATE_DIR` moves the `.grade` folder). The file is small
JSON, written atomically (a temporary file in the same folder, flushed, then renamed over the old
one), so a crash or Ctrl-C never leaves half a file. Deleting it loses history only: the next grade
starts it again. A file that cannot be read is set aside as progress.json.broken and started anew.
The same folder keeps `stubs/<slug>/<file>`: each learner file as grade first saw it, the last
resort of `grade reset` when neither a separate stub folder nor git holds the original.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from grader.catalog import Exercise
from grader.results import Result, Run, Status, TestResult

if TYPE_CHECKING:
    from grader.plugin import Check

STATE_DIR = ".grade"
FILENAME = "progress.json"
VERSION = 1

DONE, STARTED, NOT_STARTED = "done", "started", "not started"

# our own messages for work not begun: a function still raising NotImplementedError, an empty SQL
# file, a policy with no statements
_NOT_IMPLEMENTED = re.compile(r"^\s*(\w+)\(.*\) raised NotImplementedError\b", re.MULTILINE)
_NOTHING_YET = re.compile(r"^(\S+) has no \w+ yet\b")


def todo_of(test: TestResult) -> str:
    """What the learner has not begun, when that is why `test` failed: a function or file name."""
    if test.status not in (Status.FAILED, Status.ERROR) or not test.output:
        return ""
    first = test.output.strip().splitlines()[0]
    # a check may first say what it expected ("expected OutOfStock, but the call raised ...") and then
    # quote the call: a function still raising NotImplementedError is not begun, whatever the check wanted
    found = _NOTHING_YET.match(first) or _NOT_IMPLEMENTED.search(test.output)
    return found.group(1) if found else ""


def state_dir(workspace: Path) -> Path:
    """Where the learner's state lives for `workspace`."""
    override = os.environ.get("GRADER_STATE_DIR")
    return Path(override) if override else Path(workspace) / STATE_DIR


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def write_atomic(path: Path, content: str | bytes) -> None:
    """Replace `path` with `content` in one step: readers see the old file or the new one, never half.
    The file keeps its permissions (a new one gets rw-r--r--)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def kept_stub(exercise: Exercise, learner_dir: Path, name: str) -> Path:
    """Where the first-seen copy of a learner file is kept."""
    return state_dir(learner_dir.parent) / "stubs" / exercise.slug / name


def remember(exercise: Exercise, learner_dir: Path) -> None:
    """Keep a copy of each learner file the first time grade sees it (the last resort of reset)."""
    for name in exercise.files:
        source, kept = learner_dir / name, kept_stub(exercise, learner_dir, name)
        if source.is_file() and not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, kept)


def tracked(exercise: Exercise, learner_dir: Path) -> bool:
    """Whether grades of `learner_dir` are the learner's progress (the reference solution's are not)."""
    return Path(learner_dir).resolve() != exercise.solution_dir.resolve()


@dataclass
class ExerciseProgress:
    """One exercise's history."""

    best: float = 0.0
    last: float = 0.0
    max_score: float = 0.0
    runs: int = 0
    graded_at: str = ""
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> status, score, max_score
    hints_shown: dict[str, int] = field(default_factory=dict)  # check name -> tiers shown
    held_back: float = 0.0  # points only the autograder checks (a learner bundle holds no hidden checks)
    begun: bool = False  # a grade saw the learner's own work: a check passed, or failed for another reason than todo

    @property
    def state(self) -> str:
        if self.runs and self.max_score > 0 and self.best >= self.max_score:
            return DONE
        return STARTED if self.runs and self.begun else NOT_STARTED

    def failing(self) -> list[str]:
        """The checks whose last verdict was not a pass, in grading order."""
        return [name for name, check in self.checks.items() if check.get("status") in ("failed", "error")]


class Progress:
    """Every exercise's progress in one workspace."""

    def __init__(self, path: Path, exercises: dict[str, ExerciseProgress] | None = None) -> None:
        self.path = path
        self.exercises = exercises or {}

    @classmethod
    def load(cls, workspace: Path) -> Progress:
        """The progress of `workspace`; empty when there is none yet or it cannot be read."""
        path = state_dir(workspace) / FILENAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            exercises = {slug: ExerciseProgress(**{"begun": bool(entry.get("runs")),  # files written before it
                                                    **{k: v for k, v in entry.items()
                                                       if k in ExerciseProgress.__dataclass_fields__}})
                         for slug, entry in data.get("exercises", {}).items()}
        except FileNotFoundError:
            exercises = {}
        except (OSError, ValueError, TypeError, AttributeError):
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(FILENAME + ".broken"))
            exercises = {}
        return cls(path, exercises)

    def get(self, slug: str) -> ExerciseProgress:
        return self.exercises.get(slug) or ExerciseProgress()

    def record(self, result: Result) -> None:
        """Take in a grade; a partial one (-k, a file) updates only the checks it graded."""
        if result.ungraded or result.error or not result.tests:
            return
        entry = self.exercises.setdefault(result.exercise, ExerciseProgress())
        if result.complete:
            entry.checks = {}
        for test in result.tests:
            if test.status is not Status.NOT_RUN:
                entry.checks[test.name] = {"status": test.status.value, "score": test.score,
                                           "max_score": test.max_score}
            elif test.name not in entry.checks:
                entry.checks[test.name] = {"status": "not_run", "score": 0.0, "max_score": test.max_score}
        entry.max_score = result.max_score
        entry.held_back = result.held_back
        entry.last = round(sum(c["score"] for c in entry.checks.values()), 4)
        entry.best = max(entry.best, entry.last)
        entry.begun = entry.begun or any(
            t.status is Status.PASSED or (t.status in (Status.FAILED, Status.ERROR) and not todo_of(t))
            for t in result.tests)
        entry.runs += 1
        entry.graded_at = _now()

    def record_run(self, run: Run) -> None:
        for result in run.results:
            self.record(result)

    def reveal(self, slug: str, check: str, tiers: int) -> int:
        """Show one more hint tier of `check` (up to `tiers`); how many are shown now."""
        entry = self.exercises.setdefault(slug, ExerciseProgress())
        shown = min(tiers, entry.hints_shown.get(check, 0) + 1)
        entry.hints_shown[check] = shown
        return shown

    def save(self) -> None:
        data = {"version": VERSION,
                "exercises": {slug: vars(entry) for slug, entry in sorted(self.exercises.items())}}
        write_atomic(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class StatusRow:
    """One line of `grade status`."""

    exercise: Exercise
    progress: ExerciseProgress
    next: str


def next_exercise(exercises: Iterable[Exercise], progress: Progress, after: str | None = None) -> Exercise | None:
    """The first exercise not done, looking first at those after `after` in course order."""
    ordered = list(exercises)
    if after is not None and after in [e.slug for e in ordered]:
        index = [e.slug for e in ordered].index(after)
        ordered = ordered[index + 1:] + ordered[: index + 1]
    return next((e for e in ordered if progress.get(e.slug).state != DONE), None)


def readme(exercise: Exercise, workspace: Path) -> str:
    """The exercise's task as the learner would open it from here: in their folder, else the course's."""
    from grader.targets import display_path

    mine = Path(workspace) / exercise.slug / "README.md"
    return display_path(mine if mine.is_file() else exercise.stub_dir / "README.md")


def status_rows(exercises: list[Exercise], progress: Progress, workspace: Path) -> list[StatusRow]:
    """Every exercise with its progress and what to do next about it."""
    rows = []
    for exercise in exercises:
        entry = progress.get(exercise.slug)
        if entry.state == DONE:
            step = f"{entry.held_back:g} more points are checked when you submit" if entry.held_back else ""
        elif entry.state == STARTED:
            failing = entry.failing()
            step = f"grade run {exercise.slug}" + (f" (fix: {failing[0]})" if failing else "")
        else:
            step = f"read {readme(exercise, workspace)}"
        rows.append(StatusRow(exercise, entry, step))
    return rows


def next_step(run: Run, exercises: list[Exercise], progress: Progress, workspace: Path) -> str:
    """The one line that ends a report: what the learner should do now."""
    results = [r for r in run.results]
    if not results:
        return ""
    if any(r.ungraded for r in results):
        return ("Next: the grader could not start a service it needs (see above); that is not your work: "
                "fix the setting named there, or ask for help, then grade again.")
    broken = [r for r in results if r.error]
    if broken:
        return (f"Next: the checks of {broken[0].exercise} could not run (see above); that is not your work: "
                "report it to your instructor.")
    failing = [r for r in results if not r.passed]
    if failing:
        result = failing[0]
        tests = [t for t in result.tests if t.status in (Status.FAILED, Status.ERROR)]
        todo = [todo_of(t) for t in tests if todo_of(t)]
        command = f"grade run {result.exercise}"
        if todo and todo_of(tests[0]):
            exercise = next(e for e in exercises if e.slug == result.exercise)
            return f"Next: write {todo[0]} ({readme(exercise, workspace)} says what it must do), then {command}"
        first = tests[0]
        alike = sum(t.output == first.output for t in tests)
        if first.status is Status.ERROR:
            return (f"Next: \"{first.name}\" could not run, which is not your work: report it; meanwhile "
                    f"work on the other checks and {command}")
        if alike > 1:
            return f"Next: fix the problem shown above (it fails {alike} checks at once), then {command}"
        hint = f"; stuck? grade hint {result.exercise}" if first.hints else ""
        return f"Next: fix \"{first.name}\" (feedback above), then {command}{hint}"
    partial = [r for r in results if not r.complete]
    if partial:
        return (f"Next: the checks you chose pass; grade run {partial[0].exercise} grades all "
                f"{len(partial[0].tests)} of them.")
    following = next_exercise(exercises, progress, after=results[-1].exercise)
    if following is None:
        return "Next: every exercise is at full marks. Well done: hand in your work."
    return (f"Next: {following.slug} ({following.title}): read {readme(following, workspace)}, "
            f"then grade run {following.slug}")


def record_grades(run: Run, learner_dirs: dict[str, Path], exercises: list[Exercise]) -> dict[Path, Progress]:
    """Add `run` to the progress of each workspace graded (not the reference solutions'), keep the
    first-seen copies of learner files, and save; the progress of each workspace."""
    by_slug = {e.slug: e for e in exercises}
    touched: dict[Path, Progress] = {}
    for result in run.results:
        exercise, learner_dir = by_slug.get(result.exercise), learner_dirs.get(result.exercise)
        if exercise is None or learner_dir is None or not tracked(exercise, learner_dir):
            continue
        workspace = Path(learner_dir).resolve().parent
        if workspace not in touched:
            touched[workspace] = Progress.load(workspace)
        touched[workspace].record(result)
        remember(exercise, Path(learner_dir))
    for progress in touched.values():
        progress.save()
    return touched


def choose_hint(checks: list[Check], entry: ExerciseProgress, query: str | None = None) -> list[Check]:
    """The checks a hint request is about, best first: those named like `query`, else those that
    failed in the last grade; checks with hints come first."""
    if query:
        wanted = query.lower()
        found = [c for c in checks if wanted in c.name.lower() or wanted in c.nodeid.lower()]
    else:
        failing = set(entry.failing())
        found = [c for c in checks if c.name in failing]
    return sorted(found, key=lambda c: not c.hints)
