"""Wall time of `grade run log_parsing --path solutions` beside the floor `python -c "import pytest"`.

Run: .venv/bin/python benchmarks/grade_latency.py [--repeat N]
Both are measured in the same run, as whole processes, and the ratio is printed.
"""
from __future__ import annotations

import argparse
import sys

from timing import GRADE, report, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    floor = report('floor: python -c "import pytest"', wall([sys.executable, "-c", "import pytest"], args.repeat)[0])
    times, code = wall([GRADE, "--version"], args.repeat)
    report("grade --version (CLI start-up)", times, floor, code)
    for label, extra in (("solutions", ["--path", "solutions"]), ("the stub", [])):
        times, code = wall([GRADE, "run", "log_parsing", *extra], args.repeat)
        report(f"grade run log_parsing ({label})", times, floor, code)


if __name__ == "__main__":
    main()
