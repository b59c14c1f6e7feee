"""Grade a whole class: find the submissions, grade them on warm Dask workers, record the gradebook.

`plan()` reads a folder of submissions into `Submission`s (the files' contents, so that a remote
worker needs no shared filesystem). `grade_batch()` sends every submission the gradebook does not
already hold to a Dask cluster (a LocalCluster of `jobs` processes, or a running scheduler) and
records each result as it arrives. Dask does the scheduling, the load balancing and the rescheduling
of the work of a worker that dies; nothing here queues or retries.

A warm worker (`WarmGrader`, a Dask worker plugin) keeps one ServicePool and the hidden tests'
modules for its whole life and grades submission after submission through `runner.grade()`; the
learner's code still runs in a fresh sandbox per submission, started while the submission before
it was graded (the pool's spare workers).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from distributed import WorkerPlugin

from grader import catalog
from grader.errors import GraderError, SandboxUnavailable, ServiceError, UsageError
from grader.gradebook import FAILED, GRADED, UNGRADED, Gradebook
from grader.results import Result
from grader.runner import ServicePool, grade, version
from grader.sandbox import scratch_folder
from grader.services import ServiceOptions

if TYPE_CHECKING:
    from distributed import Client

    from grader.catalog import Exercise

PLUGIN = "dataeng-grader"
MAX_FILES = 200  # per submission
MAX_BYTES = 5 * 1024 * 1024  # per submission
IGNORED = {"__pycache__", ".git", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints", "__MACOSX"}
GRADESCOPE_METADATA = "submission_metadata.yml"
LAYOUTS = ("folders", "gradescope", "classroom")


class BatchError(UsageError):
    """The submissions folder cannot be read as a class's submissions."""


@dataclass(frozen=True)
class Submission:
    """One student's files for one exercise, as contents (never paths), with their hash."""

    student: str
    exercise: str
    files: tuple[tuple[str, bytes], ...]  # (path relative to the exercise folder, contents), sorted
    source: str  # where they were found, relative to the submissions folder
    content_hash: str


def content_hash(files: Sequence[tuple[str, bytes]]) -> str:
    """sha256 over the sorted file names and contents."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Plan:
    """What a submissions folder holds: the submissions, and what fits no exercise."""

    layout: str
    submissions: tuple[Submission, ...]
    problems: tuple[str, ...]  # one line each: a file or folder that was not graded, and why
    students: int


# -- finding the submissions ---------------------------------------------------------------------

def _ignored(path: Path) -> bool:
    return path.name in IGNORED or path.name.startswith(".")


def _read_files(folder: Path, where: str, problems: list[str]) -> list[tuple[str, bytes]] | None:
    """Every regular file under `folder` (relative names), or None when it breaks the limits."""
    files: list[tuple[str, bytes]] = []
    size = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in IGNORED or part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink():
            problems.append(f"{where}/{relative}: a symbolic link, not graded")
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        files.append((relative.as_posix(), data))
        size += len(data)
        if len(files) > MAX_FILES or size > MAX_BYTES:
            problems.append(f"{where}: more than {MAX_FILES} files or {MAX_BYTES // 1024 // 1024} MB, not graded")
            return None
    return files


def _student_submissions(student: str, folder: Path, where: str, exercises: Sequence[Exercise],
                         known: dict[str, Exercise], problems: list[str]) -> list[Submission]:
    """The submissions in one student's folder: <slug>/ folders (also under exercises/), or flat files
    mapped to exercises by file name."""
    wanted = {e.slug for e in exercises}
    base = folder
    if (folder / "exercises").is_dir() and not (folder / "exercises" / "exercise.toml").exists() \
            and any((folder / "exercises" / slug).is_dir() for slug in known):
        base = folder / "exercises"  # a copy of the learner's course
    by_file: dict[str, list[Exercise]] = {}
    for exercise in known.values():
        for name in exercise.files:
            by_file.setdefault(name, []).append(exercise)
    flat: dict[str, list[tuple[str, bytes]]] = {}
    found: list[Submission] = []
    for path in sorted(base.iterdir()):
        if _ignored(path):
            continue
        shown = f"{where}/{path.relative_to(folder).as_posix()}"
        if path.is_symlink():
            problems.append(f"{shown}: a symbolic link, not graded")
        elif path.is_dir() and path.name in known:
            if path.name not in wanted:
                continue
            files = _read_files(path, shown, problems)
            if files is None:
                continue
            if not files:
                problems.append(f"{shown}/: empty, not graded")
                continue
            found.append(Submission(student, path.name, tuple(sorted(files)), shown, content_hash(files)))
        elif path.is_file() and path.name in by_file:
            owners = by_file[path.name]
            if len(owners) > 1:
                problems.append(f"{shown}: the file name belongs to {', '.join(e.slug for e in owners)}; "
                                "put it in a folder named after its exercise")
            elif owners[0].slug in wanted:
                flat.setdefault(owners[0].slug, []).append((path.name, path.read_bytes()))
        elif path.name.lower().startswith("readme") or path.name in ("exercises",):
            continue
        else:
            problems.append(f"{shown}: fits no exercise (not an exercise folder or a file an exercise asks for)")
    for slug, files in flat.items():
        if any(s.exercise == slug for s in found):
            problems.append(f"{where}: files of {slug} both loose and in {slug}/; graded the folder")
            continue
        found.append(Submission(student, slug, tuple(sorted(files)), f"{where}/", content_hash(files)))
    return found


def _gradescope_students(root: Path) -> dict[str, list[str]]:
    """submission_<id> folder -> the ids of its submitters, from Gradescope's submission_metadata.yml."""
    import yaml

    try:
        data = yaml.safe_load((root / GRADESCOPE_METADATA).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, OSError) as exc:
        raise BatchError(f"{root / GRADESCOPE_METADATA}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise BatchError(f"{root / GRADESCOPE_METADATA}: expected a mapping of submission folders")
    students: dict[str, list[str]] = {}
    for folder, entry in data.items():
        submitters = entry.get(":submitters", entry.get("submitters", [])) if isinstance(entry, dict) else []
        ids = []
        for person in submitters or []:
            if not isinstance(person, dict):
                continue
            for key in (":sid", "sid", ":email", "email", ":name", "name"):
                if person.get(key):
                    ids.append(str(person[key]).strip())
                    break
        students[str(folder)] = ids or [str(folder)]
    return students


def _classroom_prefix(names: list[str]) -> str:
    """The `<assignment>-` prefix GitHub Classroom puts before every student's user name."""
    prefix = os.path.commonprefix(names)
    return prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""


def detect_layout(root: Path) -> str:
    """"gradescope" (submission_metadata.yml), "classroom" (git clones sharing a prefix), else "folders"."""
    if (root / GRADESCOPE_METADATA).is_file():
        return "gradescope"
    folders = [p for p in root.iterdir() if p.is_dir() and not _ignored(p)]
    if len(folders) >= 2 and all((p / ".git").exists() for p in folders) \
            and _classroom_prefix([p.name for p in folders]):
        return "classroom"
    return "folders"


def plan(root: Path, exercises: Sequence[Exercise], known: Sequence[Exercise] | None = None) -> Plan:
    """The submissions under `root` for `exercises` (`known`: every exercise of the course)."""
    root = Path(root)
    if not root.is_dir():
        raise BatchError(f"{root}: no such folder")
    by_slug = {e.slug: e for e in (known or exercises)}
    layout = detect_layout(root)
    problems: list[str] = []
    owners: dict[str, list[str]] = {}
    folders = sorted(p for p in root.iterdir() if not _ignored(p))
    if layout == "gradescope":
        owners = _gradescope_students(root)
    elif layout == "classroom":
        prefix = _classroom_prefix([p.name for p in folders if p.is_dir()])
        owners = {p.name: [p.name[len(prefix):]] for p in folders if p.is_dir()}
    submissions: list[Submission] = []
    students: set[str] = set()
    for folder in folders:
        if not folder.is_dir() or folder.is_symlink():
            if folder.name != GRADESCOPE_METADATA:
                problems.append(f"{folder.name}: not a student's folder (expected one folder per student)")
            continue
        for student in owners.get(folder.name, [folder.name]):
            found = _student_submissions(student, folder, folder.name, exercises, by_slug, problems)
            if not found:
                problems.append(f"{folder.name}/: no submission for {', '.join(e.slug for e in exercises)}")
            students.add(student)
            submissions.extend(found)
    seen: dict[tuple[str, str], str] = {}
    unique = []
    for submission in submissions:
        key = (submission.student, submission.exercise)
        if key in seen:
            problems.append(f"{submission.source}: a second submission of {submission.exercise} by "
                            f"{submission.student} (first: {seen[key]}); not graded")
            continue
        seen[key] = submission.source
        unique.append(submission)
    return Plan(layout, tuple(unique), tuple(problems), len(students))


# -- the warm worker ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What grading one submission came to: graded, failed (it brought its worker down) or ungraded."""

    status: str
    result: Result
    reason: str = ""
    worker: str = ""


def _empty_result(exercise: Exercise | None, slug: str, label: str, reason: str, *, ungraded: bool) -> Result:
    return Result(exercise=slug, title=exercise.title if exercise else slug, submission=label, backend="",
                  version=version(), error=reason, ungraded=ungraded,
                  points=exercise.points if exercise else 0.0)


class WarmGrader(WorkerPlugin):
    """Dask worker plugin: one ServicePool and the imported hidden tests, kept for the worker's life."""

    idempotent = True  # registered again on a cluster that has it (a second batch): the warm one stays

    def __init__(self, course: str, options: ServiceOptions, require_sandbox: bool = True) -> None:
        self.course = course
        self.options = options
        self.require_sandbox = require_sandbox
        # one plugin per course, backends and sandbox rule: a batch with other options gets its own
        digest = hashlib.sha256(repr((course, options, require_sandbox)).encode()).hexdigest()[:12]
        self.name = f"{PLUGIN}-{digest}"
        self.pool: ServicePool | None = None
        self.exercises: dict[str, Exercise] = {}
        self.scratch = ""
        self.address = ""
        self.lock = threading.Lock()  # grades run one at a time: pytest and sys.modules are per process
        self.warmed: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"course": self.course, "options": self.options, "require_sandbox": self.require_sandbox}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["course"], state["options"], state["require_sandbox"])  # type: ignore[misc]

    def setup(self, worker: Any = None) -> None:
        """Find the course on this machine, load the catalogue, import the grading machinery."""
        import pytest  # noqa: F401  (imported once here, not per submission)

        import grader.plugin  # noqa: F401

        self.address = str(getattr(worker, "address", "") or f"pid {os.getpid()}")
        root = Path(self.course)
        if not catalog.is_course_root(root):
            root = catalog.find_root()  # the worker's own checkout, for a cluster on other machines
        self.exercises = {e.slug: e for e in catalog.load_all(root)}
        # a sandbox worker started ahead of each submission (for the exercise being graded): its start-up
        # overlaps with the grade before; it has run no learner code, and each submission gets its own
        self.pool = ServicePool(self.options, spare_workers=True)
        self.scratch = scratch_folder("batch")

    def teardown(self, worker: Any = None) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def grade(self, submission: Submission) -> Outcome:
        """Write the files into a scratch folder and grade them; a service failure leaves it ungraded."""
        with self.lock:
            return self._grade(submission)

    def _grade(self, submission: Submission) -> Outcome:
        assert self.pool is not None
        label = f"{submission.student}/{submission.exercise}"
        exercise = self.exercises.get(submission.exercise)
        if exercise is None:
            reason = f"the worker {self.address} has no exercise {submission.exercise!r} in its course"
            return Outcome(UNGRADED, _empty_result(None, submission.exercise, label, reason, ungraded=True),
                           reason, self.address)
        self.pool.keep_spares({exercise.slug})  # submissions come grouped by exercise: one spare is enough
        folder = Path(tempfile.mkdtemp(dir=self.scratch)) / exercise.slug
        try:
            for name, data in submission.files:
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            result = grade(exercise, folder, self.pool, label=label, keep_tests=True, kept=True,
                           require_sandbox=self.require_sandbox)
            if any(t.status.value != "passed" for t in result.tests) or result.error:
                self.pool.check()  # a check that failed because a service went away is not the learner's
        except ServiceError as exc:
            reason = f"could not grade: {exc}"
            return Outcome(UNGRADED, _empty_result(exercise, exercise.slug, label, reason, ungraded=True),
                           reason, self.address)
        except Exception as exc:  # a defect of the grader: never the learner's score
            reason = f"the grader failed: {type(exc).__name__}: {exc}"
            return Outcome(UNGRADED, _empty_result(exercise, exercise.slug, label, reason, ungraded=True),
                           reason, self.address)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        if exercise.slug not in self.warmed:
            # What the first grade loaded (services, hidden tests, fixtures) lives as long as the worker:
            # moved out of the collector's sight, later collections only walk what one grade makes.
            self.warmed.add(exercise.slug)
            gc.collect()
            gc.freeze()
        if result.ungraded:  # the sandbox could not be set up: nothing of the learner's was judged
            return Outcome(UNGRADED, result, result.error, self.address)
        return Outcome(GRADED, result, result.error, self.address)


def grade_on_worker(submission: Submission, plugin: str) -> Outcome:
    """The Dask task: grade one submission with this worker's warm grader named `plugin`."""
    from distributed import get_worker

    grader: WarmGrader = get_worker().plugins[plugin]  # type: ignore[assignment]
    return grader.grade(submission)


def worker_state() -> tuple[str, str, str]:
    """The grader version and sandbox level (name, reason) of a worker (run on every worker first)."""
    from grader.sandbox.jail import detect

    level = detect()
    return version(), level.name, level.reason


# -- the client side ----------------------------------------------------------------------------

@dataclass
class Summary:
    """How a batch went."""

    planned: int = 0
    skipped: int = 0  # already in the gradebook
    graded: int = 0
    failed: int = 0
    ungraded: int = 0
    interrupted: bool = False
    lost: str = ""  # why the batch stopped when it was not the user's Ctrl-C
    duration: float = 0.0
    workers: int = 0

    @property
    def finished(self) -> int:
        return self.graded + self.failed + self.ungraded


class Listener:
    """Told about a batch's progress; the default tells nobody."""

    def started(self, total: int, skipped: int, workers: int) -> None:
        pass

    def finished(self, submission: Submission, outcome: Outcome, attempt: int) -> None:
        pass

    def stopped(self, summary: Summary) -> None:
        pass


@contextlib.contextmanager
def connect(jobs: int, scheduler: str | None) -> Iterator[Client]:
    """A Dask client: on `scheduler` when given, else on a LocalCluster of `jobs` single-threaded processes."""
    import dask
    from distributed import Client, LocalCluster

    # Dask logs what it recovers from (a lost worker, a reconnection) as errors; the batch reports the
    # outcome of every submission itself
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(logging.CRITICAL)
    if scheduler:
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise ServiceError(f"no Dask scheduler answers at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    # Dask's statistical profiler samples each worker's task thread every 10 ms for a dashboard the
    # local cluster does not have: about 7% of a worker's CPU per submission
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR, death_timeout=30,
                               # its HTTP server (health, metrics) on a free port, not 8787
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        with cluster, Client(cluster) as client:
            yield client


ALLOWED_FAILURES = 2  # a submission on whose worker two workers died is recorded as failed


def _check_workers(client: Client, require_sandbox: bool) -> int:
    """The number of workers; refuses a cluster whose workers run another grader version, or (with
    `require_sandbox`) would run learner code without the namespace sandbox."""
    client.wait_for_workers(1, timeout=120)
    states = client.run(worker_state)
    mine = version()
    other = {address: v for address, (v, _, _) in states.items() if v != mine}
    if other:
        shown = ", ".join(f"{a} has {v}" for a, v in sorted(other.items()))
        raise ServiceError(f"the Dask workers must run grader {mine}, like this client: {shown}")
    if require_sandbox:
        from grader.sandbox.jail import NAMESPACES

        bare = {address: reason for address, (_, level, reason) in states.items() if level != NAMESPACES}
        if bare:
            shown = "; ".join(f"{a}: {reason}" for a, reason in sorted(bare.items()))
            raise SandboxUnavailable(f"refusing to grade: learner code would run without the namespace "
                                     f"sandbox on {shown}. `grade doctor` on that machine says why; "
                                     "--no-require-sandbox grades anyway")
    return len(states)


def grade_batch(
    submissions: Sequence[Submission],
    exercises: Sequence[Exercise],
    book: Gradebook,
    *,
    options: ServiceOptions,
    jobs: int | None = None,
    scheduler: str | None = None,
    regrade: bool = False,
    require_sandbox: bool = True,
    listener: Listener | None = None,
    client: Client | None = None,
) -> Summary:
    """Grade every submission the gradebook does not already hold; record each result as it arrives.

    The work goes to `client` when given, else to a cluster `connect(jobs, scheduler)` makes for it.
    Ctrl-C stops the batch: what finished is in the gradebook, the rest is graded on the next run.
    """
    from distributed import as_completed

    listener = listener or Listener()
    by_slug = {e.slug: e for e in exercises}
    course = exercises[0].root if exercises else Path.cwd()
    started = time.monotonic()
    mine = version()
    # grouped by exercise, in course order: a worker grades one exercise after another, so the sandbox it
    # starts ahead is for the exercise of its next submission
    rank = {slug: i for i, slug in enumerate(by_slug)}
    todo = sorted((s for s in submissions
                   if regrade or not book.done(s.student, s.exercise, s.content_hash, mine)),
                  key=lambda s: rank.get(s.exercise, len(rank)))
    summary = Summary(planned=len(submissions), skipped=len(submissions) - len(todo))
    if not todo:
        listener.started(0, summary.skipped, 0)
        listener.stopped(summary)
        return summary
    futures: list[Any] = []
    try:
        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(connect(jobs or os.cpu_count() or 1, scheduler))
            summary.workers = _check_workers(client, require_sandbox)
            plugin = WarmGrader(str(course), options, require_sandbox)
            client.register_plugin(plugin, name=plugin.name)
            listener.started(len(todo), summary.skipped, summary.workers)
            by_key = {}
            for submission in todo:
                future = client.submit(grade_on_worker, submission, plugin.name, pure=False,
                                       key=f"grade-{submission.student}-{submission.exercise}-"
                                           f"{submission.content_hash[:12]}-{os.urandom(4).hex()}")
                by_key[future.key] = submission
                futures.append(future)
            for future in as_completed(futures):
                submission = by_key[future.key]
                outcome = _outcome(future, submission, by_slug.get(submission.exercise))
                # a Ctrl-C between recording a result and counting it would stop the batch with a
                # gradebook that holds one result more than the summary says
                with _ctrl_c_after():
                    attempt = book.record(submission.student, submission.exercise, outcome.status,
                                          outcome.result, content_hash=submission.content_hash,
                                          reason=outcome.reason, source=submission.source, worker=outcome.worker)
                    setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
                    listener.finished(submission, outcome, attempt)
    except KeyboardInterrupt:
        summary.interrupted = True
        for future in futures:
            with contextlib.suppress(Exception):
                future.cancel()
    except CancelledError:  # the cluster went away under us: what is left is graded on the next run
        summary.interrupted = True
        summary.lost = "the Dask cluster cancelled the batch's tasks (did the scheduler stop?)"
    summary.duration = round(time.monotonic() - started, 3)
    listener.stopped(summary)
    return summary


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block and raise its KeyboardInterrupt once the block is
    done (in the main thread; elsewhere no signal arrives and the block just runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
    elif held and previous != signal.SIG_IGN:
        raise KeyboardInterrupt


def _outcome(future: Any, submission: Submission, exercise: Exercise | None) -> Outcome:
    """The worker's Outcome, or what a dead worker or a cancelled task amounts to.

    Only a task that failed (status "error") is this submission's trouble. A task that finished, or
    was lost, but whose result cannot be fetched means the cluster went away: that raises
    CancelledError like a cancelled task, and the submission is graded on the next run.
    """
    from distributed import KilledWorker

    label = f"{submission.student}/{submission.exercise}"
    try:
        return future.result()
    except KilledWorker:
        reason = (f"grading this submission ended its worker process {ALLOWED_FAILURES} times (a crash or "
                  "memory exhaustion in the grading process); it was not graded. Look at the submission, "
                  "then grade it again with --regrade.")
        return Outcome(FAILED, _empty_result(exercise, submission.exercise, label, reason, ungraded=False), reason)
    except GraderError as exc:
        reason = f"could not grade: {exc}"
        return Outcome(UNGRADED, _empty_result(exercise, submission.exercise, label, reason, ungraded=True), reason)
    except CancelledError:
        raise
    except Exception as exc:
        if future.status != "error":  # the task did not fail: the client lost the cluster fetching it
            raise CancelledError(f"fetching the result failed: {type(exc).__name__}: {exc}") from exc
        reason = f"the grader failed: {type(exc).__name__}: {exc}"
        return Outcome(UNGRADED, _empty_result(exercise, submission.exercise, label, reason, ungraded=True), reason)
