"""How reliably the concurrency checks of acid_transactions catch a race, and what they cost.

Run: .venv/bin/python benchmarks/acid_races.py [--runs 50] [--backend sqlite|mysql]
(mysql reads GRADER_MYSQL_URL from the environment, never from the command line.)

Each run grades one isolation check on its own (`-k`), in this process with one warm ServicePool:
the racy variants (read, compute, write without a lock; the report read in two transactions) must
lose it every run (catch rate 50/50), the reference solution never (0/50). Times are printed beside
a floor measured in the same run: grading the exercise's one-call check (`report returns ...`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_exercise_acid_transactions import SOLUTION, SQLITE_ONLY, variant  # noqa: E402

from grader.catalog import load  # noqa: E402
from grader.results import Status  # noqa: E402
from grader.runner import ServicePool, grade  # noqa: E402
from grader.services import ServiceOptions  # noqa: E402

CHECKS = {
    "last units": ("isolation_customers_buying", "read, compute, write without a lock"),
    "report": ("isolation_the_report", "the report read in two transactions"),
    "cancellations": ("isolation_orders_and_cancellations", "cancel_order begun without the write lock"),
}
FLOOR = "report_gives_total_balance"  # -k keywords: parts of the checks' function names


def graded(pool: ServicePool, source: str, check: str) -> tuple[bool, float]:
    """(whether `check` passed, seconds) for the orders.py `source`, graded on that check alone."""
    exercise = load(ROOT, "acid_transactions")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "orders.py").write_text(source)
        started = time.perf_counter()
        result = grade(exercise, Path(folder), pool, keyword=check)
        elapsed = time.perf_counter() - started
    (test,) = [t for t in result.tests if t.status is not Status.NOT_RUN]
    return test.status is Status.PASSED, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    args = parser.parse_args()
    url = os.environ.get("GRADER_MYSQL_URL") if args.backend == "mysql" else None
    if args.backend == "mysql" and not url:
        sys.exit("set GRADER_MYSQL_URL in the environment to measure on MySQL")
    reference = SOLUTION.read_text()
    print(f"acid_transactions races on {args.backend}, {args.runs} runs each; load average {os.getloadavg()[0]:.2f}")
    with ServicePool(ServiceOptions(mysql_url=url)) as pool:
        graded(pool, reference, FLOOR)  # start the services and warm the imports
        floor = statistics.median(graded(pool, reference, FLOOR)[1] for _ in range(5))
        print(f"{'floor: the one-call check':<58} median {floor * 1000:6.0f} ms")
        for label, (check, racy_name) in CHECKS.items():
            graded_as = [(racy_name, variant(racy_name), False), ("the reference solution", reference, True)]
            if racy_name in SQLITE_ONLY and url:
                graded_as = graded_as[1:]  # no mistake on MariaDB, where FOR UPDATE locks the row
            for who, source, want in graded_as:
                outcomes = [graded(pool, source, check) for _ in range(args.runs)]
                wrong = sum(passed != want for passed, _ in outcomes)
                median = statistics.median(seconds for _, seconds in outcomes)
                verdict = f"caught {args.runs - wrong}/{args.runs}" if not want else f"failed {wrong}/{args.runs}"
                print(f"{label + ': ' + who:<58} {verdict:>14}  median {median * 1000:6.0f} ms  "
                      f"{median / floor:5.2f}x floor")
        exercise = load(ROOT, "acid_transactions")
        whole = []
        for _ in range(3):
            started = time.perf_counter()
            result = grade(exercise, SOLUTION.parent, pool)
            whole.append(time.perf_counter() - started)
        print(f"{'the whole exercise, reference solution':<58} {result.score:g}/{result.max_score:g} points  "
              f"median {statistics.median(whole) * 1000:6.0f} ms  {statistics.median(whole) / floor:5.2f}x floor")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
