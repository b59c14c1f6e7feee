"""Grading a class: `grade batch` on warm workers against one `grade run` process per submission.

Run: .venv/bin/python benchmarks/batch.py [--submissions N] [--naive N] [--jobs 1,2] [SLUG ...]

A class of N generated submissions (seeded: the same N, the same class) of log_parsing, sql_joins
and dynamodb_crud, in turn: a third reference solutions, a sixth stubs, the rest realistic wrong
answers (one mutant each of the solution, grader/mutants, drawn at random among the valid ones).
Every student has one exercise folder, as `grade batch SUBMISSIONS` reads them.

1. The floor, measured in this run: the naive loop, one `grade run SLUG --path STUDENT --format json`
   process per submission, on a sample of about `--naive` submissions per exercise (drawn per kind
   in the class's proportions), measured on each cluster just before the exercise's first batch
   (the load changes during a run; the floor and the batch beside it see about the same); its mean
   extrapolates the exercise, the sum the class.
2. `grade_batch()` in this process with --jobs J for each J of --jobs: a LocalCluster started, then
   one batch per exercise into a fresh gradebook, each exercise's rate from its own batch's wall
   time. Cold: new workers (a worker's first grade of an exercise imports and starts what it
   needs), what `grade batch` costs; the class line adds the cluster's start. With --warm the
   class is graded again into another gradebook on the same, warm workers: the rate a long batch
   settles at.

Memory per worker: the peak PSS (shared pages split among their sharers) of the Dask worker and
the sandboxes it runs, summed and sampled every 100 ms, beside the worker's own peak RSS. CPU per
submission: user + system time of the workers (moto and SQLite run in them) and of this process
(the scheduler, the gradebook); the sandboxes' CPU is not counted (their processes are reaped
inside their PID namespace). The load average is printed before and after each part.
Goals on 2 cores: >= 10x the naive loop; >= 20/s log_parsing, >= 10/s sql_joins, >= 3/s
dynamodb_crud; <= 300 MB per worker.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from timing import GRADE, ROOT

sys.path.insert(0, str(ROOT))

DEFAULT_SLUGS = ("log_parsing", "sql_joins", "dynamodb_crud")
GOALS = {"log_parsing": 20.0, "sql_joins": 10.0, "dynamodb_crud": 3.0}
RATIO_GOAL = 10.0
MEMORY_GOAL_MB = 300
KINDS = ("solution", "solution", "stub", "wrong", "wrong", "wrong")  # drawn with equal odds


def load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


# -- the class -----------------------------------------------------------------------------------

def make_class(exercises, count: int, seed: int, folder: Path) -> list[tuple[str, str, str]]:
    """Write `count` student folders under `folder`; (student, slug, kind) of each."""
    from grader.mutants.engine import make_mutants

    rng = random.Random(seed)
    wrong = {e.slug: [m for m in make_mutants(e) if not m.problem] for e in exercises}
    made = []
    for index in range(count):
        exercise = exercises[index % len(exercises)]
        kind = rng.choice(KINDS) if wrong[exercise.slug] else rng.choice(("solution", "stub"))
        student = f"s{index:04d}"
        target = folder / student / exercise.slug
        shutil.copytree(exercise.stub_dir if kind == "stub" else exercise.solution_dir, target,
                        ignore=shutil.ignore_patterns("README*", "exercise.toml", "__pycache__"))
        if kind == "wrong":
            mutant = rng.choice(wrong[exercise.slug])
            (target / mutant.file).write_text(mutant.text, encoding="utf-8")
        made.append((student, exercise.slug, kind))
    return made


# -- the naive loop ------------------------------------------------------------------------------

def naive(made, folder: Path, slug: str, per_exercise: int, seed: int) -> tuple[float, float]:
    """Mean wall and CPU seconds of one `grade run` process per submission of `slug`, over a sample drawn
    per kind in the class's proportions (a mean: a submission that runs into its time limit costs the
    class its whole limit)."""
    rng = random.Random(f"{seed}:{slug}")
    mine = [m for m in made if m[1] == slug]
    sample = []
    for kind in ("solution", "stub", "wrong"):
        group = [m for m in mine if m[2] == kind]
        if group:
            share = max(1, round(per_exercise * len(group) / len(mine)))
            sample += rng.sample(group, min(share, len(group)))
    walls, cpus = [], []
    for student, _, _ in sample:
        before = os.times()
        started = time.perf_counter()
        subprocess.run([GRADE, "run", slug, "--path", str(folder / student), "--format", "json"],
                       cwd=ROOT, capture_output=True, check=False)
        walls.append(time.perf_counter() - started)
        after = os.times()
        cpus.append(after.children_user + after.children_system - before.children_user - before.children_system)
    return statistics.mean(walls), statistics.mean(cpus)


# -- the batch -----------------------------------------------------------------------------------

class TreeMemory:
    """Samples each worker's process tree: the peak resident set of the worker itself, and the peak
    proportional set size (PSS: shared pages split among their sharers) of the worker and its sandboxes."""

    def __init__(self, pids: list[int]) -> None:
        import psutil

        self.procs = {pid: psutil.Process(pid) for pid in pids}
        self.worker = {pid: 0 for pid in pids}
        self.tree = {pid: 0 for pid in pids}
        self.at_peak = {pid: (0, 0) for pid in pids}  # the worker's own PSS and how many processes it ran then
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.cpu = 0.0  # what sampling cost this process

    def _run(self) -> None:
        import psutil

        while not self.stop.wait(0.1):
            self.cpu = time.thread_time()
            for pid, proc in self.procs.items():
                try:
                    members = [proc, *proc.children(recursive=True)]
                    self.worker[pid] = max(self.worker[pid], proc.memory_info().rss)
                except psutil.Error:
                    continue
                sizes = []
                for member in members:
                    try:
                        sizes.append(member.memory_full_info().pss)
                    except psutil.Error:
                        pass
                if sum(sizes) > self.tree[pid]:
                    self.tree[pid] = sum(sizes)
                    self.at_peak[pid] = (sizes[0] if sizes else 0, len(sizes) - 1)

    def __enter__(self) -> TreeMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def worker_usage() -> dict[str, float]:
    """Run on each worker: its pid, and the CPU seconds of it and of its children it reaped."""
    times = os.times()
    return {"pid": os.getpid(), "cpu": times.user + times.system + times.children_user + times.children_system}


def batches(exercises, submissions, jobs: int, scratch: Path, warm: bool, floor) -> dict:
    """Seconds per exercise on a new cluster of `jobs` workers (and again, warm), what the workers used,
    and `floor(slug)`: the naive loop measured just before the exercise's first batch."""
    from grader import batch
    from grader.gradebook import Gradebook
    from grader.services import ServiceOptions

    options = ServiceOptions()
    seconds: dict[str, dict[str, float]] = {"cold": {}, "warm": {}}
    naive_loop: dict[str, tuple[float, float, str]] = {}
    cpu: dict[str, tuple[float, float]] = {}
    failures: list[str] = []
    started = time.perf_counter()
    with batch.connect(jobs, None) as client:
        client.wait_for_workers(jobs, timeout=120)
        before = {u["pid"]: u["cpu"] for u in client.run(worker_usage).values()}
        setup = time.perf_counter() - started
        with TreeMemory(list(before)) as memory:
            sampled = 0.0
            for phase in ("cold", "warm") if warm else ("cold",):
                own = os.times()
                with Gradebook(scratch / f"gradebook-{jobs}-{phase}.db") as book:
                    for exercise in exercises:
                        mine = [s for s in submissions if s.exercise == exercise.slug]
                        if phase == "cold":
                            naive_loop[exercise.slug] = (*floor(exercise.slug), load())
                        began = time.perf_counter()
                        summary = batch.grade_batch(mine, [exercise], book, options=options, client=client)
                        seconds[phase][exercise.slug] = time.perf_counter() - began
                        if summary.graded != len(mine):
                            failures.append(f"{phase} {exercise.slug}: {summary}")
                after = {u["pid"]: u["cpu"] for u in client.run(worker_usage).values()}
                cpu[phase] = (sum(after[p] - before.get(p, 0.0) for p in after),
                              sum(os.times()[:2]) - sum(own[:2]) - memory.cpu + sampled)
                sampled = memory.cpu
                before = after
    return {"seconds": seconds, "setup": setup, "cpu": cpu, "failures": failures, "naive": naive_loop,
            "worker_rss_mb": [m / 2**20 for m in memory.worker.values()],
            "tree_pss_mb": [m / 2**20 for m in memory.tree.values()],
            "at_peak": [(own / 2**20, n) for own, n in memory.at_peak.values()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=200, help="students in the class (default 200)")
    parser.add_argument("--naive", type=int, default=8, help="naive `grade run` processes per exercise (default 8)")
    parser.add_argument("--jobs", default="1,2", help="cluster sizes, comma-separated (default 1,2)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--warm", action="store_true", help="grade the class a second time on the warm workers")
    parser.add_argument("slugs", nargs="*", default=list(DEFAULT_SLUGS))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="batch-benchmark-"))
    os.environ["GRADER_STATE_DIR"] = str(scratch / "state")  # no progress in the checkout
    os.environ.pop("GRADER_MYSQL_URL", None)  # the embedded backends
    os.chdir(ROOT)
    try:
        run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    from grader import batch, catalog
    from grader.sandbox.jail import detect

    exercises = catalog.select(ROOT, args.slugs)
    folder = scratch / "class"
    made = make_class(exercises, args.submissions, args.seed, folder)
    submissions = batch.plan(folder, exercises, catalog.load_all(ROOT)).submissions
    count = {e.slug: sum(1 for s in submissions if s.exercise == e.slug) for e in exercises}
    kinds = {k: sum(1 for m in made if m[2] == k) for k in ("solution", "stub", "wrong")}
    print(f"class: {len(submissions)} submissions ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
          f"sandbox {detect().name}; load average before: {load()} on {os.cpu_count()} CPUs")
    rates: dict[int, float] = {}
    n = len(submissions)
    for jobs in [int(j) for j in args.jobs.split(",")]:
        got = batches(exercises, submissions, jobs, scratch, args.warm,
                      lambda slug: naive(made, folder, slug, args.naive, args.seed))
        floor = got["naive"]
        print(f"\n== grade_batch --jobs {jobs}: cluster up in {got['setup']:.1f} s; load after {load()}")
        print(f"{'exercise':<16} {'n':>4} {'naive s':>7} {'cpu s':>5} {'load':>4} {'naive /s':>8} {'cold /s':>8} "
              f"{'x naive':>8} {'warm /s':>8} {'x naive':>8} {'goal /s':>7}")
        rates[jobs] = n / sum(got["seconds"]["cold"].values())
        for e in exercises:
            slug, (per, per_cpu, at) = e.slug, floor[e.slug]
            cold = count[slug] / got["seconds"]["cold"][slug]
            warm = count[slug] / got["seconds"]["warm"][slug] if got["seconds"]["warm"] else 0.0
            best = max(cold, warm)
            print(f"{slug:<16} {count[slug]:4d} {per:7.2f} {per_cpu:5.2f} {at.split()[0]:>4} {1 / per:8.2f} {cold:8.2f} "
                  f"{cold * per:7.1f}x " + (f"{warm:8.2f} {warm * per:7.1f}x " if warm else f"{'-':>8} {'-':>8} ")
                  + f"{GOALS.get(slug, 0):7.0f}  {'met' if best >= GOALS.get(slug, 0) else 'NOT met'}")
        naive_total = sum(floor[slug][0] * c for slug, c in count.items())
        cold_total = sum(got["seconds"]["cold"].values())
        whole = got["setup"] + cold_total
        line = (f"{'class':<16} {n:4d} {naive_total / n:7.2f} {'':>5} {'':>4} {n / naive_total:8.2f} {n / cold_total:8.2f} "
                f"{naive_total / cold_total:7.1f}x ")
        if got["seconds"]["warm"]:
            warm_total = sum(got["seconds"]["warm"].values())
            line += f"{n / warm_total:8.2f} {naive_total / warm_total:7.1f}x "
        print(line + f"{RATIO_GOAL:6.0f}x  with cluster start: {n / whole:.2f}/s = {naive_total / whole:.1f}x naive "
              f"({'met' if naive_total / whole >= RATIO_GOAL else 'NOT met'})")
        for phase, (workers, here) in got["cpu"].items():
            print(f"cpu per submission, {phase}: workers {workers / n:.3f} s (sandboxes not counted), "
                  f"this process (scheduler, gradebook; not the memory sampling) {here / n:.3f} s")
        tree = max(got["tree_pss_mb"])
        print(f"memory per worker: worker + sandboxes PSS peak {', '.join(f'{m:.0f}' for m in got['tree_pss_mb'])} MB "
              f"({'met' if tree <= MEMORY_GOAL_MB else 'NOT met'}, goal {MEMORY_GOAL_MB}); worker alone RSS peak "
              f"{', '.join(f'{m:.0f}' for m in got['worker_rss_mb'])} MB; at the peak the worker's own PSS and its "
              f"processes (bwrap, sandbox workers and their children): "
              f"{', '.join(f'{own:.0f} MB + {k}' for own, k in got['at_peak'])}")
        for failure in got["failures"]:
            print(f"  not all graded: {failure}")
    if len(rates) > 1:
        base = min(rates)
        print("\nscaling (cold class rate): " + ", ".join(
            f"{j} job(s) {r:.2f}/s = {r / rates[base]:.2f}x" for j, r in sorted(rates.items())))
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
