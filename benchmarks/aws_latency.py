"""Wall time to grade the AWS exercises beside the floor `python -c "import boto3, moto"`, plus the
embedded server's own costs (import, start, first request, reset, stop).

Run: .venv/bin/python benchmarks/aws_latency.py [--repeat N]
Every grade is a whole process (`grade run <slug> --path solutions`), after one warm-up run.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from timing import GRADE, ROOT, report, wall

EXERCISES = ("dynamodb_crud", "s3_keys", "queue_vs_stream", "vpc_networking")

SERVER_PROBE = """
import time
t0 = time.perf_counter()
from grader.services import ServiceOptions
from grader.services.aws import make_service
s = make_service(ServiceOptions())
t1 = time.perf_counter(); s.start(); t2 = time.perf_counter()
s.client("dynamodb").list_tables(); t3 = time.perf_counter()
s.reset(); t4 = time.perf_counter()
s.stop(); t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""


def main() -> None:
    """Measure the floor, the server's parts, then each exercise."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floor = report('floor: python -c "import boto3, moto"',
                   wall([sys.executable, "-c", "import boto3, moto"], args.repeat)[0])
    parts = [
        [float(x) for x in subprocess.run([sys.executable, "-c", SERVER_PROBE], cwd=ROOT, capture_output=True,
                                          text=True, check=True).stdout.split()]
        for _ in range(args.repeat)
    ]
    for i, name in enumerate(("import grader.services.aws", "start (imports moto, binds)",
                              "first request (DynamoDB)", "reset", "stop")):
        report(f"  embedded server: {name}", [p[i] for p in parts])
    for slug in EXERCISES:
        times, code = wall([GRADE, "run", slug, "--path", "solutions"], args.repeat)
        report(f"grade run {slug} --path solutions", times, floor, code)


if __name__ == "__main__":
    main()
