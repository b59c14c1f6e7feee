"""Time to grade sql_joins on SQLite and on MySQL, beside the time to import the grader: python benchmarks/sql_latency.py."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADE = [sys.executable, "-m", "grader.cli"] if not (Path(sys.executable).parent / "grade").exists() else [str(Path(sys.executable).parent / "grade")]


def timed(command: list[str]) -> tuple[float, int]:
    """Wall-clock seconds and exit code of one command run in the course root."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode


def main() -> int:
    """Print import time, then grading time per backend (cold cache first, then warm)."""
    print(f"import grader            {timed([sys.executable, '-c', 'import grader.cli'])[0]:6.2f} s")
    runs = [("sqlite", [])]
    url = os.environ.get("GRADER_MYSQL_URL")
    if url:
        runs.append(("mysql", ["--mysql-url", url]))
    else:
        print("mysql                    skipped (set GRADER_MYSQL_URL)")
    for name, extra in runs:
        for attempt in ("first", "again"):
            seconds, code = timed([*GRADE, "run", "sql_joins", "--path", "solutions", *extra])
            print(f"grade sql_joins {name:6} {attempt:5} {seconds:6.2f} s (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
