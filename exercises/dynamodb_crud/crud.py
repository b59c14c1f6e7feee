"""DynamoDB CRUD with boto3: key-value and composite-key tables, batches, queries, scans, conditions.

Read README.md in this folder for what each function must do and return.
Create clients with plain `boto3.client("dynamodb")` or `boto3.resource("dynamodb")`: the grader
points them at its mock AWS. Run `grade run dynamodb_crud` to check your work.
"""
from __future__ import annotations

from typing import Any

import boto3  # noqa: F401  (you will need it)


def create_person_table(table_name: str) -> None:
    """Create a table whose simple primary key is PersonID (a string); wait until it exists."""
    raise NotImplementedError("create_person_table is not written yet")


def create_orders_table(table_name: str) -> None:
    """Create a table keyed by OrderID (partition key, string) and ItemNum (sort key, number)."""
    raise NotImplementedError("create_orders_table is not written yet")


def put_item(table_name: str, item: dict) -> None:
    """Write one item (any attributes besides the key)."""
    raise NotImplementedError("put_item is not written yet")


def put_items(table_name: str, items: list[dict]) -> None:
    """Write many items with BatchWriteItem, at most 25 per call, resending unprocessed ones."""
    raise NotImplementedError("put_items is not written yet")


def get_item(table_name: str, key: dict) -> dict | None:
    """The item with this primary key, or None when there is none."""
    raise NotImplementedError("get_item is not written yet")


def query_order(table_name: str, order_id: str) -> list[dict]:
    """Every item of one order, by ItemNum ascending, following LastEvaluatedKey."""
    raise NotImplementedError("query_order is not written yet")


def scan_where(table_name: str, attribute: str, value: Any) -> list[dict]:
    """Every item whose `attribute` equals `value`: a filtered Scan over all pages."""
    raise NotImplementedError("scan_where is not written yet")


def update_if(table_name: str, key: dict, attribute: str, new_value: Any, expected: Any) -> bool:
    """Set `attribute` to `new_value` only if it currently equals `expected`; True if it was updated."""
    raise NotImplementedError("update_if is not written yet")


def delete_item(table_name: str, key: dict) -> None:
    """Delete the item with this primary key."""
    raise NotImplementedError("delete_item is not written yet")
