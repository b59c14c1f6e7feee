"""Wall time of `grade run log_parsing --path solutions` beside the floor `python -c "import pytest"`.

Run: .venv/bin/python benchmarks/grade_latency.py [--repeat N]
Both are measured in the same run, as whole processes, and the ratio is printed.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wall(command: list[str], repeat: int) -> list[float]:
    """Seconds per run of `command`, after one warm-up run."""
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def report(label: str, times: list[float], floor: float | None = None) -> float:
    median = statistics.median(times)
    ratio = f"  {median / floor:5.2f}x floor" if floor else ""
    print(f"{label:<52} median {median * 1000:7.1f} ms  min {min(times) * 1000:7.1f} ms{ratio}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    floor = report('floor: python -c "import pytest"',
                   wall([sys.executable, "-c", "import pytest"], args.repeat))
    report("grade --version (CLI start-up)", wall([str(BIN / "grade"), "--version"], args.repeat), floor)
    report("grade run log_parsing --path solutions",
           wall([str(BIN / "grade"), "run", "log_parsing", "--path", "solutions"], args.repeat), floor)
    report("grade run log_parsing (the stub)",
           wall([str(BIN / "grade"), "run", "log_parsing"], args.repeat), floor)


if __name__ == "__main__":
    main()
