"""S3 object keys: partitioned names, uploads with metadata, paginated listings, "folders", latest partition.

Read README.md in this folder for what each function must do and return.
Create clients with plain `boto3.client("s3")`: the grader points it at its mock AWS.
Run `grade run s3_keys` to check your work.
"""
from __future__ import annotations

import json  # noqa: F401  (you will need it)

import boto3  # noqa: F401  (you will need it)


def partition_key(prefix: str, date: str, part: int) -> str:
    """The key of one part of a daily export: '{prefix}-{date}/part-{part:04d}.json'."""
    raise NotImplementedError("partition_key is not written yet")


def upload_part(bucket: str, key: str, record: dict, metadata: dict) -> None:
    """Upload `record` as JSON text with content type application/json and user metadata."""
    raise NotImplementedError("upload_part is not written yet")


def list_keys(bucket: str, prefix: str) -> list[str]:
    """Every key that starts with `prefix`, in S3's order, across every page of results."""
    raise NotImplementedError("list_keys is not written yet")


def list_folders(bucket: str, prefix: str) -> list[str]:
    """The 'folders' right under `prefix`: the common prefixes of the keys, up to the next '/'."""
    raise NotImplementedError("list_folders is not written yet")


def object_metadata(bucket: str, key: str) -> dict:
    """{"content_type": ..., "size": bytes, "metadata": {user metadata}} of one object, without downloading it."""
    raise NotImplementedError("object_metadata is not written yet")


def latest_partition(bucket: str, prefix: str) -> str | None:
    """The folder of the latest export under `prefix` (e.g. 'output-2024-06-28/'), or None if there is none."""
    raise NotImplementedError("latest_partition is not written yet")
