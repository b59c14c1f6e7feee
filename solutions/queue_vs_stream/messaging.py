"""Queues against streams: SQS standard and FIFO queues, Kinesis Data Streams shards and iterators."""
from __future__ import annotations

import boto3

SQS_BATCH = 10


# -- SQS: a queue ------------------------------------------------------------------------------

def create_standard_queue(name: str) -> str:
    """Create a standard queue; return its URL."""
    return boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def create_fifo_queue(name: str) -> str:
    """Create a FIFO queue (`name` ends in .fifo) with explicit deduplication ids; return its URL."""
    return boto3.client("sqs").create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    )["QueueUrl"]


def send_batch(queue_url: str, bodies: list[str]) -> list[str]:
    """Send every body with SendMessageBatch (at most 10 per call); return the message ids in order."""
    sqs = boto3.client("sqs")
    ids: list[str] = []
    for start in range(0, len(bodies), SQS_BATCH):
        chunk = bodies[start:start + SQS_BATCH]
        response = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused some messages: {response['Failed']}")
        by_entry = {int(ok["Id"]): ok["MessageId"] for ok in response["Successful"]}
        ids.extend(by_entry[i] for i in range(len(chunk)))
    return ids


def receive(queue_url: str, max_messages: int) -> list[dict]:
    """Receive up to max_messages without deleting them: [{"body", "receipt_handle"}]."""
    response = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=0
    )
    return [{"body": m["Body"], "receipt_handle": m["ReceiptHandle"]} for m in response.get("Messages", [])]


def delete(queue_url: str, receipt_handles: list[str]) -> None:
    """Delete received messages by their receipt handles."""
    sqs = boto3.client("sqs")
    for handle in receipt_handles:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)


def consume(queue_url: str, max_messages: int) -> list[str]:
    """One consumer's turn: receive up to max_messages, delete them, return their bodies."""
    received = receive(queue_url, max_messages)
    delete(queue_url, [m["receipt_handle"] for m in received])
    return [m["body"] for m in received]


def send_fifo(queue_url: str, messages: list[dict]) -> None:
    """Send [{"group", "body", "dedup_id"}] in order to a FIFO queue."""
    sqs = boto3.client("sqs")
    for message in messages:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=message["body"],
            MessageGroupId=message["group"],
            MessageDeduplicationId=message["dedup_id"],
        )


# -- Kinesis: a stream ----------------------------------------------------------------------------

def create_stream(name: str, shard_count: int) -> None:
    """Create a stream with shard_count shards; wait until it is ACTIVE."""
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=shard_count)
    kinesis.get_waiter("stream_exists").wait(StreamName=name)


def put_events(stream: str, events: list[dict]) -> list[dict]:
    """Put [{"key", "data"}] one by one, in order; return [{"shard_id", "sequence_number"}]."""
    kinesis = boto3.client("kinesis")
    placed = []
    for event in events:
        response = kinesis.put_record(StreamName=stream, Data=event["data"].encode(), PartitionKey=event["key"])
        placed.append({"shard_id": response["ShardId"], "sequence_number": response["SequenceNumber"]})
    return placed


def _shards(kinesis, stream: str) -> list[str]:
    return [s["ShardId"] for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream)
            for s in page["Shards"]]


def _read(kinesis, shard_id: str, iterator: str) -> list[dict]:
    """Follow one shard's iterators until caught up: an empty page with MillisBehindLatest 0."""
    records = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=100)
        records.extend(
            {"shard_id": shard_id, "sequence_number": r["SequenceNumber"], "key": r["PartitionKey"],
             "data": r["Data"].decode()}
            for r in page["Records"]
        )
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            break
        iterator = page.get("NextShardIterator")
    return records


def read_all(stream: str) -> list[dict]:
    """Every record of every shard from TRIM_HORIZON, shard by shard, each in sequence order."""
    kinesis = boto3.client("kinesis")
    records = []
    for shard_id in _shards(kinesis, stream):
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(_read(kinesis, shard_id, iterator))
    return records


def latest_iterators(stream: str) -> dict:
    """{shard_id: a LATEST shard iterator} for every shard: a bookmark at the end of the stream."""
    kinesis = boto3.client("kinesis")
    return {
        shard_id: kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="LATEST")[
            "ShardIterator"
        ]
        for shard_id in _shards(kinesis, stream)
    }


def read_new(iterators: dict) -> list[dict]:
    """The records that arrived after latest_iterators was called, shard by shard."""
    kinesis = boto3.client("kinesis")
    records = []
    for shard_id, iterator in iterators.items():
        records.extend(_read(kinesis, shard_id, iterator))
    return records


def replay_from(stream: str, shard_id: str, sequence_number: str) -> list[dict]:
    """Replay one shard from a record on (AT_SEQUENCE_NUMBER), to the end."""
    kinesis = boto3.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=sequence_number,
    )["ShardIterator"]
    return _read(kinesis, shard_id, iterator)
