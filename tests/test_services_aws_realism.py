"""The embedded AWS answers like AWS where learners' mistakes depend on it: for each behaviour a hidden
test can switch on, a naive learner function fails and a correct one passes; the grader's own clients
are never affected; a crash of the mock is told apart from the learner's failure."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from grader import catalog
from grader.results import Status
from grader.runner import ServicePool, grade
from grader.services import ServiceOptions
from grader.services.aws import AwsService, UnsupportedOnBackend, make_service
from grader.services.aws_realism import REPEAT_LIMIT, reserved_words

Learner = Callable[[str], Any]


def _table(client: Any, name: str, key: str = "k", sort: str | None = None) -> dict[str, Any]:
    keys = [(key, "HASH", "S")] + ([(sort, "RANGE", "N")] if sort else [])
    return client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": role} for a, role, _ in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": kind} for a, _, kind in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


# -- tables and streams are CREATING until waited for ------------------------------------------------

def naive_create_and_write(dynamodb: Any, name: str) -> None:
    _table(dynamodb, name)
    dynamodb.put_item(TableName=name, Item={"k": {"S": "first"}})


def create_wait_and_write(dynamodb: Any, name: str) -> None:
    _table(dynamodb, name)
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    dynamodb.put_item(TableName=name, Item={"k": {"S": "first"}})


def test_a_table_is_creating_until_the_learner_waits_for_it(aws: AwsService, learner: Learner) -> None:
    aws.simulate_creating()
    dynamodb = learner("dynamodb")
    with pytest.raises(ClientError) as refused:
        naive_create_and_write(dynamodb, "Naive")
    assert _code(refused) == "ResourceNotFoundException"
    assert aws.still_creating() == ["Naive"] and aws.refused_while_creating() == ["Naive"]
    create_wait_and_write(dynamodb, "Waited")
    assert dynamodb.get_item(TableName="Waited", Key={"k": {"S": "first"}})["Item"]
    assert aws.still_creating() == ["Naive"]
    assert _table(dynamodb, "Fresh")["TableDescription"]["TableStatus"] == "CREATING"
    # the grader's own clients see moto's state as it is
    assert aws.client("dynamodb").describe_table(TableName="Fresh")["Table"]["TableStatus"] == "ACTIVE"
    aws.client("dynamodb").put_item(TableName="Fresh", Item={"k": {"S": "by the grader"}})


def test_a_stream_is_creating_until_the_learner_waits_for_it(aws: AwsService, learner: Learner) -> None:
    aws.simulate_creating()
    kinesis = learner("kinesis")
    kinesis.create_stream(StreamName="naive", ShardCount=1)
    with pytest.raises(ClientError) as refused:
        kinesis.put_record(StreamName="naive", Data=b"x", PartitionKey="k")
    assert _code(refused) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as listing:
        kinesis.list_shards(StreamName="naive")
    assert _code(listing) == "ResourceInUseException"
    kinesis.create_stream(StreamName="waited", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="waited")
    kinesis.put_record(StreamName="waited", Data=b"x", PartitionKey="k")
    assert aws.still_creating() == ["naive"]


# -- BatchWriteItem leaves some items unprocessed ----------------------------------------------------

def naive_batch(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})


def batch_with_retries(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _count(aws: AwsService, table: str) -> int:
    return aws.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


def test_a_first_batch_write_leaves_items_unprocessed(aws: AwsService, learner: Learner) -> None:
    dynamodb = learner("dynamodb")
    items = [{"k": {"S": f"item-{n:03d}"}} for n in range(60)]
    for name, write in (("Naive", naive_batch), ("Retried", batch_with_retries)):
        aws.reset()
        aws.simulate_unprocessed_items()
        _table(aws.client("dynamodb"), name)
        write(dynamodb, name, items)
        stored = _count(aws, name)
        assert stored == (60 - 25 // 3 if write is naive_batch else 60), name
    aws.reset()
    aws.simulate_unprocessed_items()
    _table(aws.client("dynamodb"), "Writer")
    with learner_resource(aws).Table("Writer").batch_writer() as writer:  # boto3 resends what is left over
        for item in items:
            writer.put_item(Item={"k": item["k"]["S"]})
    assert _count(aws, "Writer") == 60


def learner_resource(aws: AwsService) -> Any:
    import boto3

    env = aws.worker_env()
    return boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=aws.region).resource(
        "dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"])


def test_unprocessed_items_are_the_same_every_run(aws: AwsService, learner: Learner) -> None:
    dynamodb = learner("dynamodb")
    items = [{"PutRequest": {"Item": {"k": {"S": f"item-{n:02d}"}}}} for n in range(25)]
    left = []
    for _ in range(2):
        aws.reset()
        aws.simulate_unprocessed_items()
        _table(aws.client("dynamodb"), "T")
        answer = dynamodb.batch_write_item(RequestItems={"T": items})
        left.append(answer["UnprocessedItems"]["T"])
        assert _count(aws, "T") == 25 - len(left[-1])
    assert left[0] == left[1] and len(left[0]) == 8


# -- Query and Scan answer in small pages ------------------------------------------------------------

def naive_query(dynamodb: Any, order: str) -> list[dict[str, Any]]:
    return dynamodb.query(TableName="Orders", KeyConditionExpression="OrderID = :o",
                          ExpressionAttributeValues={":o": {"S": order}})["Items"]


def paginated_query(dynamodb: Any, order: str) -> list[dict[str, Any]]:
    pages = dynamodb.get_paginator("query").paginate(
        TableName="Orders", KeyConditionExpression="OrderID = :o", ExpressionAttributeValues={":o": {"S": order}})
    return [item for page in pages for item in page["Items"]]


def test_query_and_scan_pages_are_small(aws: AwsService, learner: Learner) -> None:
    grader = aws.client("dynamodb")
    _table(grader, "Orders", "OrderID", "ItemNum")
    for n in range(1, 8):
        grader.put_item(TableName="Orders", Item={"OrderID": {"S": "O1"}, "ItemNum": {"N": str(n)}})
    aws.simulate_small_pages(3)
    dynamodb = learner("dynamodb")
    assert len(naive_query(dynamodb, "O1")) == 3
    assert [int(i["ItemNum"]["N"]) for i in paginated_query(dynamodb, "O1")] == list(range(1, 8))
    assert len(dynamodb.scan(TableName="Orders")["Items"]) == 3
    assert sum(len(p["Items"]) for p in dynamodb.get_paginator("scan").paginate(TableName="Orders")) == 7
    assert len(dynamodb.scan(TableName="Orders", Limit=2)["Items"]) == 2  # a smaller Limit of its own stays
    assert len(grader.scan(TableName="Orders")["Items"]) == 7  # the grader's reads are whole


# -- SQS receives return fewer messages than asked ---------------------------------------------------

def naive_receive_all(sqs: Any, url: str) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def receive_until_empty(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(m["Body"] for m in messages)


def test_receives_return_fewer_messages_than_asked(aws: AwsService, learner: Learner) -> None:
    got = []
    for _ in range(2):
        aws.reset()
        aws.simulate_short_receives()
        url = aws.client("sqs").create_queue(QueueName="jobs")["QueueUrl"]
        for n in range(10):
            aws.client("sqs").send_message(QueueUrl=url, MessageBody=f"m{n}")
        sqs = learner("sqs")
        first = naive_receive_all(sqs, url)
        assert 1 <= len(first) < 10
        got.append(len(first))
        assert sorted(first + receive_until_empty(sqs, url)) == [f"m{n}" for n in range(10)]
    assert got[0] == got[1]  # seeded: the same every run


# -- reserved words in every expression --------------------------------------------------------------

def naive_people_named(dynamodb: Any, name: str) -> list[dict[str, Any]]:
    return dynamodb.query(TableName="People", KeyConditionExpression="Name = :n",
                          ExpressionAttributeValues={":n": {"S": name}})["Items"]


def people_named(dynamodb: Any, name: str) -> list[dict[str, Any]]:
    return dynamodb.query(TableName="People", KeyConditionExpression="#n = :n", ExpressionAttributeNames={"#n": "Name"},
                          ExpressionAttributeValues={":n": {"S": name}})["Items"]


def test_reserved_words_are_refused_in_every_expression(aws: AwsService, learner: Learner) -> None:
    assert {"NAME", "STATUS", "SIZE", "DATA"} <= reserved_words() and len(reserved_words()) == 573
    _table(aws.client("dynamodb"), "People", "Name", "Age")
    aws.client("dynamodb").put_item(TableName="People", Item={"Name": {"S": "Ana"}, "Age": {"N": "30"},
                                                              "Info": {"M": {"Status": {"S": "ok"}}}})
    dynamodb = learner("dynamodb")
    assert len(naive_people_named(dynamodb, "Ana")) == 1  # moto alone lets a KeyConditionExpression through
    aws.refuse_reserved_words()
    with pytest.raises(ClientError) as refused:
        naive_people_named(dynamodb, "Ana")
    assert _code(refused) == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name")
    assert len(people_named(dynamodb, "Ana")) == 1
    with pytest.raises(ClientError, match="Invalid ProjectionExpression.*reserved keyword: Status"):
        dynamodb.scan(TableName="People", ProjectionExpression="Info.Status")
    # the grammar's own words and function names are not attribute names
    between = dynamodb.query(TableName="People", KeyConditionExpression="#n = :n AND Age BETWEEN :a AND :b",
                             FilterExpression="attribute_exists(Info) AND size(Info) > :z",
                             ExpressionAttributeNames={"#n": "Name"},
                             ExpressionAttributeValues={":n": {"S": "Ana"}, ":a": {"N": "1"}, ":b": {"N": "99"},
                                                        ":z": {"N": "0"}})
    assert between["Count"] == 1


# -- a Kinesis reader lags behind ---------------------------------------------------------------------

def naive_read_shard(kinesis: Any, stream: str, shard: str) -> list[bytes]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    data = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator)
        if not page["Records"]:
            return data  # an empty page taken for the end
        data.extend(r["Data"] for r in page["Records"])
        iterator = page.get("NextShardIterator")
    return data


def read_shard_until_caught_up(kinesis: Any, stream: str, shard: str) -> list[bytes]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    data = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator)
        data.extend(r["Data"] for r in page["Records"])
        if not page["Records"] and page["MillisBehindLatest"] == 0:
            return data
        iterator = page.get("NextShardIterator")
    return data


def test_a_lagging_reader_meets_an_empty_page_first(aws: AwsService, learner: Learner) -> None:
    grader = aws.client("kinesis")
    shards = {}
    for stream in ("naive", "careful"):  # the lag meets the first read of each shard
        grader.create_stream(StreamName=stream, ShardCount=1)
        for n in range(5):
            grader.put_record(StreamName=stream, Data=str(n).encode(), PartitionKey="k")
        (shards[stream],) = [s["ShardId"] for s in grader.list_shards(StreamName=stream)["Shards"]]
    aws.simulate_kinesis_lag()
    kinesis = learner("kinesis")
    assert naive_read_shard(kinesis, "naive", shards["naive"]) == []
    assert read_shard_until_caught_up(kinesis, "careful", shards["careful"]) == [b"0", b"1", b"2", b"3", b"4"]


def test_another_client_writes_once_right_after_the_learners_first_read(aws: AwsService, learner: Learner) -> None:
    """race_after_read: the act runs once, after the learner's first answered read of the operations named;
    never after the grader's own requests, a learner's write or a read that failed; a reset disarms it."""
    grader = aws.client("dynamodb")
    _table(grader, "T")
    grader.put_item(TableName="T", Item={"k": {"S": "a"}, "n": {"N": "1"}})
    dynamodb = learner("dynamodb")
    acts: list[int] = []

    def act() -> None:
        acts.append(1)
        grader.put_item(TableName="T", Item={"k": {"S": "a"}, "n": {"N": "7"}})

    aws.race_after_read(["dynamodb.GetItem", "dynamodb.Query"], act)
    grader.get_item(TableName="T", Key={"k": {"S": "a"}})  # the grader's read: no race
    dynamodb.put_item(TableName="T", Item={"k": {"S": "b"}, "n": {"N": "2"}})  # a write: no race
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.get_item(TableName="Missing", Key={"k": {"S": "a"}})  # refused: no race
    assert not aws.raced() and acts == []
    read = dynamodb.get_item(TableName="T", Key={"k": {"S": "a"}})["Item"]["n"]["N"]
    assert read == "1" and acts == [1] and aws.raced()  # the learner read the value from before the write
    assert dynamodb.get_item(TableName="T", Key={"k": {"S": "a"}})["Item"]["n"]["N"] == "7"
    assert acts == [1]  # once
    aws.race_after_read(["dynamodb.GetItem"], act)
    aws.reset()
    assert not aws.raced()
    _table(grader, "T")
    dynamodb.get_item(TableName="T", Key={"k": {"S": "a"}})
    assert acts == [1]

    def broken() -> None:
        raise RuntimeError("no room")

    aws.race_after_read(["dynamodb.GetItem"], broken)  # the grader's write failing is the grader's failure
    assert "Item" not in dynamodb.get_item(TableName="T", Key={"k": {"S": "a"}})
    assert [f for f in aws.take_failures() if "the write racing it failed (RuntimeError: no room)" in f]


# -- every switch is the embedded server's alone -----------------------------------------------------

@pytest.mark.parametrize("switch", ["simulate_creating", "simulate_unprocessed_items", "simulate_small_pages",
                                    "simulate_short_receives", "refuse_reserved_words", "simulate_kinesis_lag"])
def test_switches_need_the_embedded_server(aws: AwsService, switch: str) -> None:
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    with pytest.raises(UnsupportedOnBackend, match="needs the embedded moto server, not the external endpoint"):
        getattr(external, switch)()


def test_racing_the_learners_reads_needs_the_embedded_server(aws: AwsService) -> None:
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    with pytest.raises(UnsupportedOnBackend, match="needs the embedded moto server, not the external endpoint"):
        external.race_after_read(["dynamodb.GetItem"], lambda: None)


def test_a_reset_switches_everything_off(aws: AwsService, learner: Learner) -> None:
    aws.simulate_small_pages(1)
    aws.reset()
    grader = aws.client("dynamodb")
    _table(grader, "T")
    for n in range(3):
        grader.put_item(TableName="T", Item={"k": {"S": str(n)}})
    assert len(learner("dynamodb").scan(TableName="T")["Items"]) == 3


# -- a paginated read asked again and again: a loop that never ends ----------------------------------

def query_forgetting_the_next_page(dynamodb: Any, name: str) -> list[Any]:
    """A pagination loop that never passes LastEvaluatedKey on: the same request, the same page, forever."""
    items: list[Any] = []
    while True:
        page = dynamodb.query(TableName=name, KeyConditionExpression="k = :k",
                              ExpressionAttributeValues={":k": {"S": "a"}})
        items.extend(page["Items"])
        if "LastEvaluatedKey" in page:  # the test turned around: it stops only at a page with more to come
            return items


def test_the_same_paginated_read_over_and_over_is_refused_with_the_way_out(aws: AwsService, learner: Learner) -> None:
    dynamodb = learner("dynamodb")
    _table(dynamodb, "Loop")
    dynamodb.put_item(TableName="Loop", Item={"k": {"S": "a"}})
    with pytest.raises(ClientError) as stopped:
        query_forgetting_the_next_page(dynamodb, "Loop")
    assert _code(stopped) == "RepeatedRequest"
    message = stopped.value.response["Error"]["Message"]
    assert f"the same Query request came {REPEAT_LIMIT} times in a row" in message
    assert "LastEvaluatedKey as ExclusiveStartKey" in message
    assert aws.calls("dynamodb", "Query") == REPEAT_LIMIT  # it took exactly the limit, no more
    # the same request stays refused: a loop that catches the error and asks again gets it again
    with pytest.raises(ClientError):
        dynamodb.query(TableName="Loop", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "a"}})
    assert aws.take_failures() == []  # the learner's mistake, never a failure of the mock


def test_repeats_count_only_in_a_row_of_the_learners_own_requests(aws: AwsService, learner: Learner) -> None:
    """Another request of the learner's, a request of the grader's, or a reset between the reads starts the
    count again: a check that calls a function many times with the same arguments is not a loop."""
    dynamodb, s3 = learner("dynamodb"), learner("s3")

    def scans(times: int) -> None:
        for _ in range(times):
            dynamodb.scan(TableName="T")

    _table(dynamodb, "T")
    s3.create_bucket(Bucket="loop-bucket")
    for _ in range(REPEAT_LIMIT + 5):
        scans(1)
        s3.list_objects_v2(Bucket="loop-bucket")  # between two scans: neither is asked twice in a row
    scans(REPEAT_LIMIT - 1)
    aws.client("dynamodb").scan(TableName="T")  # the grader's own, between two calls of the learner's
    scans(REPEAT_LIMIT - 1)
    aws.reset()
    _table(dynamodb, "T")
    scans(REPEAT_LIMIT - 1)
    with pytest.raises(ClientError) as stopped:
        scans(1)
    assert _code(stopped) == "RepeatedRequest"
    assert f"the same Scan request came {REPEAT_LIMIT} times" in stopped.value.response["Error"]["Message"]
    s3.create_bucket(Bucket="loop-bucket")
    for _ in range(REPEAT_LIMIT - 1):
        s3.list_objects_v2(Bucket="loop-bucket")
    with pytest.raises(ClientError) as stopped:
        s3.list_objects_v2(Bucket="loop-bucket")
    assert _code(stopped) == "RepeatedRequest"
    assert "NextContinuationToken as ContinuationToken" in stopped.value.response["Error"]["Message"]
    assert aws.take_failures() == []


# -- failures of the mock ----------------------------------------------------------------------------

def test_a_missing_network_acl_entry_gets_ec2s_documented_error(aws: AwsService, learner: Learner) -> None:
    ec2 = learner("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    entry = dict(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=False,
                 CidrBlock="0.0.0.0/0")
    with pytest.raises(ClientError) as replaced:
        ec2.replace_network_acl_entry(**entry)
    assert _code(replaced) == "InvalidNetworkAclEntry.NotFound"
    with pytest.raises(ClientError) as deleted:
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Egress=False)
    assert _code(deleted) == "InvalidNetworkAclEntry.NotFound"
    ec2.create_network_acl_entry(**entry)
    ec2.replace_network_acl_entry(**{**entry, "RuleAction": "deny"})
    (acl_now,) = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"]
    assert [e["RuleAction"] for e in acl_now["Entries"] if e["RuleNumber"] == 100] == ["deny"]
    assert aws.take_failures() == []


def test_answers_no_sdk_can_read_are_recorded_as_failures_of_the_mock(aws: AwsService, learner: Learner) -> None:
    from botocore.config import Config

    import boto3

    env = aws.worker_env()
    sqs = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=aws.region).client(
        "sqs", endpoint_url=env["AWS_ENDPOINT_URL"], config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError):
        sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:123456789012:q")  # moto: NotImplementedError
    (failure,) = aws.take_failures()
    assert failure.startswith("sqs ListMessageMoveTasks answered HTTP 500") and "not been implemented" in failure
    assert aws.take_failures() == []
    learner("sqs").list_queues()
    with pytest.raises(ClientError):
        learner("sqs").get_queue_url(QueueName="missing")  # an error AWS would answer too: not a failure
    assert aws.take_failures() == []


@pytest.mark.parametrize("head", [
    "POST / HTTP/1.1\r\nX-Amz-Target: Kinesis_20131202.GetRecords\r\nContent-Type: application/x-amz-json-1.1\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, "
    "Signature=0\r\n",
    "PUT /bucket/key HTTP/1.1\r\nContent-Type: application/octet-stream\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
    "Signature=0\r\n",
], ids=["json", "rest"])
def test_a_request_cut_short_by_its_killed_sender_is_no_failure_of_the_mock(aws: AwsService, learner: Learner,
                                                                            head: str) -> None:
    """A learner process killed at its time limit in the middle of sending a request (a loop of reads)
    leaves half a request: answered 400, never handed to moto, never blamed on the mock."""
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(aws.worker_env()["AWS_ENDPOINT_URL"])
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=10) as sock:
        sock.sendall(f"{head}Host: {endpoint.netloc}\r\nContent-Length: 200\r\n\r\n".encode() + b'{"ShardIter')
        sock.shutdown(socket.SHUT_WR)  # the sender is gone: the server reads 11 bytes of 200, then the end
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.") and b" 400 " in reply.split(b"\r\n", 1)[0], reply[:200]
    assert aws.take_failures() == []
    assert aws.calls("kinesis") == 0 and aws.calls("s3") == 0
    learner("kinesis").list_streams()  # the endpoint serves the next request as before
    assert aws.take_failures() == []


def test_a_chunked_body_reaches_moto_whole(aws: AwsService, learner: Learner) -> None:
    """A body sent without a Content-Length (Transfer-Encoding: chunked) is moto's to read, not cut."""
    import socket
    from urllib.parse import urlsplit

    learner("s3").create_bucket(Bucket="chunks")
    endpoint = urlsplit(aws.worker_env()["AWS_ENDPOINT_URL"])
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=10) as sock:
        sock.sendall(f"PUT /chunks/key HTTP/1.1\r\nHost: {endpoint.netloc}\r\nTransfer-Encoding: chunked\r\n"
                     "Authorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, "
                     "SignedHeaders=host, Signature=0\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".encode())
        reply = sock.recv(65536)
    assert b" 200 " in reply.split(b"\r\n", 1)[0], reply[:300]
    assert learner("s3").get_object(Bucket="chunks", Key="key")["Body"].read() == b"hello world"
    assert aws.take_failures() == []


# -- through a whole grade ---------------------------------------------------------------------------

EXPLAINED = '''
import pytest
from grader.checks import aws as checks


@pytest.fixture
def submission(submission, aws):
    return checks.ExplainedSubmission(submission, aws)
'''

AWS_HIDDEN = EXPLAINED + '''

@pytest.mark.points(2)
def test_tasks(submission, aws):
    """list_tasks lists the tasks"""
    assert submission.list_tasks() == [], "no tasks yet"


@pytest.mark.points(1)
def test_wait(submission, aws):
    """make_table waits"""
    aws.simulate_creating()
    submission.make_table()


@pytest.mark.points(1)
def test_poll(submission, aws):
    """poll receives"""
    url = aws.client("sqs").create_queue(QueueName="empty")["QueueUrl"]
    submission.poll(url)
'''

AWS_STUB = '''
import boto3
from botocore.config import Config


def list_tasks():
    sqs = boto3.client("sqs", config=Config(retries={"total_max_attempts": 1}))
    sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:123456789012:q")
    return []


def make_table():
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName="T", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName="T", Item={"k": {"S": "x"}})


def poll(url):
    return boto3.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
'''


def _aws_course(make_course: Callable[..., Path], stub: str = AWS_STUB, hidden: str = AWS_HIDDEN,
                timeout: float = 1.5, points: int = 4) -> Path:
    root = make_course(stub=stub, hidden=hidden, solution=stub, timeout=timeout, points=points)
    toml = root / "exercises/demo/exercise.toml"
    toml.write_text(toml.read_text() + 'services = ["aws"]\n', encoding="utf-8")
    return root


def test_a_crash_of_the_mock_is_a_grader_error_and_causes_are_named(make_course: Callable[..., Path]) -> None:
    root = _aws_course(make_course)
    (exercise,) = catalog.load_all(root)
    with ServicePool() as pool:
        result = grade(exercise, root / "exercises/demo", pool)
    crash, wait, poll = result.tests
    assert crash.status is Status.ERROR and crash.score == 0 and crash.max_score == 2
    assert crash.output.startswith("The grader's mock service failed during this check, so it could not be graded: "
                                   "sqs ListMessageMoveTasks answered HTTP 500")
    assert "not of your work" in crash.output and "Traceback" not in crash.output
    assert result.errored
    assert wait.status is Status.FAILED
    assert wait.output.startswith("Your code used table 'T' while it was still CREATING.")
    assert 'get_waiter("table_exists")' in wait.output
    assert poll.status is Status.FAILED
    assert "poll(" in poll.output and "while ReceiveMessage was waiting for messages: with WaitTimeSeconds=20" in poll.output
    assert "loop that never ends" not in poll.output.replace("not a loop that never ends", "")


LOOPS_HIDDEN = EXPLAINED + '''

@pytest.mark.points(1)
def test_wait(submission, aws):
    """make_table waits for its table"""
    submission.make_table("Made")
    assert "Made" in aws.client("dynamodb").list_tables()["TableNames"]


@pytest.mark.points(1)
def test_pages(submission, aws):
    """read_all reads every page"""
    aws.client("dynamodb").create_table(TableName="P", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                        BillingMode="PAY_PER_REQUEST")
    aws.put_items("P", [{"k": {"S": str(n)}} for n in range(3)])
    assert sorted(submission.read_all("P")) == ["0", "1", "2"]


@pytest.mark.points(1)
def test_clock(submission, aws):
    """the clock of boto3's waiters"""
    assert submission.waiter_clock() == ("QuickClock" if aws.ready_at_once else "module")
'''

LOOPS_STUB = '''
import boto3
import botocore.waiter


def make_table(name):
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=name + "-typo", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.get_waiter("table_exists").wait(TableName=name)  # 20 s between polls in botocore's model


def read_all(name):
    dynamodb, kwargs, keys = boto3.client("dynamodb"), {"TableName": name, "Limit": 2}, []
    while True:
        page = dynamodb.scan(**kwargs)
        keys += [item["k"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return keys
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def waiter_clock():
    return type(botocore.waiter.time).__name__
'''


def test_endless_waits_and_page_loops_end_with_what_went_wrong(make_course: Callable[..., Path]) -> None:
    """On the embedded endpoint a waiter for a table never made gives up with its WaiterError, and a
    pagination loop that asks for the same page again and again is refused, each well within the call's
    time limit (5 s here; botocore's waiter sleeps 20 s between polls) and with what to change."""
    root = _aws_course(make_course, LOOPS_STUB, LOOPS_HIDDEN, timeout=5, points=3)
    forgetful = root / "forgetful"
    forgetful.mkdir()
    (forgetful / "demo.py").write_text(LOOPS_STUB.replace('kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]',
                                                          "pass"), encoding="utf-8")
    (exercise,) = catalog.load_all(root)
    with ServicePool() as pool:
        waits, pages, clock = grade(exercise, forgetful, pool).tests
    assert waits.status is Status.FAILED and "timed out" not in waits.output
    assert waits.output.startswith("A boto3 waiter gave up: what it waited for never came.")
    assert "WaiterError: Waiter TableExists failed: Max attempts exceeded" in waits.output
    assert pages.status is Status.FAILED and "timed out" not in pages.output
    assert "(RepeatedRequest) when calling the Scan operation" in pages.output
    assert "pass the page's LastEvaluatedKey as ExclusiveStartKey" in pages.output
    assert clock.status is Status.PASSED
    assert make_service(ServiceOptions(aws_endpoint="http://127.0.0.1:1")).ready_at_once is False


def test_a_run_with_a_grader_error_exits_3(make_course: Callable[..., Path], in_course: Callable[[Path], None]) -> None:
    from click.testing import CliRunner

    from grader.cli import cli

    in_course(_aws_course(make_course))
    outcome = CliRunner().invoke(cli, ["run", "demo"])
    assert outcome.exit_code == 3, outcome.output


def test_a_switch_on_an_external_endpoint_skips_the_check_with_the_reason(
        make_course: Callable[..., Path], aws: AwsService) -> None:
    hidden = ("def test_needs_lag(aws):\n    aws.simulate_kinesis_lag()\n\n"
              "def test_plain(aws):\n    assert aws.backend == 'external'\n")
    root = make_course(hidden=hidden, points=1)
    toml = root / "exercises/demo/exercise.toml"
    toml.write_text(toml.read_text() + 'services = ["aws"]\n', encoding="utf-8")
    (exercise,) = catalog.load_all(root)
    with ServicePool(ServiceOptions(aws_endpoint=aws.endpoint_url)) as pool:
        result = grade(exercise, root / "solutions/demo", pool)
    skipped, plain = result.tests
    assert (skipped.status, skipped.max_score) == (Status.SKIPPED, 0)
    assert skipped.output == ("Not graded on this backend: simulating Kinesis lag needs the embedded moto server, "
                              "not the external endpoint.")
    assert plain.status is Status.PASSED and not result.errored


def test_reference_solutions_keep_full_marks_under_every_behaviour(course_root: Path, monkeypatch) -> None:
    """Every switch on in every check: a solution written from the README never depends on moto's leniency.
    Short receives stay off for queue_vs_stream: its receive check counts what one receive returns, which
    moto promises and SQS does not."""
    reset = AwsService.reset

    def reset_with_everything_on(self: AwsService) -> None:
        reset(self)
        for switch in ("simulate_creating", "simulate_unprocessed_items", "simulate_small_pages",
                       "refuse_reserved_words", "simulate_kinesis_lag"):
            getattr(self, switch)()

    monkeypatch.setattr(AwsService, "reset", reset_with_everything_on)
    with ServicePool() as pool:
        for slug in ("dynamodb_crud", "queue_vs_stream"):
            (exercise,) = catalog.select(course_root, [slug])
            result = grade(exercise, course_root / "solutions" / slug, pool)
            failed = [(t.name, t.output) for t in result.tests if t.status is not Status.PASSED]
            assert not failed and result.score == result.max_score == exercise.points, (slug, failed)


def test_rest_routes_come_from_the_model_as_published(aws: AwsService) -> None:
    """The filter names a REST request by the routes of botocore's model as published: the grader's S3
    client, once it has sent requests, has rewritten the request URIs of the model it was built from
    (bucket operations lose their /{Bucket}), so the routes are read from a model of their own."""
    import botocore.session

    from grader.services.aws_realism import _routes_of

    s3 = aws.client("s3")
    s3.create_bucket(Bucket="routes-bucket")
    s3.list_objects_v2(Bucket="routes-bucket")
    model = botocore.session.get_session().get_service_model("s3")
    routes = {route.operation: route for route in _routes_of("s3")}
    assert routes["ListObjectsV2"].pattern.fullmatch("/routes-bucket")
    assert set(routes) == set(model.operation_names)
