"""Every exercise: `grade run SLUG --path solutions` beside its import floor, and a watch regrade.

Run: .venv/bin/python benchmarks/exercises.py [--repeat N] [SLUG ...]

The floors are whole processes measured in this run: `python -c "import pytest"` for exercises in
plain Python, `"import boto3, moto, pytest"` for AWS ones, `"import sqlglot, pytest, sqlite3"` for SQL
ones. A grade is a whole process too. Each exercise's floor and grade run by turns (after a warm-up of
each): a machine whose speed drifts during the run (seen here: the same floor 0.47 s and 0.84 s in two
runs minutes apart) moves both alike, so the ratio stays the grader's own. A watch regrade is what `grade watch`
does after a save (grader.watch.Watch.regrade: grade, record the progress, print the short report)
in one process whose services are already up, after one warm-up regrade, a second after the one before
(watch starts the next grade's sandbox worker once a report is shown, while the learner edits). Goals: a grade within
2.5x its floor; a regrade under 0.3 s (plain Python and SQL) or 1 s (AWS).

Beside wall time each row shows CPU time (user + system of the processes the grade waits for) and
its ratio to the floor's: on a machine busy with other work, wall time waits for the CPU and CPU
time does not. In the namespace sandbox the learner's own processes are reaped inside it and their
CPU is not counted; GRADER_SANDBOX=process counts them (and changes what is measured).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from timing import GRADE, ROOT

FLOORS = {
    "python": "import pytest",
    "aws": "import boto3, moto, pytest",
    "sql": "import sqlglot, pytest, sqlite3",
}
REGRADE_GOAL = {"python": 0.3, "sql": 0.3, "aws": 1.0}
SAVE_GAP = 1.0  # seconds between regrades: the spare worker watch starts after a report has booted by then
GRADE_GOAL = 2.5


def kind(exercise) -> str:
    services = set(exercise.services)
    return "aws" if "aws" in services else "sql" if services & {"sql", "learner_db"} else "python"


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(command: list[str]) -> tuple[float, float, int]:
    cpu, started = _children_cpu(), time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, capture_output=True, check=False).returncode
    return time.perf_counter() - started, _children_cpu() - cpu, code


def measure(floor: list[str], grade: list[str], repeat: int) -> tuple[tuple[float, float], tuple[float, float], int]:
    """Median wall and CPU seconds of the floor and of the grade, run in the course root by turns (after
    a warm-up of each), so both see the machine in the same state; and the grade's exit code."""
    _run(floor)
    _run(grade)
    floors, grades, code = [], [], 0
    for _ in range(repeat):
        floors.append(_run(floor))
        wall, cpu, code = _run(grade)
        grades.append((wall, cpu))
    median = lambda runs, i: statistics.median(run[i] for run in runs)  # noqa: E731
    return (median(floors, 0), median(floors, 1)), (median(grades, 0), median(grades, 1)), code


def regrades(exercise, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of a watch regrade of the reference solution, services warm."""
    from rich.console import Console

    from grader.runner import ServicePool
    from grader.watch import Watch

    with ServicePool(spare_workers=True, spares_later=True) as pool, open(os.devnull, "w") as sink:  # as watch()
        loop = Watch([exercise], ROOT / "solutions", pool, Console(file=sink), start=exercise.slug)
        loop.regrade()  # the first grade of a watch starts the services
        walls, cpus = [], []
        for _ in range(repeat):
            time.sleep(SAVE_GAP)  # a learner reads the report and edits before saving again
            cpu, started = time.process_time() + _children_cpu(), time.perf_counter()
            result = loop.regrade()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() + _children_cpu() - cpu)
        if not result.passed:
            raise SystemExit(f"{exercise.slug}: the solution did not pass in watch mode")
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("slugs", nargs="*")
    args = parser.parse_args()
    os.environ["GRADER_STATE_DIR"] = tempfile.mkdtemp(prefix="grade-bench-")  # no progress in the checkout
    os.environ.pop("GRADER_MYSQL_URL", None)  # the embedded backends: what a learner has
    os.chdir(ROOT)
    from grader import catalog
    from grader.sandbox.jail import detect

    exercises = catalog.select(ROOT, args.slugs)
    print(f"{'exercise':<16} {'floor':<6} {'floor s':>7} {'grade s':>7} {'ratio':>6} {'floor cpu':>9} "
          f"{'grade cpu':>9} {'ratio':>6}  {'regrade s':>9} {'regrade cpu':>11}")
    for exercise in exercises:
        (floor_wall, floor_cpu), (wall, cpu), code = measure(
            [sys.executable, "-c", FLOORS[kind(exercise)]], [GRADE, "run", exercise.slug, "--path", "solutions"],
            args.repeat)
        regrade_wall, regrade_cpu = regrades(exercise, args.repeat)
        failed = "" if code == 0 else f"  (exit {code})"
        print(f"{exercise.slug:<16} {kind(exercise):<6} {floor_wall:7.2f} {wall:7.2f} {wall / floor_wall:5.2f}x "
              f"{floor_cpu:9.2f} {cpu:9.2f} {cpu / floor_cpu:5.2f}x  {regrade_wall:9.3f} {regrade_cpu:11.3f}{failed}")
    kinds = sorted({kind(e) for e in exercises})
    print(f"floors, each run by turns with its exercise's grades: "
          f"{'; '.join(f'{k}: python -c {FLOORS[k]!r}' for k in kinds)}. Goals: grade <= {GRADE_GOAL}x "
          f"its floor; regrade <= {REGRADE_GOAL['python']} s (python, sql), {REGRADE_GOAL['aws']} s (aws). "
          f"Sandbox: {detect().name}. Load average while measuring: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
