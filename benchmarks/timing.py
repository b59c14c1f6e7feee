"""Shared timing for the benchmarks: whole processes, medians, ratios to a floor from the same run."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(Path(sys.executable).parent / "grade")


def wall(command: list[str], repeat: int, env: dict[str, str] | None = None,
         warm_up: bool = True) -> tuple[list[float], int]:
    """Seconds per run of `command` in the course root (after one warm-up run), and the last exit code."""
    if warm_up:
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False, env=env)
    times, code = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT, capture_output=True, check=False, env=env).returncode
        times.append(time.perf_counter() - started)
    return times, code


def report(label: str, times: list[float], floor: float | None = None, code: int | None = None) -> float:
    """Print the median and minimum of `times`, the ratio to `floor`, and the exit code; return the median."""
    median = statistics.median(times)
    ratio = f"  {median / floor:5.2f}x floor" if floor else ""
    exit_code = f"  (exit {code})" if code is not None else ""
    print(f"{label:<52} median {median * 1000:7.0f} ms  min {min(times) * 1000:7.0f} ms{ratio}{exit_code}")
    return median
