"""Wall time to grade the AWS exercises beside the floor `python -c "import boto3, moto"`, plus the
embedded server's own costs (import, start, first request, reset, stop), and what the request filter
(grader/services/aws_realism.py) adds to a request beside moto's own application served bare in the
same process (the floor of that line).

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

FILTER_PROBE = """
import statistics, sys, threading, time
import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
from grader.services import ServiceOptions
from grader.services.aws import make_service

service = make_service(ServiceOptions()); service.start()
class Quiet(MotoRequestHandler):  # as the embedded server's handler: no log line per request
    def log_request(self, *args, **kwargs):
        pass

bare = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                   request_handler=Quiet)
threading.Thread(target=bare.serve_forever, daemon=True).start()

def client(name, url):  # made as a learner's code makes it: no grader mark, so the filter does all it does
    return boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").client(
        name, endpoint_url=url)

def per_request(url, table, bucket, n):
    dynamodb, s3 = client("dynamodb", url), client("s3", url)
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    s3.create_bucket(Bucket=bucket); s3.put_object(Bucket=bucket, Key="a/b.json", Body=b"{}")
    started = time.perf_counter()
    for i in range(n):
        dynamodb.put_item(TableName=table, Item={"k": {"S": str(i)}})
        dynamodb.query(TableName=table, KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": str(i)}})
        s3.head_object(Bucket=bucket, Key="a/b.json")
    return (time.perf_counter() - started) / (3 * n)

n = int(sys.argv[1])
rounds = [(per_request(f"http://127.0.0.1:{bare.server_address[1]}", f"bare{r}", f"bare-{r}", n),
           per_request(service.endpoint_url, f"filtered{r}", f"filtered-{r}", n)) for r in range(3)]
print(statistics.median(b for b, _ in rounds), statistics.median(f for _, f in rounds))
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
    costs = [[float(x) for x in subprocess.run([sys.executable, "-c", FILTER_PROBE, "100"], cwd=ROOT,
                                               capture_output=True, text=True, check=True).stdout.split()]
             for _ in range(args.repeat)]
    request_floor = report("  floor: one request to moto's bare application", [c[0] for c in costs])
    report("  one request through the filter (PutItem, Query, HeadObject)", [c[1] for c in costs], request_floor)
    for slug in EXERCISES:
        times, code = wall([GRADE, "run", slug, "--path", "solutions"], args.repeat)
        report(f"grade run {slug} --path solutions", times, floor, code)


if __name__ == "__main__":
    main()
