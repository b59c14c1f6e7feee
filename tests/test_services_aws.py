"""The aws service: the embedded moto server starts, resets and stops cleanly; learner env is sealed."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from typing import Any, Callable

import pytest

from grader.checks import aws as checks
from grader.errors import ServiceError
from grader.services import ServiceOptions, factory
from grader.services.aws import ACCOUNT_ID, REGION, AwsService, UnsupportedOnBackend, make_service


def _port(service: AwsService) -> int:
    return int(service.endpoint_url.rsplit(":", 1)[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _make_table(service: AwsService, name: str) -> None:
    service.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_registry_builds_the_embedded_moto_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_AWS_ENDPOINT", raising=False)
    service = factory("aws")(ServiceOptions())
    assert (service.name, service.backend) == ("aws", "moto")


def test_what_moto_loads_is_frozen_out_of_the_collectors_sight() -> None:
    """moto's modules and a warmed service's backend app, loaded in the server's threads, are frozen
    (gc.freeze): a collection during a grade never walks them. Collections are held while they load."""
    import gc

    service = AwsService()
    service.start()
    try:
        service.warm(["dynamodb"])
        service.reset()  # waits for the load and the warming
        dispatcher = service._filter.app
        held = [dispatcher, dispatcher.app_instances["dynamodb"]]
        tracked = gc.get_objects()
        assert not any(o is h for o in tracked for h in held)
        assert gc.isenabled()  # collections, held while it loaded, resume
    finally:
        service.stop()
        gc.unfreeze()


def test_stop_leaves_no_thread_and_frees_the_port() -> None:
    service = make_service(ServiceOptions())
    service.start()
    port = _port(service)
    assert not _port_is_free(port)
    assert any(t.name == "grader-moto-server" for t in threading.enumerate())
    service.stop()
    assert _port_is_free(port)
    assert not any(t.name == "grader-moto-server" for t in threading.enumerate())
    assert not service.running
    with pytest.raises(ServiceError):
        _ = service.endpoint_url


def test_start_is_idempotent_and_listens_on_loopback_only(aws: AwsService) -> None:
    url = aws.endpoint_url
    aws.start()
    assert aws.endpoint_url == url
    assert url.startswith("http://127.0.0.1:")


def test_requests_are_not_logged_on_the_terminal(aws: AwsService, capfd: pytest.CaptureFixture[str]) -> None:
    aws.client("sqs").create_queue(QueueName="quiet")
    aws.client("sqs").list_queues()
    out, err = capfd.readouterr()
    assert "HTTP/1.1" not in out + err


def test_reset_wipes_every_service(aws: AwsService) -> None:
    _make_table(aws, "people")
    aws.client("s3").create_bucket(Bucket="raw-data")
    aws.client("sqs").create_queue(QueueName="jobs")
    aws.client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
    aws.reset()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []
    assert aws.client("kinesis").list_streams()["StreamNames"] == []


def test_a_moto_that_cannot_load_is_a_service_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto.moto_server.werkzeug_app", None)  # its import fails
    service = make_service(ServiceOptions())
    service.start()  # listens at once; moto loads in the background
    try:
        with pytest.raises(ServiceError, match="could not start the embedded moto server: ModuleNotFoundError"):
            service.reset()
        with pytest.raises(ServiceError, match="could not start the embedded moto server"):
            service.check()
    finally:
        service.stop()


def test_the_graders_own_requests_are_answered_in_process(aws: AwsService, monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.services.aws_realism import Realism

    seen: list[bool] = []
    forward = Realism.__call__

    def spy(self: Realism, environ: dict, start_response: object) -> object:
        seen.append("werkzeug.socket" in environ)  # set by werkzeug's server for a request over a socket
        return forward(self, environ, start_response)

    monkeypatch.setattr(Realism, "__call__", spy)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="in-process")
    s3.put_object(Bucket="in-process", Key="a dir/b+c.json", Body=b'{"n": 1}', Metadata={"my_key": "v"})
    head = s3.head_object(Bucket="in-process", Key="a dir/b+c.json")
    assert head["Metadata"] == {"my_key": "v"}
    assert s3.get_object(Bucket="in-process", Key="a dir/b+c.json")["Body"].read() == b'{"n": 1}'
    assert aws.client("ec2").describe_vpcs()["Vpcs"]
    # every request but a streamed upload (botocore's aws-chunked PutObject goes over HTTP) skips the socket
    assert len(seen) == 5 and not any(seen[:1] + seen[2:])


def test_every_reset_reseeds_the_ids_moto_draws(aws: AwsService) -> None:
    ec2 = aws.client("ec2")
    first = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    aws.reset()
    assert ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"] == first
    aws.reset()
    aws.reset()  # nothing reached moto since the last one: no state to wipe, the ids start again all the same
    assert ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"] == first
    assert len(ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.1.0.0/16"]}])["Vpcs"]) == 1


def test_a_new_server_in_the_same_process_starts_empty(aws: AwsService) -> None:
    _make_table(aws, "left-behind")
    second = make_service(ServiceOptions())
    second.start()
    try:
        assert second.client("dynamodb").list_tables()["TableNames"] == []
    finally:
        second.stop()


def test_two_grading_processes_share_nothing() -> None:
    script = (
        "from grader.services import ServiceOptions\n"
        "from grader.services.aws import make_service\n"
        "s = make_service(ServiceOptions()); s.start()\n"
        "d = s.client('dynamodb')\n"
        "before = d.list_tables()['TableNames']\n"
        "d.create_table(TableName='run', KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],"
        " AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}], BillingMode='PAY_PER_REQUEST')\n"
        "print(before); s.stop()\n"
    )
    env = {**os.environ}
    env.pop("GRADER_AWS_ENDPOINT", None)
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True, timeout=60)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["[]", "[]"]


def test_a_learners_first_requests_import_nothing_once_the_services_are_warm() -> None:
    """What moto imports inside a request the first time one needs it (IAM's models for every service's
    first request, Lambda's for a Kinesis PutRecord) is imported while the backends warm up: learner
    code's first requests, over HTTP, load no module."""
    script = (
        "import sys, boto3\n"
        "from grader.services import ServiceOptions\n"
        "from grader.services.aws import make_service\n"
        "s = make_service(ServiceOptions()); s.start(); s.warm(['sqs', 'kinesis']); s.reset()\n"
        "sqs = boto3.client('sqs', endpoint_url=s.endpoint_url, region_name='us-east-1',"
        " aws_access_key_id='x', aws_secret_access_key='x')\n"
        "kinesis = boto3.client('kinesis', endpoint_url=s.endpoint_url, region_name='us-east-1',"
        " aws_access_key_id='x', aws_secret_access_key='x')\n"
        "sqs.list_queues(); kinesis.list_streams()  # the clients' own first requests\n"
        "before = set(sys.modules)\n"
        "url = sqs.create_queue(QueueName='q')['QueueUrl']\n"
        "sqs.send_message(QueueUrl=url, MessageBody='m'); sqs.receive_message(QueueUrl=url)\n"
        "kinesis.create_stream(StreamName='st', ShardCount=1)\n"
        "kinesis.put_record(StreamName='st', Data=b'x', PartitionKey='k')\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('moto')))\n"
        "s.stop()\n"
    )
    env = {**os.environ}
    env.pop("GRADER_AWS_ENDPOINT", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                          timeout=120)
    assert done.stdout.strip() == "[]"


_LEARNER_PROBE = """
import json, boto3
from botocore.exceptions import EndpointConnectionError
try:
    ident = boto3.client("sts").get_caller_identity()
    table = boto3.client("dynamodb").list_tables()["TableNames"]
    print(json.dumps({"account": ident["Account"], "tables": table,
                      "region": boto3.session.Session().region_name}))
except EndpointConnectionError as exc:
    print(json.dumps({"unreachable": str(exc)}))
"""


def _run_as_learner(env: dict[str, str]) -> dict[str, object]:
    """Run plain boto3 code in a process whose environment is `env` and nothing else."""
    sealed = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", **env}
    done = subprocess.run(
        [sys.executable, "-c", _LEARNER_PROBE], capture_output=True, text=True, env=sealed, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_plain_boto3_in_the_worker_env_reaches_only_the_mock(aws: AwsService) -> None:
    _make_table(aws, "visible-to-learner")
    seen = _run_as_learner(aws.worker_env())
    assert seen == {"account": ACCOUNT_ID, "tables": ["visible-to-learner"], "region": REGION}


def test_worker_env_has_fake_credentials_and_no_config_files(aws: AwsService) -> None:
    env = aws.worker_env()
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_CONFIG_FILE"] == os.devnull == env["AWS_SHARED_CREDENTIALS_FILE"]
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"


def test_after_stop_learner_code_fails_on_loopback_instead_of_reaching_aws() -> None:
    service = make_service(ServiceOptions())
    service.start()
    env = service.worker_env()
    service.stop()
    seen = _run_as_learner(env)
    assert "127.0.0.1" in str(seen["unreachable"])


def test_external_endpoint_is_used_as_given(aws: AwsService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_AWS_ENDPOINT", raising=False)
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url + "/"))
    external.start()
    assert (external.backend, external.endpoint_url) == ("external", aws.endpoint_url)
    _make_table(external, "via-external")
    assert aws.client("dynamodb").list_tables()["TableNames"] == ["via-external"]
    external.reset()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    external.stop()
    assert aws.running  # stopping an external endpoint never stops what it points at


def test_endpoint_from_the_environment(aws: AwsService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_AWS_ENDPOINT", aws.endpoint_url)
    assert make_service(ServiceOptions()).backend == "external"


def test_unreachable_external_endpoint_is_a_service_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = make_service(ServiceOptions(aws_endpoint=f"http://127.0.0.1:{port}"))
    with pytest.raises(ServiceError, match="does not answer"):
        service.start()


def test_simulated_kinesis_lag_gives_one_empty_page_per_shard(aws: AwsService, learner) -> None:
    kinesis = learner("kinesis")
    kinesis.create_stream(StreamName="lagging", ShardCount=1)
    kinesis.put_record(StreamName="lagging", Data=b"hello", PartitionKey="k")
    aws.simulate_kinesis_lag(lag_ms=1234)
    (shard,) = kinesis.list_shards(StreamName="lagging")["Shards"]
    iterator = kinesis.get_shard_iterator(
        StreamName="lagging", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    first = kinesis.get_records(ShardIterator=iterator)
    assert (first["Records"], first["MillisBehindLatest"]) == ([], 1234)
    second = kinesis.get_records(ShardIterator=first["NextShardIterator"])
    assert [r["Data"] for r in second["Records"]] == [b"hello"]
    aws.reset()
    kinesis.create_stream(StreamName="lagging", ShardCount=1)
    kinesis.put_record(StreamName="lagging", Data=b"again", PartitionKey="k")
    iterator = kinesis.get_shard_iterator(
        StreamName="lagging", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"again"]


def test_kinesis_lag_needs_the_embedded_server(aws: AwsService) -> None:
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    with pytest.raises(UnsupportedOnBackend):
        external.simulate_kinesis_lag()


def test_batch_write_over_25_requests_is_refused_like_dynamodb(aws: AwsService) -> None:
    from botocore.exceptions import ClientError

    _make_table(aws, "batch")
    dynamodb = aws.client("dynamodb")
    requests = [{"PutRequest": {"Item": {"id": {"S": f"k{n}"}}}} for n in range(26)]
    with pytest.raises(ClientError) as refused:
        dynamodb.batch_write_item(RequestItems={"batch": requests})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 25" in refused.value.response["Error"]["Message"]
    dynamodb.batch_write_item(RequestItems={"batch": requests[:25]})
    assert dynamodb.scan(TableName="batch", Select="COUNT")["Count"] == 25


def test_put_objects_seeds_a_bucket_the_api_then_lists(aws: AwsService) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="seeded")
    objects = {f"day-{n // 100:02d}/part-{n:04d}.json": f'{{"n": {n}}}'.encode() for n in range(1500)}
    aws.put_objects("seeded", objects)
    listed = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="seeded")
              for o in page.get("Contents", [])]
    assert listed == sorted(objects)
    assert s3.get_object(Bucket="seeded", Key="day-07/part-0712.json")["Body"].read() == b'{"n": 712}'


def test_put_objects_through_the_api_on_an_external_endpoint(aws: AwsService) -> None:
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    external.client("s3").create_bucket(Bucket="remote")
    external.put_objects("remote", {"a/1": b"one", "a/2": b"two"})
    assert aws.client("s3").get_object(Bucket="remote", Key="a/2")["Body"].read() == b"two"


def test_put_items_seeds_a_table_the_api_then_reads(aws: AwsService) -> None:
    _make_table(aws, "seeded")
    items = [{"id": {"S": f"k{n:03d}"}, "n": {"N": str(n)}} for n in range(60)]
    aws.put_items("seeded", items)
    dynamodb = aws.client("dynamodb")
    scanned = [i for page in dynamodb.get_paginator("scan").paginate(TableName="seeded") for i in page["Items"]]
    assert sorted(scanned, key=lambda i: i["id"]["S"]) == items
    aws.reset()  # written behind the server's back, wiped all the same
    assert dynamodb.list_tables()["TableNames"] == []


def test_table_items_reads_the_store_as_a_scan_would(aws: AwsService) -> None:
    """Embedded, table_items reads moto's store instead of a Scan: the same items, values and order."""
    _make_table(aws, "kinds")
    dynamodb = aws.client("dynamodb")
    for n in range(40):
        dynamodb.put_item(TableName="kinds", Item={
            "id": {"S": f"k{(n * 7) % 40:03d}"}, "n": {"N": str(n)}, "b": {"B": bytes([n, 0, 255])},
            "bs": {"BS": [b"x", bytes([n])]}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
            "ok": {"BOOL": n % 2 == 0}, "none": {"NULL": True},
            "m": {"M": {"inner": {"B": b"\x00\x01"}, "deep": {"L": [{"S": "x"}, {"N": "3"}, {"B": b"y"}]}}},
            "l": {"L": [{"S": "x"}, {"M": {"b": {"B": b"z"}}}]},
        })
    scanned = [i for page in dynamodb.get_paginator("scan").paginate(TableName="kinds") for i in page["Items"]]
    assert aws.table_items("kinds") == scanned
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    assert external.table_items("kinds") == scanned
    assert checks.stored_items(aws, "kinds")[0]["b"] == bytes([0, 0, 255]).decode("utf-8", errors="replace")


def test_receive_still_drops_messages_past_the_retention_period(aws: AwsService) -> None:
    """The quicker retention check (_quicker_sqs) is in place and answers as moto's own: a message older
    than the queue's MessageRetentionPeriod is never received (moto's receive stops at it, as with its own
    check), a younger one is."""
    aws.warm(["sqs"])
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    from moto.sqs.models import SQSBackend, sqs_backends

    assert getattr(SQSBackend.is_message_valid_based_on_retention_period, "remembered", False)
    sqs.send_message(QueueUrl=url, MessageBody="old")
    (old,) = sqs_backends[ACCOUNT_ID][REGION].get_queue("kept")._messages
    old.sent_timestamp -= 120_000  # sent two minutes ago: past the queue's minute
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    sqs.send_message(QueueUrl=url, MessageBody="new")
    sqs_backends[ACCOUNT_ID][REGION].get_queue("kept")._messages.remove(old)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in got] == ["new"]


def test_queue_attributes_are_worked_out_as_moto_does_with_the_names_remembered(aws: AwsService) -> None:
    """_quicker_sqs remembers moto's CamelCase -> snake_case names of queue attributes; what a queue's
    attributes come to is unchanged, for names set by the caller too, and the memory is bounded."""
    aws.warm(["sqs"])
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true",
                                                           "VisibilityTimeout": "7"})["QueueUrl"]
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models

    assert models.camelcase_to_underscores.cache_info().maxsize == 256
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")  # deduplicated by content
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (got["FifoQueue"], got["ContentBasedDeduplication"], got["VisibilityTimeout"]) == ("true", "true", "7")
    assert got["ApproximateNumberOfMessages"] == "1"
    queue = models.sqs_backends[ACCOUNT_ID][REGION].get_queue("q.fifo")
    assert all(getattr(queue, camelcase_to_underscores(name)) == getattr(queue, models.camelcase_to_underscores(name))
               for name in queue.BASE_ATTRIBUTES + queue.FIFO_ATTRIBUTES)


def test_queue_attributes_worked_out_once_a_request_answer_as_moto_does(aws: AwsService) -> None:
    """_quicker_sqs works a queue's attributes out once per SendMessage and GetQueueAttributes (moto did
    it four times a message sent, twice an attribute asked for): what they answer is unchanged, the
    rules that read them still hold, and outside such a request they are worked out afresh."""
    import botocore.exceptions

    aws.warm(["sqs"])
    sqs = aws.client("sqs")
    from moto.sqs import models

    assert getattr(models.Queue.attributes.fget, "once", False)
    fifo = sqs.create_queue(QueueName="once.fifo",
                            Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
    plain = sqs.create_queue(QueueName="once", Attributes={"DelaySeconds": "0"})["QueueUrl"]
    with pytest.raises(botocore.exceptions.ClientError, match="MessageDeduplicationId"):
        sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g")  # no content-based deduplication
    sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="1")
    sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="1")  # a duplicate
    sqs.send_message_batch(QueueUrl=plain, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(5)])
    sqs.send_message(QueueUrl=plain, MessageBody="later", DelaySeconds=30)
    sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=2)  # two in flight
    backend = models.sqs_backends[ACCOUNT_ID][REGION]
    for url, name in ((fifo, "once.fifo"), (plain, "once")):
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queue = backend.get_queue(name)
        assert queue.attributes is not queue.attributes  # outside a request: worked out afresh
        assert got == {k: str(v) for k, v in queue.attributes.items() if v is not None and k in got}
    got = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert (got["ApproximateNumberOfMessages"], got["ApproximateNumberOfMessagesNotVisible"],
            got["ApproximateNumberOfMessagesDelayed"]) == ("3", "2", "1")
    got = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages", "FifoQueue"])
    assert got["Attributes"] == {"ApproximateNumberOfMessages": "1", "FifoQueue": "true"}


def test_a_service_model_is_found_as_botocores_full_listing_finds_it() -> None:
    """quicker_service_lookup looks in one service's folder instead of listing all of them: the same
    answer for every service folder botocore has and every model type, for names that are not services,
    and an unknown service still gets botocore's error naming every known one."""
    import os

    import boto3
    import botocore.exceptions
    from botocore.loaders import create_loader

    from grader.sandbox.worker import _has_model, quicker_service_lookup

    quicker_service_lookup()
    loader = create_loader()
    boto3_loader = boto3.session.Session()._loader  # botocore's data and boto3's (resources-1)
    names = sorted({name for folder in boto3_loader.search_paths if os.path.isdir(folder) for name in os.listdir(folder)})
    names += ["nope", "..", ".", "", "dynamodb/2012-08-10", "DynamoDB"]
    for type_name in ("service-2", "paginators-1", "waiters-2", "resources-1", "endpoint-rule-set-1"):
        listed = set(boto3_loader.list_available_services(type_name))
        assert listed and listed <= set(names)
        assert {name for name in names if _has_model(boto3_loader, name, type_name)} == listed, type_name
    assert loader.load_service_model("dynamodb", "service-2")["metadata"]["endpointPrefix"] == "dynamodb"
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="Valid service names are: .*dynamodb"):
        boto3.session.Session(region_name="us-east-1").client("dynamodbx")
    assert len(boto3.session.Session().get_available_services()) == len(loader.list_available_services("service-2"))


_CLIENTS_PROBE = """
import json, sys
import boto3
from botocore.awsrequest import AWSResponse
if sys.argv[1] == "quick":
    from grader.sandbox.worker import quicker_clients
    quicker_clients()
sent, heard = [], []

def answer(request, **kwargs):  # every request is answered here, as the endpoint would: nothing leaves
    body = request.body.read() if hasattr(request.body, "read") else request.body  # a stream: what it holds
    body = body.decode() if isinstance(body, bytes) else str(body or "")
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
               if k.lower() in ("content-type", "x-amz-target", "host")}
    sent.append([request.method, request.url, body, sorted(headers.items())])
    target = request.headers.get("X-Amz-Target", b"")
    reply = b'{"Item": {"k": {"S": "v"}, "n": {"N": "1.50"}}}' if b"GetItem" in target else b"{}" if target else b""
    response = AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"} if target else {}, None)
    response._content = reply
    return response

def made(kind, name, **options):
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    made = getattr(session, kind)(name, **options)
    client = made.meta.client if kind == "resource" else made
    client.meta.events.register("before-send", answer)
    return made

def note(event_name, **kwargs):
    heard.append(event_name)

for region in ("us-east-1", "eu-west-1", "us-east-1"):
    dynamodb = made("client", "dynamodb", region_name=region)
    dynamodb.meta.events.register("before-call.dynamodb.GetItem", note)
    got = dynamodb.get_item(TableName="t", Key={"k": {"S": "v"}})
    heard.append(sorted(got["Item"]))
    dynamodb.put_item(TableName="t", Item={"k": {"S": region}})
for url in ("http://127.0.0.1:1", None):
    table = made("resource", "dynamodb", endpoint_url=url).Table("t")
    heard.append(str(table.get_item(Key={"k": "v"})["Item"]))
    s3 = made("client", "s3", endpoint_url=url)
    s3.put_object(Bucket="b", Key="a/b c.json", Body=b"{}")
    s3.list_objects_v2(Bucket="b", Prefix="a/", Delimiter="/")
    made("client", "sqs", endpoint_url=url).send_message(QueueUrl="http://q/1/q", MessageBody="m")
    sagemaker = made("client", "sagemaker-runtime")  # its events are named by an alias (runtime.sagemaker)
    sagemaker.meta.events.register("before-call.runtime.sagemaker.InvokeEndpoint", note)
    sagemaker.invoke_endpoint(EndpointName="e", Body=b"x")
print(json.dumps({"sent": sent, "heard": heard}))
"""


def test_clients_that_share_their_loaded_models_send_what_they_sent_before() -> None:
    """quicker_clients lets clients built from the same loaded JSON share their service model, endpoint
    rules and event names: clients of several services, regions and endpoints, made one after another,
    send the same requests (URL, body, headers), parse the same replies and call the same handlers,
    alias-named ones included, as without it."""
    runs = {mode: json.loads(subprocess.run([sys.executable, "-c", _CLIENTS_PROBE, mode], capture_output=True,
                                            text=True, check=True, timeout=120).stdout) for mode in ("plain", "quick")}
    assert runs["quick"] == runs["plain"]
    assert len(runs["plain"]["sent"]) == 16
    assert runs["plain"]["heard"].count("before-call.dynamodb.GetItem") == 3
    assert runs["plain"]["heard"].count("before-call.sagemaker-runtime.InvokeEndpoint") == 2
    assert {url.split("/")[2] for _, url, _, _ in runs["plain"]["sent"]} >= {
        "dynamodb.us-east-1.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com", "127.0.0.1:1"}


def test_quicker_clients_share_a_model_only_between_clients_of_the_same_json() -> None:
    import boto3

    from grader.sandbox.worker import quicker_clients

    quicker_clients()
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    one, two = session.client("dynamodb"), session.client("dynamodb", region_name="eu-west-1")
    assert one.meta.service_model is two.meta.service_model
    assert one._ruleset_resolver._provider is two._ruleset_resolver._provider
    assert one.meta.events is not two.meta.events and one.meta.region_name != two.meta.region_name
    assert session.client("sqs").meta.service_model is not one.meta.service_model
    other = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    assert other.client("dynamodb").meta.service_model is not one.meta.service_model  # its own loader: its own JSON


def test_quicker_clients_share_api_methods_and_each_class_still_gets_its_events() -> None:
    """The functions of a client's API methods are made once per service model; the class around them
    is made per client, from a copy, after the creating-client-class handlers: one that takes a method
    out (botocore's own do) takes it from that client alone."""
    import boto3

    from grader.sandbox.worker import quicker_clients

    quicker_clients()
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    one, two = session.client("ec2"), session.client("ec2")
    assert type(one) is not type(two)
    assert vars(type(one))["describe_vpcs"] is vars(type(two))["describe_vpcs"]
    assert len([name for name in vars(type(one)) if not name.startswith("_")]) > 500

    def without_purge(class_attributes: dict, **kwargs: object) -> None:
        del class_attributes["purge_queue"]

    session.events.register("creating-client-class.sqs", without_purge)
    assert not hasattr(session.client("sqs"), "purge_queue")
    session.events.unregister("creating-client-class.sqs", without_purge)
    assert callable(session.client("sqs").purge_queue)
    assert "purge_queue" not in vars(type(session.client("dynamodb")))


def test_quicker_clients_still_refuse_a_handler_that_takes_no_kwargs() -> None:
    """What botocore answers on whether a handler takes **kwargs is kept per code object; a function that
    declares another signature of its own is read each time, as inspect reads it."""
    import inspect

    import boto3

    from grader.sandbox.worker import quicker_clients

    quicker_clients()
    events = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1").events

    def made() -> Callable[..., None]:
        def handler(**kwargs: object) -> None:
            pass
        return handler

    class Handlers:
        def takes(self, **kwargs: object) -> None:
            pass

        def refuses(self, event_name: str) -> None:
            pass

    plain, declared = made(), made()
    declared.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    for _ in range(2):
        events.register("before-call", plain)
        events.register("before-call", Handlers().takes)
        with pytest.raises(ValueError, match="must accept keyword"):
            events.register("before-call", declared)
        with pytest.raises(ValueError, match="must accept keyword"):
            events.register("before-call", Handlers().refuses)
        with pytest.raises(ValueError, match="must accept keyword"):
            events.register("before-call", lambda event_name: None)


_TIMESTAMPS_PROBE = """
import datetime, json, os, sys, time
from botocore import parsers
from grader.sandbox.worker import quicker_timestamps
plain = parsers.DEFAULT_TIMESTAMP_PARSER
quicker_timestamps()
quick = parsers.DEFAULT_TIMESTAMP_PARSER
texts = ["2024-05-06T07:08:09.000Z", "2024-05-06T07:08:09+02:00", "Mon, 06 May 2024 07:08:09 GMT",
         "2024-05-06", "07:08", "2024-05-06 07:08:09 EST", "1714979289", "1714979289.5", 1714979289, 1.5]
seen = []
for zone in ("UTC", "EST5EDT", "Asia/Tokyo"):  # the process's zone changes between the rounds
    os.environ["TZ"] = zone
    time.tzset()
    for text in texts:
        got, want = quick(text), plain(text)
        again = quick(text)
        seen.append([str(text), zone, got == want and again == want and got.tzname() == want.tzname()
                     and got.utcoffset() == want.utcoffset() and got.isoformat() == want.isoformat()])
print(json.dumps({"seen": seen, "remembered": getattr(quick, "remembered", False),
                  "cached": quick("2024-05-06T07:08:09.000Z") is quick("2024-05-06T07:08:09.000Z")}))
"""


def test_remembered_timestamps_are_what_botocore_parses() -> None:
    """quicker_timestamps lets botocore's response parsers read each timestamp text once: what they make
    of any text (a date alone, a zone named like the local one, an epoch) is what botocore makes of it,
    also after the process's zone has changed."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _TIMESTAMPS_PROBE], cwd=root, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["remembered"] and found["cached"]
    assert [row for row in found["seen"] if not row[2]] == []


def test_put_items_through_the_api_on_an_external_endpoint(aws: AwsService) -> None:
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    _make_table(aws, "remote")
    external.put_items("remote", [{"id": {"S": f"k{n}"}} for n in range(30)])
    assert aws.client("dynamodb").scan(TableName="remote", Select="COUNT")["Count"] == 30


def test_the_learners_calls_are_counted_per_operation_until_the_next_reset(aws: AwsService, learner) -> None:
    client = learner("dynamodb")
    client.create_table(TableName="T", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    for key in ("a", "b"):
        client.put_item(TableName="T", Item={"k": {"S": key}})
    aws.client("dynamodb").put_item(TableName="T", Item={"k": {"S": "the grader's"}})  # not counted
    assert aws.calls("DynamoDB_20120810.PutItem") == aws.calls("dynamodb", "PutItem") == 2
    assert aws.calls("DynamoDB_20120810.BatchWriteItem") == 0
    aws.reset()
    assert aws.calls("DynamoDB_20120810.PutItem") == 0


def test_rest_operations_are_named_from_the_service_model(aws: AwsService, learner) -> None:
    aws.client("s3").create_bucket(Bucket="named")
    s3 = learner("s3")
    s3.put_object(Bucket="named", Key="a/b.json", Body=b"{}", Metadata={"source": "x"})
    s3.head_object(Bucket="named", Key="a/b.json")
    s3.get_object(Bucket="named", Key="a/b.json")
    s3.get_object_tagging(Bucket="named", Key="a/b.json")
    s3.copy_object(Bucket="named", Key="c", CopySource="named/a/b.json")
    s3.list_objects_v2(Bucket="named", Prefix="a/")
    assert [aws.calls("s3", op) for op in ("PutObject", "HeadObject", "GetObject", "GetObjectTagging",
                                           "CopyObject", "ListObjectsV2", "ListObjects")] == [1, 1, 1, 1, 1, 1, 0]


def test_remembered_regions_are_botocores_own() -> None:
    """The grader remembers the regions moto's EC2 models ask new boto3 Sessions for; the answers are
    the ones a fresh Session gives, and a caller changing its list changes nothing remembered."""
    import boto3.session
    import botocore.session

    from grader.services.aws import _quicker_moto

    _quicker_moto()
    fresh = botocore.session.Session()
    for service, partition in (("ec2", "aws"), ("ec2", "aws-us-gov"), ("ec2", "aws-cn"), ("s3", "aws")):
        expected = fresh.get_available_regions(service, partition)
        got = boto3.session.Session().get_available_regions(service, partition)
        assert got == expected and expected
        got.clear()
        assert boto3.session.Session().get_available_regions(service, partition) == expected
    assert getattr(boto3.session.Session.get_available_regions, "remembered", False)


def test_timestamps_moto_writes_are_botocores_own(moto_service: AwsService) -> None:
    """moto's serializer parses each timestamp text once: the same datetime botocore gives, whatever the
    text (a date alone is today's, an epoch), and an object's listed LastModified is its HEAD's."""
    import datetime

    import botocore.utils

    moto_service.reset()  # moto is loaded
    import moto.core.serialize as serialize

    assert getattr(serialize.parse_to_aware_datetime, "remembered", False)
    now = datetime.datetime(2024, 5, 6, 7, 8, 9)
    for value in ("2024-05-06T07:08:09.000Z", "2024-05-06T07:08:09+02:00", "Mon, 06 May 2024 07:08:09 GMT",
                  "2024-05-06", "07:08", 1714979289, 1714979289.5, "1714979289", now):
        for _ in range(2):
            got = serialize.parse_to_aware_datetime(value)
            assert got == botocore.utils.parse_to_aware_datetime(value) and got.tzinfo is not None
    s3 = moto_service.client("s3")
    s3.create_bucket(Bucket="stamps")
    moto_service.put_objects("stamps", {f"k{n}": b"x" for n in range(3)})
    listed = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="stamps")["Contents"]}
    assert listed == {key: s3.head_object(Bucket="stamps", Key=key)["LastModified"] for key in listed}


def test_replies_are_what_motos_serializer_writes_with_names_worked_out_each_time(
        aws: AwsService, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's serializer works out which names to try for a reply's members once per class, member and
    shape: a lab network's EC2 descriptions, an S3 listing with metadata, SQS and Kinesis replies are
    the same bytes as with the names worked out for every member."""
    from fixtures import network_scenarios as scenarios

    aws.warm(["ec2", "elbv2", "rds", "s3", "sqs", "kinesis"])
    aws.reset()
    import moto.core.serialize as serialize

    if not hasattr(serialize, "AttributePicker"):
        pytest.skip("this moto's serializer has no attribute picker to work names out with")
    quick = serialize.AttributePicker.__call__
    assert getattr(quick, "remembered", False)
    built = scenarios.build(aws.client, scenarios.GRADING_SEEDS[1])
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="names")
    for n in range(3):
        s3.put_object(Bucket="names", Key=f"a/{n}.json", Body=b"{}", ContentType="application/json",
                      Metadata={"rows": str(n)})
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="names.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="d")
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="names", ShardCount=2)
    kinesis.put_record(StreamName="names", Data=b"x", PartitionKey="k")
    ec2 = aws.client("ec2")
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)  # no tags: a reply transformer's case
    calls: list[tuple[Any, str, dict[str, Any]]] = [
        (ec2, name, {}) for name in ("describe_vpcs", "describe_subnets", "describe_route_tables",
                                     "describe_network_acls", "describe_security_groups",
                                     "describe_internet_gateways", "describe_nat_gateways", "describe_instances",
                                     "describe_network_interfaces")]
    calls += [(aws.client("elbv2"), "describe_load_balancers", {}), (aws.client("rds"), "describe_db_instances", {}),
              (s3, "list_objects_v2", {"Bucket": "names", "Delimiter": "/"}),
              (s3, "list_objects_v2", {"Bucket": "names", "Prefix": "a/"}),
              (sqs, "get_queue_attributes", {"QueueUrl": url, "AttributeNames": ["All"]}),
              (kinesis, "describe_stream", {"StreamName": "names"}), (kinesis, "list_shards", {"StreamName": "names"})]

    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    clients = {id(c): c for c, _, _ in calls}.values()  # the grader's clients: shared with other tests
    # what differs from one reply to the next whatever the serializer: request ids, RDS's "now"
    ids = re.compile(rb"(<RequestId>|<requestId>|\"RequestId\": ?\"|<LatestRestorableTime>)[^<\"]*")

    def replies() -> list[bytes]:
        bodies.clear()
        for client, name, kwargs in calls:
            getattr(client, name)(**kwargs)
        return [ids.sub(rb"\1-", body) for body in bodies]

    for client in clients:
        client.meta.events.register("after-call", keep)
    try:
        quickly, again = replies(), replies()
        monkeypatch.setattr(serialize.AttributePicker, "__call__", quick.original)
        slowly = replies()
    finally:
        for client in clients:
            client.meta.events.unregister("after-call", keep)
    assert built.vpc_id.encode() in quickly[0] and b"a/" in quickly[11] and b"rows" not in quickly[11]
    assert [len(r) for r in quickly] == [len(r) for r in slowly]
    assert quickly == slowly == again


def test_an_object_that_answers_its_own_attributes_has_its_names_worked_out_each_time(aws: AwsService) -> None:
    """Which names moto's serializer tries is remembered per class only for classes that look attributes
    up the plain way: an object whose __getattr__ answers differently for each instance (here, a Meta
    with serialization aliases on one of them) gets the names moto works out for that object."""
    aws.reset()  # moto is loaded
    import moto.core.serialize as serialize

    if not hasattr(serialize, "AttributePickerContext"):
        pytest.skip("this moto's serializer has no attribute picker to work names out with")

    class Meta:
        serialization_aliases = {"Name": "label"}

    class Dynamic:
        def __init__(self, meta: Any = None, **values: Any) -> None:
            self.meta, self.values = meta, values

        def __getattr__(self, name: str) -> Any:
            if name == "Meta" and self.meta is not None:
                return self.meta
            if name in self.values:
                return self.values[name]
            raise AttributeError(name)

    picker = serialize.XFormedAttributePicker()
    aliased, plain = Dynamic(Meta, label="A", Name="not this one"), Dynamic(label="not this one", Name="B")
    got = [picker(serialize.AttributePickerContext(obj=o, key="Name", shape=None)) for o in (aliased, plain)]
    assert got == ["A", "B"]


def _lab_state(aws: AwsService, vpc_id: str) -> tuple[Any, ...]:
    """Everything a lab network is made of, as the grader's clients read it back."""
    from grader.checks import network

    balancers = aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    databases = aws.client("rds").describe_db_instances()["DBInstances"]
    instances = [i for r in aws.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]]
    return (network.snapshot(aws.client("ec2"), vpc_id),
            sorted((i["InstanceId"], i["SubnetId"], i["PrivateIpAddress"], tuple(g["GroupId"] for g in i["SecurityGroups"]))
                   for i in instances),
            sorted((b["LoadBalancerName"], b["VpcId"], tuple(sorted(z["SubnetId"] for z in b["AvailabilityZones"])))
                   for b in balancers),
            sorted((d["DBInstanceIdentifier"], d["DBSubnetGroup"]["VpcId"],
                    tuple(sorted(g["VpcSecurityGroupId"] for g in d["VpcSecurityGroups"]))) for d in databases))


def test_a_kept_state_is_restored_as_it_was_built(aws: AwsService) -> None:
    """aws.kept: the lab network of vpc_networking (EC2, ELBv2 and RDS) is built once; after a reset the
    same state comes back, the same ids, and moto's id generator goes on as after the build. Built again
    when anything reached the endpoint since the reset, and always on an external endpoint."""
    from fixtures import network_scenarios as scenarios

    aws.warm(["ec2", "elbv2", "rds"])
    seed = scenarios.GRADING_SEEDS[0]
    builds: list[int] = []

    def build() -> Any:
        builds.append(seed)
        return scenarios.build(aws.client, seed)

    aws.reset()
    built = aws.kept(("lab", seed), build)
    state, ends = _lab_state(aws, built.vpc_id), built.endpoints(aws.client)
    after_build = aws.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    aws.reset()
    restored = aws.kept(("lab", seed), build)
    assert builds == [seed] and restored == built and restored is not built
    assert _lab_state(aws, restored.vpc_id) == state
    assert restored.endpoints(aws.client) == ends
    assert aws.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"] == after_build
    aws.client("ec2").delete_vpc(VpcId=after_build)  # changes to a restored state stay out of the kept one
    aws.reset()
    assert aws.kept(("lab", seed), build) == built and _lab_state(aws, built.vpc_id) == state
    aws.reset()
    aws.client("ec2").describe_vpcs()  # something since the reset: built, not restored
    aws.kept(("lab", seed), build)
    assert builds == [seed, seed]
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    aws.reset()
    external.kept(("lab", seed), lambda: builds.append(0))
    assert builds == [seed, seed, 0]


LASTING_SCRIPT = """
import json, sys
from pathlib import Path
from fixtures import network_scenarios as scenarios
from grader.services import ServiceOptions
from grader.services.aws import make_service

source, mode = Path(sys.argv[1]), sys.argv[2]
aws = make_service(ServiceOptions())
aws.start()
built = []
def build():
    built.append(1)
    if mode == "restore-only":
        raise SystemExit("built again where the kept state should have been restored")
    return scenarios.build(aws.client, scenarios.GRADING_SEEDS[0])
aws.reset()
lab = aws.kept(("lab", "lasting"), build, sources=(source,))
ec2 = aws.client("ec2")
state = {"vpc": lab.vpc_id, "ends": sorted(lab.endpoints(aws.client)),
         "subnets": sorted((s["SubnetId"], s["CidrBlock"]) for s in ec2.describe_subnets()["Subnets"]),
         "groups": sorted((g["GroupId"], json.dumps(g["IpPermissions"], sort_keys=True))
                          for g in ec2.describe_security_groups()["SecurityGroups"]),
         "acls": sorted(json.dumps(a["Entries"], sort_keys=True) for a in ec2.describe_network_acls()["NetworkAcls"]),
         "databases": sorted(d["DBInstanceIdentifier"] for d in aws.client("rds").describe_db_instances()["DBInstances"]),
         "next vpc": ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"], "built": len(built)}
aws.stop()
print(json.dumps(state))
"""


def test_a_kept_state_with_sources_lasts_between_processes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws.kept(..., sources=...): the state built by one process is restored by the next (a `grade run`
    after another), the same ids and the same next id; built again when a source changes or the kept
    file is damaged."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = tmp_path / "scenario_code.py"
    source.write_text("# the code that decides what is built\n")
    env = {**os.environ, "GRADER_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(root)}

    def run(mode: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", LASTING_SCRIPT, str(source), mode], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run("build")
    assert first["built"] == 1 and first["ends"]
    kept = sorted((tmp_path / "cache").glob("moto-state-*.pickle"))
    assert len(kept) == 1
    assert run("restore-only") == {**first, "built": 0}
    kept[0].write_bytes(kept[0].read_bytes()[:-1] + b"\x00")  # damaged: its digest no longer matches
    assert run("build") == first
    source.write_text("# changed: what is built may differ\n")
    assert run("build") == first
    assert len(list((tmp_path / "cache").glob("moto-state-*.pickle"))) == 2


DATA_SCRIPT = r"""
import json, os, sys
import botocore.loaders
from grader.services import aws
parsed = []
plain = botocore.loaders.JSONFileLoader._load_file
botocore.loaders.JSONFileLoader._load_file = lambda self, path, opener: (
    os.path.isfile(path) and parsed.append(path.split("/data/", 1)[-1]) or plain(self, path, opener))
loader = aws._data_loader()
model = loader.load_service_model("dynamodb", "service-2")
endpoints = loader.load_data("endpoints")
same = model == botocore.loaders.JSONFileLoader().load_file(sys.argv[1])
print(json.dumps({"parsed": sorted(parsed), "same": same,
                  "operations": len(model["operations"]), "partitions": len(endpoints["partitions"])}))
"""


def test_large_botocore_data_files_are_parsed_once_per_machine(tmp_path) -> None:
    """The grader's process reads botocore's large data files (endpoints, service models) parsed from its
    private cache: a second process parses none of them and gets the same data; a damaged file is parsed
    again."""
    from pathlib import Path

    import botocore

    root = Path(__file__).resolve().parent.parent
    model = str(Path(botocore.__file__).parent / "data" / "dynamodb" / "2012-08-10" / "service-2")
    env = {**os.environ, "GRADER_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(root)}

    def run() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", DATA_SCRIPT, model], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    first = run()
    assert first["same"] and first["operations"] > 30 and first["partitions"] >= 1
    large = {"dynamodb/2012-08-10/service-2.json.gz", "endpoints.json"}
    assert large <= set(first["parsed"])
    kept = sorted((tmp_path / "cache").glob("botocore-*.pickle"))
    assert len(kept) == len(large)
    second = run()
    assert second == {**first, "parsed": sorted(set(first["parsed"]) - large)}
    for path in kept:
        path.write_bytes(b"damaged")
    assert run() == first


RESOURCES_SCRIPT = r"""
import hashlib, json, sys
import moto.utilities.utils as utilities
from grader.services import aws
parsed = []
plain = utilities.load_resource
utilities.load_resource = lambda resource: parsed.append(resource) or plain(resource)
aws._kept_moto_resources()
names = ["ec2/resources/instance_types.json", "ec2/resources/instance_type_offerings/region/us-east-1.json"]
loaded = [utilities.load_resource(name) for name in names]
same = all(value == plain(name) and value is not utilities.load_resource(name) for name, value in zip(names, loaded))
digest = hashlib.sha256(json.dumps(loaded).encode()).hexdigest()
print(json.dumps({"parsed": sorted(set(parsed)), "same": same, "digest": digest}))
"""


def test_moto_data_files_are_parsed_once_per_machine(tmp_path) -> None:
    """moto's EC2 data files (instance types and their offerings) are read parsed from the grader's
    private cache: a second process parses none of them and gets the same data, a fresh copy at every
    call (moto changes what it loads); a damaged file is parsed again."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GRADER_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(root)}

    def run() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", RESOURCES_SCRIPT], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert first["same"] and len(first["parsed"]) == 2
    kept = sorted((tmp_path / "cache").glob("moto-*.marshal"))
    assert len(kept) == 2
    assert run() == {**first, "parsed": []}
    for path in kept:
        path.write_bytes(b"damaged")
    assert run() == first


OLD_RESOURCES_SCRIPT = r"""
import json, pkgutil, sys
import moto.utilities.utils as utilities
from grader.services import aws
import oldstyle.models  # a module with a data file beside it, as an older moto's EC2 has
parsed = []
def load_resource(package, resource):  # the older moto's: (module, resource), plain JSON
    parsed.append(resource)
    return json.loads(pkgutil.get_data(package, resource))
utilities.load_resource = load_resource
aws._kept_moto_resources()
value = utilities.load_resource("oldstyle.models", "resources/types.json")
print(json.dumps({"parsed": parsed, "value": value}))
"""


def test_an_older_motos_data_files_are_kept_too(tmp_path) -> None:
    """An older moto's load_resource takes (module, resource) and reads plain JSON beside the module
    (moto 5.0.1, the lowest allowed): it is kept parsed the same way, and answers the same."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    package = tmp_path / "lib" / "oldstyle"
    (package / "resources").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("")
    (package / "resources" / "types.json").write_text(json.dumps({"t3.micro": {"vcpus": 2}}))
    env = {**os.environ, "GRADER_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(root), str(tmp_path / "lib")])}

    def run() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", OLD_RESOURCES_SCRIPT], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run() == {"parsed": ["resources/types.json"], "value": {"t3.micro": {"vcpus": 2}}}
    assert run() == {"parsed": [], "value": {"t3.micro": {"vcpus": 2}}}  # read from the cache


AUTH_SCRIPT = r"""
import json, sys
from grader.services.aws import AwsService
service = AwsService()
service.start()
service.reset()
try:
    service.client("dynamodb").list_tables()
    answer = "answered"
except Exception as exc:
    answer = type(exc).__name__ + ": " + str(exc)[:200]
from moto.core.responses import ActionAuthenticatorMixin
print(json.dumps({"answer": answer, "imported": "moto.iam.access_control" in sys.modules,
                  "counted": ActionAuthenticatorMixin.request_count}))
service.stop()
"""


@pytest.mark.parametrize("enforced", [False, True], ids=["never enforced", "enforced at once"])
def test_requests_are_authorized_as_moto_would(enforced: bool) -> None:
    """moto counts requests until INITIAL_NO_AUTH_ACTION_COUNT, then checks signatures and permissions:
    counted the same without importing its IAM checks while it would not enforce them; enforced by
    moto's own check once it would (the grader's fake credentials belong to no IAM user)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    if enforced:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    done = subprocess.run([sys.executable, "-c", AUTH_SCRIPT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if enforced:
        assert seen["imported"] and "security token" in seen["answer"].lower(), seen
    else:
        assert seen == {"answer": "answered", "imported": False, "counted": 1}
