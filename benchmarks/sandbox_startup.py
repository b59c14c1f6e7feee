"""What the namespace sandbox costs: its start-up, and whole grades, beside the plain-process level.

Run: .venv/bin/python benchmarks/sandbox_startup.py [--repeat N]

1. In one process: a Sandbox started and its first call answered (the learner module imported, a
   child forked), at each level; then one more test's child (fork, call, clean-up).
2. Whole `grade run SLUG --path solutions` processes at each level (GRADER_SANDBOX=process against
   the default), with the floor `python -c "import pytest"` measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from timing import GRADE, ROOT, alternating, load_average, report, wall

sys.path.insert(0, str(ROOT))

from grader.sandbox import NAMESPACES, PROCESS, Level, Sandbox, detect  # noqa: E402


def in_process(level: Level, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds to start a sandbox and answer its first call; seconds per further test's child."""
    starts, children = [], []
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "mod.py").write_text("def f(x):\n    return x + 1\n")
        for _ in range(repeat):
            began = time.perf_counter()
            with Sandbox(Path(folder), "mod", timeout=5, level=level) as box:
                session = box.session()
                session.call("f", 1)
                session.close()
                starts.append(time.perf_counter() - began)
                for _ in range(5):
                    began = time.perf_counter()
                    session = box.session()
                    session.call("f", 1)
                    session.close()
                    children.append(time.perf_counter() - began)
    return starts, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--exercises", nargs="*", default=["log_parsing", "dynamodb_crud"])
    args = parser.parse_args()
    here = detect()
    if here.name != NAMESPACES:
        print(f"no namespace sandbox here ({here.reason}): nothing to compare")
        return
    plain = Level(PROCESS, "benchmark")
    print("== one sandbox, in process")
    base_start, base_child = in_process(plain, args.repeat)
    floor = report("process level: start + first call", base_start)
    report("namespaces: start + first call", in_process(here, args.repeat)[0], floor)
    child_floor = report("process level: one more test's child", base_child)
    report("namespaces: one more test's child", in_process(here, args.repeat)[1], child_floor)
    print("== whole grades (solutions); the two levels alternate, so both see the same machine")
    floor = report('floor: python -c "import pytest"', wall([sys.executable, "-c", "import pytest"], args.repeat)[0])
    for slug in args.exercises:
        command = [GRADE, "run", slug, "--path", "solutions"]
        runs = alternating({
            "process": (command, {**os.environ, "GRADER_SANDBOX": "process"}),
            "namespaces": (command, {k: v for k, v in os.environ.items() if k != "GRADER_SANDBOX"}),
        }, args.repeat)
        medians = {level: report(f"{slug}, {level}", walls, floor, code) for level, (walls, _, code) in runs.items()}
        print(f"{'':<52} namespaces / process: {medians['namespaces'] / medians['process']:.2f}  (load {load_average()})")
    print(f"(medians of {args.repeat}; {statistics.median(base_child) * 1000:.1f} ms per child at process level)")


if __name__ == "__main__":
    main()
