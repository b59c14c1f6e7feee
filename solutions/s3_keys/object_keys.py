"""S3 object keys: partitioned names, uploads with metadata, paginated listings, "folders", latest partition."""
from __future__ import annotations

import json

import boto3


def partition_key(prefix: str, date: str, part: int) -> str:
    """The key of one part of a daily export: '{prefix}-{date}/part-{part:04d}.json'."""
    return f"{prefix}-{date}/part-{part:04d}.json"


def upload_part(bucket: str, key: str, record: dict, metadata: dict) -> None:
    """Upload `record` as JSON text with content type application/json and user metadata."""
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(record).encode(),
        ContentType="application/json",
        Metadata=metadata,
    )


def list_keys(bucket: str, prefix: str) -> list[str]:
    """Every key that starts with `prefix`, in S3's order, across every page of results."""
    paginator = boto3.client("s3").get_paginator("list_objects_v2")
    return [obj["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])]


def list_folders(bucket: str, prefix: str) -> list[str]:
    """The 'folders' right under `prefix`: the common prefixes of the keys, up to the next '/'."""
    paginator = boto3.client("s3").get_paginator("list_objects_v2")
    return [p["Prefix"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
            for p in page.get("CommonPrefixes", [])]


def object_metadata(bucket: str, key: str) -> dict:
    """{"content_type": ..., "size": bytes, "metadata": {user metadata}} of one object, without downloading it."""
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    return {"content_type": head["ContentType"], "size": head["ContentLength"], "metadata": head["Metadata"]}


def latest_partition(bucket: str, prefix: str) -> str | None:
    """The folder of the latest export under `prefix` (e.g. 'output-2024-06-28/'), or None if there is none."""
    folders = list_folders(bucket, prefix)
    return max(folders) if folders else None
