"""Queues against streams: SQS standard and FIFO queues, Kinesis Data Streams shards and iterators.

Read README.md in this folder for what each function must do and return.
Create clients with plain `boto3.client("sqs")` / `boto3.client("kinesis")`: the grader points them
at its mock AWS. Run `grade run queue_vs_stream` to check your work.
"""
from __future__ import annotations

import boto3  # noqa: F401  (you will need it)


def create_standard_queue(name: str) -> str:
    """Create a standard queue; return its URL."""
    raise NotImplementedError("create_standard_queue is not written yet")


def create_fifo_queue(name: str) -> str:
    """Create a FIFO queue (`name` ends in .fifo) with explicit deduplication ids; return its URL."""
    raise NotImplementedError("create_fifo_queue is not written yet")


def send_batch(queue_url: str, bodies: list[str]) -> list[str]:
    """Send every body with SendMessageBatch (at most 10 per call); return the message ids in order."""
    raise NotImplementedError("send_batch is not written yet")


def receive(queue_url: str, max_messages: int) -> list[dict]:
    """Receive up to max_messages without deleting them: [{"body", "receipt_handle"}]."""
    raise NotImplementedError("receive is not written yet")


def delete(queue_url: str, receipt_handles: list[str]) -> None:
    """Delete received messages by their receipt handles."""
    raise NotImplementedError("delete is not written yet")


def consume(queue_url: str, max_messages: int) -> list[str]:
    """One consumer's turn: receive up to max_messages, delete them, return their bodies."""
    raise NotImplementedError("consume is not written yet")


def send_fifo(queue_url: str, messages: list[dict]) -> None:
    """Send [{"group", "body", "dedup_id"}] in order to a FIFO queue."""
    raise NotImplementedError("send_fifo is not written yet")


def create_stream(name: str, shard_count: int) -> None:
    """Create a stream with shard_count shards; wait until it is ACTIVE."""
    raise NotImplementedError("create_stream is not written yet")


def put_events(stream: str, events: list[dict]) -> list[dict]:
    """Put [{"key", "data"}] one by one, in order; return [{"shard_id", "sequence_number"}]."""
    raise NotImplementedError("put_events is not written yet")


def read_all(stream: str) -> list[dict]:
    """Every record of every shard from TRIM_HORIZON, shard by shard, each in sequence order."""
    raise NotImplementedError("read_all is not written yet")


def latest_iterators(stream: str) -> dict:
    """{shard_id: a LATEST shard iterator} for every shard: a bookmark at the end of the stream."""
    raise NotImplementedError("latest_iterators is not written yet")


def read_new(iterators: dict) -> list[dict]:
    """The records that arrived after latest_iterators was called, shard by shard."""
    raise NotImplementedError("read_new is not written yet")


def replay_from(stream: str, shard_id: str, sequence_number: str) -> list[dict]:
    """Replay one shard from a record on (AT_SEQUENCE_NUMBER), to the end."""
    raise NotImplementedError("replay_from is not written yet")
