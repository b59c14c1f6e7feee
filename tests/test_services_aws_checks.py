"""grader/checks/aws.py: the readers hidden tests use, against the embedded moto server."""
from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest

from grader.checks import aws as checks
from grader.services import ServiceOptions
from grader.services.aws import AwsService, make_service


@pytest.fixture(scope="module")
def server() -> Iterator[AwsService]:
    service = make_service(ServiceOptions())
    service.start()
    yield service
    service.stop()


@pytest.fixture
def aws(server: AwsService) -> AwsService:
    server.reset()
    return server


def test_plain_turns_boto3_values_into_what_a_learner_returns() -> None:
    value = {"n": decimal.Decimal("3"), "p": decimal.Decimal("2.5"), "s": {"b", "a"}, "l": [decimal.Decimal("1")]}
    assert checks.plain(value) == {"n": 3, "p": 2.5, "s": ["a", "b"], "l": [1]}


def test_key_schema_is_described_partition_key_first(aws: AwsService) -> None:
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "ItemNum", "KeyType": "RANGE"}, {"AttributeName": "OrderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "OrderID", "AttributeType": "S"},
                              {"AttributeName": "ItemNum", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    schema = checks.key_schema(dynamodb, "Orders")
    assert schema == [("OrderID", "HASH", "S"), ("ItemNum", "RANGE", "N")]
    assert checks.describe_key_schema(schema) == "partition key OrderID (string) and sort key ItemNum (number)"


def test_scan_items_reads_every_page_as_plain_values(aws: AwsService) -> None:
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="Big", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )
    items = [{"id": f"k{n:03d}", "n": n, "pad": "x" * 20000} for n in range(80)]
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={"Big": [
            {"PutRequest": {"Item": checks.dynamo_item(i)}} for i in items[start:start + 25]]})
    assert checks.scan_pages(dynamodb, "Big") >= 2
    assert sorted(checks.scan_items(dynamodb, "Big"), key=lambda i: i["id"]) == items


def test_item_difference_names_the_first_wrong_attribute() -> None:
    want = {"id": "a", "n": 1}
    assert checks.first_item_difference({"id": "a", "n": 1}, want) == ""
    assert "'n' is 2, expected 1" in checks.first_item_difference({"id": "a", "n": 2}, want)
    assert "'n' is missing" in checks.first_item_difference({"id": "a"}, want)
    assert "never written: 'x'" in checks.first_item_difference({"id": "a", "n": 1, "x": 0}, want)


def test_queue_counts_and_drain_see_waiting_and_in_flight(aws: AwsService) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    taken = {m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]}
    assert checks.queue_counts(sqs, url) == (7, 5)
    drained = [m["Body"] for m in checks.drain(sqs, url)]
    assert sorted(drained) == sorted({str(n) for n in range(12)} - taken)
    assert checks.queue_counts(sqs, url) == (0, 5)  # drained ones deleted; the 5 taken are still in flight


def test_shard_records_reads_past_a_lagging_empty_page(aws: AwsService) -> None:
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=2)
    for n in range(30):
        kinesis.put_record(StreamName="s", Data=str(n).encode(), PartitionKey=f"user-{n % 7}")
    aws.simulate_kinesis_lag()
    shards = checks.shard_ids(kinesis, "s")
    records = [r for s in shards for r in checks.shard_records(kinesis, "s", s)]
    assert sorted(int(r["data"]) for r in records) == list(range(30))


def test_listings_follow_pagination(aws: AwsService) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="many")
    objects = {f"d-{n % 3}/k-{n:05d}": b"" for n in range(2100)}
    aws.put_objects("many", objects)
    assert checks.all_keys(s3, "many") == sorted(objects)
    assert checks.common_prefixes(s3, "many") == ["d-0/", "d-1/", "d-2/"]
