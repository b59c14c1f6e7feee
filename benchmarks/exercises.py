"""Every exercise: `grade run SLUG --path solutions` beside its import floor, and a watch regrade.

Run: .venv/bin/python benchmarks/exercises.py [--repeat N] [SLUG ...]

The floors are whole processes measured in this run: `python -c "import pytest"` for exercises in
plain Python, `"import boto3, moto, pytest"` for AWS ones, `"import sqlglot, pytest, sqlite3"` for SQL
ones. A grade is a whole process too (after one warm-up run). A watch regrade is what `grade watch`
does after a save (grader.watch.Watch.regrade: grade, record the progress, print the short report)
in one process whose services are already up, after one warm-up regrade. Goals: a grade within
2.5x its floor; a regrade under 0.3 s (plain Python and SQL) or 1 s (AWS).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from timing import GRADE, ROOT, wall

FLOORS = {
    "python": "import pytest",
    "aws": "import boto3, moto, pytest",
    "sql": "import sqlglot, pytest, sqlite3",
}
REGRADE_GOAL = {"python": 0.3, "sql": 0.3, "aws": 1.0}
GRADE_GOAL = 2.5


def kind(exercise) -> str:
    return "aws" if "aws" in exercise.services else "sql" if "sql" in exercise.services else "python"


def regrades(exercise, repeat: int) -> list[float]:
    """Seconds per watch regrade of the reference solution, services warm."""
    from rich.console import Console

    from grader.runner import ServicePool
    from grader.watch import Watch

    with ServicePool() as pool, open(os.devnull, "w") as sink:
        loop = Watch([exercise], ROOT / "solutions", pool, Console(file=sink), start=exercise.slug)
        loop.regrade()  # the first grade of a watch starts the services
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = loop.regrade()
            times.append(time.perf_counter() - started)
        if not result.passed:
            raise SystemExit(f"{exercise.slug}: the solution did not pass in watch mode")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("slugs", nargs="*")
    args = parser.parse_args()
    os.environ["GRADER_STATE_DIR"] = tempfile.mkdtemp(prefix="grade-bench-")  # no progress in the checkout
    os.environ.pop("GRADER_MYSQL_URL", None)  # the embedded backends: what a learner has
    os.chdir(ROOT)
    from grader import catalog

    exercises = catalog.select(ROOT, args.slugs)
    floors = {}
    for name in sorted({kind(e) for e in exercises}):
        floors[name] = statistics.median(wall([sys.executable, "-c", FLOORS[name]], args.repeat)[0])
    print(f"{'exercise':<16} {'floor':<7} {'floor s':>8} {'grade s':>8} {'ratio':>6}  {'regrade s':>9}  verdict")
    worst = 0.0
    for exercise in exercises:
        floor = floors[kind(exercise)]
        times, code = wall([GRADE, "run", exercise.slug, "--path", "solutions"], args.repeat)
        grade = statistics.median(times)
        regrade = statistics.median(regrades(exercise, args.repeat))
        ratio = grade / floor
        worst = max(worst, ratio)
        ok = ratio <= GRADE_GOAL and regrade <= REGRADE_GOAL[kind(exercise)] and code == 0
        print(f"{exercise.slug:<16} {kind(exercise):<7} {floor:8.2f} {grade:8.2f} {ratio:5.2f}x  {regrade:9.3f}  "
              f"{'ok' if ok else 'over goal'}{'' if code == 0 else f' (exit {code})'}")
    print(f"floors: {', '.join(f'{k} = python -c {FLOORS[k]!r}' for k in floors)}; "
          f"goals: grade <= {GRADE_GOAL}x floor, regrade <= {REGRADE_GOAL['python']} s "
          f"(python, sql) / {REGRADE_GOAL['aws']} s (aws); worst ratio {worst:.2f}x")


if __name__ == "__main__":
    main()
