"""DynamoDB CRUD with boto3: key-value and composite-key tables, batches, queries, scans, conditions."""
from __future__ import annotations

from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

BATCH_LIMIT = 25


def _table(table_name: str) -> Any:
    return boto3.resource("dynamodb").Table(table_name)


def create_person_table(table_name: str) -> None:
    """Create a table whose simple primary key is PersonID (a string); wait until it exists."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "PersonID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PersonID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table_name)


def create_orders_table(table_name: str) -> None:
    """Create a table keyed by OrderID (partition key, string) and ItemNum (sort key, number)."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=table_name,
        KeySchema=[
            {"AttributeName": "OrderID", "KeyType": "HASH"},
            {"AttributeName": "ItemNum", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "OrderID", "AttributeType": "S"},
            {"AttributeName": "ItemNum", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table_name)


def put_item(table_name: str, item: dict) -> None:
    """Write one item (any attributes besides the key)."""
    _table(table_name).put_item(Item=item)


def put_items(table_name: str, items: list[dict]) -> None:
    """Write many items with BatchWriteItem, at most 25 per call, resending unprocessed ones."""
    client = boto3.client("dynamodb")
    serialize = TypeSerializer().serialize
    for start in range(0, len(items), BATCH_LIMIT):
        chunk = items[start:start + BATCH_LIMIT]
        pending = {table_name: [
            {"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}} for item in chunk
        ]}
        while pending:
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}


def get_item(table_name: str, key: dict) -> dict | None:
    """The item with this primary key, or None when there is none."""
    return _table(table_name).get_item(Key=key).get("Item")


def query_order(table_name: str, order_id: str) -> list[dict]:
    """Every item of one order, by ItemNum ascending, following LastEvaluatedKey."""
    table = _table(table_name)
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("OrderID").eq(order_id)}
    items: list[dict] = []
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scan_where(table_name: str, attribute: str, value: Any) -> list[dict]:
    """Every item whose `attribute` equals `value`: a filtered Scan over all pages."""
    table = _table(table_name)
    kwargs: dict[str, Any] = {"FilterExpression": Attr(attribute).eq(value)}
    items: list[dict] = []
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def update_if(table_name: str, key: dict, attribute: str, new_value: Any, expected: Any) -> bool:
    """Set `attribute` to `new_value` only if it currently equals `expected`; True if it was updated."""
    try:
        _table(table_name).update_item(
            Key=key,
            UpdateExpression="SET #a = :new",
            ConditionExpression="#a = :expected",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":new": new_value, ":expected": expected},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def delete_item(table_name: str, key: dict) -> None:
    """Delete the item with this primary key."""
    _table(table_name).delete_item(Key=key)
