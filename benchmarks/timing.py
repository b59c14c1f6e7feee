"""Shared timing for the benchmarks: whole processes, medians, ratios to a floor from the same run."""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(Path(sys.executable).parent / "grade")

# Python writes bytecode on a learner's or a CI machine unless told not to. Where the environment says
# PYTHONDONTWRITEBYTECODE, every grade would compile the grader's modules and rewrite the hidden tests'
# asserts from source, while the floors import site-packages that pip compiled at install: the ratios
# would measure that, not grading. The measured processes write and then reuse bytecode, as users' do
# (each benchmark's warm-up run writes it).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


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


def alternating(commands: dict[str, tuple[list[str], dict[str, str] | None]], repeat: int
                ) -> dict[str, tuple[list[float], list[float], int]]:
    """Run each named command in turn, `repeat` rounds, after one warm-up round.

    Alternating removes the drift of a machine whose load changes during the run (the first command
    would otherwise see a quieter machine than the last). Returns, per name: wall seconds, CPU
    seconds (user + system of the whole process tree, which the load of other programs barely
    changes), and the last exit code.
    """
    out: dict[str, tuple[list[float], list[float], int]] = {name: ([], [], 0) for name in commands}
    for round_ in range(repeat + 1):
        for name, (command, env) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            code = subprocess.run(command, cwd=ROOT, capture_output=True, check=False, env=env).returncode
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_:  # round 0 warms caches
                walls, cpus, _ = out[name]
                walls.append(elapsed)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                out[name] = (walls, cpus, code)
    return out


def load_average() -> str:
    """The machine's 1-minute load average, to print beside every number."""
    return f"{os.getloadavg()[0]:.2f}"
