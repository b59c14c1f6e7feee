"""This checkout beside another one: `grade run SLUG --path solutions` of each, by turns.

Run: .venv/bin/python benchmarks/compare.py OTHER_CHECKOUT [--pairs 6] [SLUG ...]

OTHER_CHECKOUT is another clone (or worktree) of the course with its own `.venv` (`git worktree add
../before <commit>`, then the README's install command there). Both grade this checkout's reference
solutions, copied once to a scratch folder (each with its own hidden tests). Each pair of runs
goes one way then the other, after a warm-up run of each: a machine whose speed drifts during the
measurement (seen here: the same floor 0.42 s and 0.69 s an hour apart) moves both alike. Printed per
exercise: the median wall time and CPU time (user + system of the processes the grade waits for; the
sandbox's own processes are reaped inside it and not counted) of each, and this checkout's ratio to
the other's.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import ROOT  # noqa: F401  (also unsets PYTHONDONTWRITEBYTECODE for the measured processes)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_once(checkout: Path, slug: str, solutions: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `grade run` of `checkout`, standing in it."""
    grade = checkout / ".venv" / "bin" / "grade"
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run([str(grade), "run", slug, "--path", str(solutions)], cwd=checkout, capture_output=True,
                   check=False)
    return time.perf_counter() - started, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="another checkout of the course, with its own .venv")
    parser.add_argument("--pairs", type=int, default=6, help="pairs of runs per exercise")
    parser.add_argument("slugs", nargs="*")
    args = parser.parse_intermixed_args()
    other = args.other.resolve()
    if not (other / ".venv" / "bin" / "grade").exists():
        raise SystemExit(f"{other} has no .venv/bin/grade: install it there first (README's quick start)")
    from grader import catalog

    slugs = [e.slug for e in catalog.select(ROOT, args.slugs)]
    checkouts = {"this": ROOT, "other": other}
    scratch = Path(tempfile.mkdtemp(prefix="grade-compare-"))
    try:
        solutions = scratch / "solutions"
        shutil.copytree(ROOT / "solutions", solutions)
        print(f"{'exercise':<18} {'other wall':>10} {'this wall':>10} {'ratio':>6}  {'other cpu':>9} "
              f"{'this cpu':>9} {'ratio':>6}")
        for slug in slugs:
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
            for checkout in checkouts.values():
                run_once(checkout, slug, solutions)  # warm-up: bytecode written, caches built
            for pair in range(args.pairs):
                order = list(checkouts.items()) if pair % 2 == 0 else list(reversed(checkouts.items()))
                for name, checkout in order:
                    runs[name].append(run_once(checkout, slug, solutions))
            wall = {name: statistics.median(w for w, _ in got) for name, got in runs.items()}
            cpu = {name: statistics.median(c for _, c in got) for name, got in runs.items()}
            print(f"{slug:<18} {wall['other']:10.3f} {wall['this']:10.3f} {wall['this'] / wall['other']:5.2f}x  "
                  f"{cpu['other']:9.3f} {cpu['this']:9.3f} {cpu['this'] / cpu['other']:5.2f}x", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"this: {ROOT}; other: {other}; {args.pairs} pairs by turns per exercise, medians.", file=sys.stderr)


if __name__ == "__main__":
    main()
