"""grader/checks/aws.py: the readers hidden tests use, against the embedded moto server."""
from __future__ import annotations

import decimal

from grader.checks import aws as checks
from grader.services import ServiceOptions
from grader.services.aws import AwsService, make_service


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


def test_stored_items_reads_every_page_as_plain_values(aws: AwsService) -> None:
    """Embedded (moto's store) and on an external endpoint (a Scan, page after page): the same items."""
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
    external = make_service(ServiceOptions(aws_endpoint=aws.endpoint_url))
    for service in (aws, external):
        assert sorted(checks.stored_items(service, "Big"), key=lambda i: i["id"]) == items


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


def test_shard_records_reads_past_a_lagging_empty_page(aws: AwsService, learner) -> None:
    kinesis = learner("kinesis")  # the lag meets the learner's code only
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


def test_typed_items_from_the_low_level_client_are_named_with_the_fix() -> None:
    typed = {"OrderID": {"S": "O1001"}, "ItemNum": {"N": "1"}}
    assert checks.is_typed_item(typed)
    assert not checks.is_typed_item({"OrderID": "O1001", "Meta": {"S": "x", "N": "1"}})
    problem = checks.items_problem([typed], "query_order('Orders', 'O1001')")
    assert "typed form" in problem and "TypeDeserializer" in problem
    difference = checks.first_item_difference(typed, {"OrderID": "O1001", "ItemNum": 1})
    assert "typed form" in difference


def test_items_problem_accepts_plain_items_and_names_a_response() -> None:
    assert checks.items_problem([{"a": 1}], "f()") == ""
    assert checks.items_problem([], "f()") == ""
    problem = checks.items_problem({"Items": [], "Count": 0, "ResponseMetadata": {}}, "scan_where(...)")
    assert "whole boto3 response" in problem and "response['Items']" in problem
    assert "every element must be an item" in checks.items_problem(["P00001"], "f()")


def test_item_difference_says_when_a_number_was_stored_as_a_string() -> None:
    problem = checks.first_item_difference({"Age": "35"}, {"Age": 35})
    assert problem == "attribute 'Age' is \"35\" (a string), expected 35 (a number)"


def test_client_errors_from_an_own_endpoint_or_region_are_explained() -> None:
    assert "without endpoint_url" in checks.explain_client_error(
        'EndpointConnectionError: Could not connect to the endpoint URL: "http://localhost:4566/"')
    assert "region_name" in checks.explain_client_error(
        "ClientError: An error occurred (ResourceNotFoundException) when calling the GetItem operation")
    assert checks.explain_client_error("KeyError: 'Item'") == ""


def test_learner_traceback_keeps_frames_and_drops_the_repeated_error() -> None:
    message = ('put_items(...) raised ClientError: too many\nTraceback (most recent call last):\n'
               '  File "crud.py", line 3, in put_items\n    client.batch_write_item()\n'
               '  ... 3 frames in library code\nClientError: too many')
    assert checks.learner_traceback(message) == "\n".join(message.splitlines()[1:5])
    assert checks.learner_traceback("no traceback here") == ""


def test_a_table_made_in_another_region_is_found(aws: AwsService) -> None:
    client = aws.client("dynamodb", region_name="eu-west-1")
    client.create_table(
        TableName="Person",
        KeySchema=[{"AttributeName": "PersonID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PersonID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    found = checks.tables_in_other_regions(lambda r: aws.client("dynamodb", region_name=r), "Person", aws.region)
    assert found == ["eu-west-1"]


RECORD = {"shard_id": "shardId-000000000001", "sequence_number": "49590", "key": "user-1", "data": "click /cart"}


def test_a_wrong_type_is_named_before_order_or_content() -> None:
    """bytes turned into text, numbers as text, whole responses: each said as such, not as records out of order."""
    assert checks.records_problem([RECORD], RECORD, "read_all") == ""
    as_text = checks.records_problem([RECORD, {**RECORD, "data": "b'click /cart'"}], RECORD, "read_all")
    assert as_text.startswith("read_all returned a record whose 'data' is \"b'click /cart'\": that is Python's text "
                              "for a bytes value") and 'data.decode("utf-8")' in as_text
    as_number = checks.records_problem([{**RECORD, "sequence_number": 49590}], RECORD, "read_all")
    assert as_number == ("read_all returned a record whose 'sequence_number' is 49590: that is a number, expected "
                         'a string such as "49590"')
    pages = [{"Records": [], "NextShardIterator": "AAA", "MillisBehindLatest": 0, "ResponseMetadata": {}}]
    assert checks.records_problem(pages, RECORD, "read_all").startswith(
        "read_all returned a list of whole responses (keys Records, NextShardIterator, MillisBehindLatest) instead "
        "of the records in them: take the records out of each response's 'Records'")
    raw = [{"SequenceNumber": "49590", "Data": "click", "PartitionKey": "user-1"}]
    assert "returned records without 'shard_id'" in checks.records_problem(raw, RECORD, "read_all")
    item = {"OrderID": "O1001", "ItemNum": 1}
    assert "the text of a Decimal" in checks.records_problem([{**item, "ItemNum": "Decimal('1')"}], item, "q")
    assert "a number written as a string" in checks.records_problem([{**item, "ItemNum": "1"}], item, "q")
    assert "list of whole responses" in checks.records_problem(
        [{"Items": [item], "Count": 1, "ResponseMetadata": {}}], item, "q")
    assert "the text of a Decimal" in checks.first_item_difference({**item, "ItemNum": "Decimal('1')"}, item)


def test_listings_returned_as_boto3_entries_are_named() -> None:
    assert checks.strings_problem(["logs/", "output-2024-03-01/"], "logs/", "list_folders") == ""
    entries = checks.strings_problem([{"Prefix": "logs/"}], "logs/", "list_folders")
    assert entries == ("list_folders returned the entries of a listing as boto3 gives them, such as "
                       "{\"Prefix\": \"logs/\"}: take each one's 'Prefix' and return the strings")
    assert "take each one's 'Key'" in checks.strings_problem([{"Key": "a", "Size": 1}], "a", "list_keys")
    assert "Python's text for a bytes value" in checks.strings_problem(["b'a/b'"], "a/b", "list_keys")
    assert checks.strings_problem("a/b", "a/b", "list_keys").startswith("list_keys returned \"a/b\"; expected a list")


def test_folders_of_keys_are_the_common_prefixes_s3_lists(aws: AwsService) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="tree")
    keys = ["a/1", "a/b/2", "a-b/3", "top", "z/", "a/b/c/4", "é/5", "b//6", *(f"many/m{n:04d}/x" for n in range(1100))]
    aws.put_objects("tree", {key: b"" for key in keys})
    for prefix in ("", "a/", "a/b/", "b/", "many/", "none/"):
        assert checks.folders(keys, prefix) == checks.common_prefixes(s3, "tree", prefix), prefix
