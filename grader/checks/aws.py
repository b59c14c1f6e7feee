"""Checkers for the AWS exercises: read DynamoDB, S3, SQS and Kinesis state through the grader's
own boto3 clients and describe it in a learner's words. Nothing here knows pytest."""
from __future__ import annotations

import decimal
import json
import re
from typing import Any, Callable, Iterable


def plain(value: Any) -> Any:
    """A boto3 value as the JSON a learner's function returns: Decimal to int/float, sets to sorted lists,
    binary to text."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if type(value).__name__ == "Binary":  # boto3.dynamodb.types.Binary, what a B or BS value is read as
        return plain(value.value)
    return value


# -- DynamoDB --------------------------------------------------------------------------------------

def key_schema(dynamodb: Any, table: str) -> list[tuple[str, str, str]]:
    """[(attribute, HASH|RANGE, S|N|B), ...] of a table, partition key first."""
    description = dynamodb.describe_table(TableName=table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    keys = sorted(description["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?")) for k in keys]


_ROLE = {"HASH": "partition key", "RANGE": "sort key"}
_TYPE = {"S": "string", "N": "number", "B": "binary"}


def describe_key_schema(schema: Iterable[tuple[str, str, str]]) -> str:
    """'partition key OrderID (string) and sort key ItemNum (number)'."""
    parts = [f"{_ROLE.get(role, role)} {name} ({_TYPE.get(kind, kind)})" for name, role, kind in schema]
    return " and ".join(parts) if parts else "no key"


def table_names(dynamodb: Any) -> list[str]:
    """Every table name, following pagination."""
    return [n for page in dynamodb.get_paginator("list_tables").paginate() for n in page["TableNames"]]


def stored_items(aws: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table as plain values, in Scan order, as the aws service reads them fastest
    (AwsService.table_items: moto's store when embedded, else a Scan following LastEvaluatedKey)."""
    from boto3.dynamodb.types import TypeDeserializer

    load = TypeDeserializer().deserialize
    return [{k: plain(load(v)) for k, v in item.items()} for item in aws.table_items(table)]


def scan_pages(dynamodb: Any, table: str, **kwargs: Any) -> int:
    """How many pages a Scan of `table` takes (with the same filter a learner would use)."""
    return sum(1 for _ in dynamodb.get_paginator("scan").paginate(TableName=table, **kwargs))


def dynamo_item(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item in DynamoDB's attribute-value form, for the low-level client."""
    from boto3.dynamodb.types import TypeSerializer

    dump = TypeSerializer().serialize
    return {k: dump(v) for k, v in item.items()}


def key_of(item: dict[str, Any], key_names: Iterable[str]) -> dict[str, Any]:
    """The primary key part of an item."""
    return {k: item[k] for k in key_names}


_TYPED_TAGS = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
TYPED_FORM_ADVICE = (
    "that is DynamoDB's typed form ({\"S\": ...}, {\"N\": ...}) as the low-level client returns it: "
    "turn each item into plain values with boto3.dynamodb.types.TypeDeserializer, or use "
    "boto3.resource(\"dynamodb\").Table(name), which does it for you"
)


def is_typed_value(value: Any) -> bool:
    """Whether `value` looks like a DynamoDB attribute value such as {"S": "x"} or {"N": "3"}."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TYPED_TAGS


def is_typed_item(item: Any) -> bool:
    """Whether an item holds its attributes in DynamoDB's typed form."""
    return isinstance(item, dict) and bool(item) and all(is_typed_value(v) for v in item.values())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else "an object"


_BYTES_TEXT = re.compile(r"""b(['"]).*\1""", re.S)
_DECIMAL_TEXT = re.compile(r"""Decimal\((['"]?)-?[0-9.E+-]+\1\)""")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# keys of a boto3 page of results, as opposed to one of the records in it
_PAGE_KEYS = {"Records": "Records", "Items": "Items", "Messages": "Messages", "Contents": "Contents",
              "NextShardIterator": "Records", "LastEvaluatedKey": "Items"}


def _form_problem(got: Any, want: Any) -> str:
    """A value turned into text the wrong way (str() of bytes or of a Decimal), or a whole response."""
    if isinstance(got, str):
        if _BYTES_TEXT.fullmatch(got) and not (isinstance(want, str) and _BYTES_TEXT.fullmatch(want)):
            return ("that is Python's text for a bytes value (str(b\"...\") gives \"b'...'\"): decode the bytes "
                    "instead, data.decode(\"utf-8\")")
        if _DECIMAL_TEXT.fullmatch(got):
            return ("that is the text of a Decimal (boto3 gives DynamoDB numbers as Decimal): return the number "
                    "itself, or int(value)")
    if isinstance(got, dict) and "ResponseMetadata" in got and not (isinstance(want, dict) and "ResponseMetadata" in want):
        return f"that is {returned(got)}"
    return ""


def value_problem(got: Any, want: Any) -> str:
    """How `got` differs in type or form from a value like `want`, in words; '' when it is of the same kind.

    Names the usual causes: bytes turned into text with str() ("b'...'"), a Decimal turned into text, a
    number written as text, a whole boto3 response."""
    form = _form_problem(got, want)
    if form:
        return form
    if isinstance(got, str) and isinstance(want, (int, float)) and not isinstance(want, bool) and _NUMBER_TEXT.fullmatch(got):
        return "that is a number written as a string: return the number itself"
    if _kind(got) != _kind(want):
        return f"that is {_kind(got)}, expected {_kind(want)} such as {short(want, 60)}"
    return ""


def first_item_difference(got: Any, want: dict[str, Any]) -> str:
    """The first way `got` differs from item `want`, in words; '' when equal."""
    if not isinstance(got, dict):
        return f"got {returned(got)} instead of an item (a dict)"
    if "ResponseMetadata" in got:
        return f"got {returned(got)}"
    for name, value in want.items():
        if name not in got:
            return f"attribute {name!r} is missing"
        if got[name] != value:
            if is_typed_value(got[name]):
                return f"attribute {name!r} is {short(got[name])}, expected {short(value)}: {TYPED_FORM_ADVICE}"
            form = _form_problem(got[name], value)
            if form:
                return f"attribute {name!r} is {short(got[name])}, expected {short(value)}: {form}"
            if _kind(got[name]) != _kind(value):
                return (f"attribute {name!r} is {short(got[name])} ({_kind(got[name])}), "
                        f"expected {short(value)} ({_kind(value)})")
            return f"attribute {name!r} is {short(got[name])}, expected {short(value)}"
    extra = sorted(set(got) - set(want))
    if extra:
        return f"it has attributes that were never written: {', '.join(map(repr, extra))}"
    return ""


def records_problem(got: Any, example: dict[str, Any], who: str) -> str:
    """Why `got` is not a list of records shaped like `example` (its keys, the same kinds of value), in
    words; '' when it is one. Checked before any comparison of order or content, so that a wrong type is
    named as such and not reported as records out of order."""
    if not isinstance(got, list):
        return f"{who} returned {returned(got)}; expected a list of records such as {short(example)}"
    for record in got:
        if not isinstance(record, dict):
            return f"{who} returned a list holding {short(record, 60)}; every element must be a record such as {short(example)}"
        inner = next((_PAGE_KEYS[k] for k in record if k in _PAGE_KEYS and k not in example), None)
        if "ResponseMetadata" in record or inner:
            keys = ", ".join(k for k in record if k != "ResponseMetadata")
            return (f"{who} returned a list of whole responses (keys {keys}) instead of the records in them: take "
                    f"the records out of each response's {inner or 'result'!r} and return one list of records such "
                    f"as {short(example)}")
        missing = [k for k in example if k not in record]
        if missing:
            return (f"{who} returned records without {', '.join(map(repr, missing))}, such as {short(record, 100)}; "
                    f"every record is like {short(example)}")
    for record in got:
        for key, want in example.items():
            problem = value_problem(record[key], want)
            if problem:
                return f"{who} returned a record whose {key!r} is {short(record[key], 60)}: {problem}"
    return ""


def items_problem(got: Any, call: str) -> str:
    """Why `got` is not a list of plain items, in words; '' when it is one."""
    if not isinstance(got, list):
        return f"{call} returned {returned(got)}; expected a list of items"
    odd = next((g for g in got if not isinstance(g, dict)), None)
    if odd is not None:
        return f"{call} returned a list holding {short(odd)}; every element must be an item (a dict)"
    if any(is_typed_item(g) for g in got):
        return f"{call} returned items such as {short(got[0], 70)}: {TYPED_FORM_ADVICE}"
    return ""


def strings_problem(got: Any, example: str, who: str) -> str:
    """Why `got` is not a list of strings like `example` (S3 keys, prefixes), in words; '' when it is one."""
    if not isinstance(got, list):
        return f"{who} returned {returned(got)}; expected a list of strings such as {example!r}"
    for value in got:
        if isinstance(value, str):
            problem = value_problem(value, example)
            if problem:
                return f"{who} returned {short(value, 60)}: {problem}"
            continue
        field = next((k for k in ("Key", "Prefix") if k in value), None) if isinstance(value, dict) else None
        if field:
            return (f"{who} returned the entries of a listing as boto3 gives them, such as {short(value, 80)}: take "
                    f"each one's {field!r} and return the strings")
        return f"{who} returned a list holding {short(value, 60)} ({_kind(value)}); expected strings such as {example!r}"
    return ""


def tables_in_other_regions(client_in: Callable[[str], Any], table: str, home: str) -> list[str]:
    """The regions other than `home` where a table of this name exists (a client made with region_name)."""
    import boto3

    regions = boto3.session.Session().get_available_regions("dynamodb")
    return [r for r in regions if r != home and table in table_names(client_in(r))]


# -- S3 ----------------------------------------------------------------------------------------------

def all_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under a prefix, across every page of ListObjectsV2."""
    return [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]


def common_prefixes(s3: Any, bucket: str, prefix: str = "", delimiter: str = "/") -> list[str]:
    """The 'folders' directly under a prefix, across every page."""
    return [
        p["Prefix"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter=delimiter)
        for p in page.get("CommonPrefixes", [])
    ]


def folders(keys: Iterable[str], prefix: str = "", delimiter: str = "/") -> list[str]:
    """The 'folders' directly under a prefix of these keys, as ListObjectsV2 with Delimiter lists their
    CommonPrefixes (in S3's order: UTF-8 byte order, which is str order for ASCII keys)."""
    found = {prefix + rest.split(delimiter, 1)[0] + delimiter
             for key in keys if key.startswith(prefix) and delimiter in (rest := key[len(prefix):])}
    return sorted(found, key=lambda p: p.encode("utf-8"))


# -- SQS ---------------------------------------------------------------------------------------------

def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(messages waiting, messages in flight: received but neither deleted nor visible again)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain(sqs: Any, queue_url: str, delete: bool = True) -> list[dict[str, Any]]:
    """Receive until the queue answers empty; delete each message unless told not to."""
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return received
        received.extend(batch)
        if delete:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )


# -- Kinesis -----------------------------------------------------------------------------------------

def shard_ids(kinesis: Any, stream: str) -> list[str]:
    """Every shard of a stream, following pagination."""
    return [s["ShardId"] for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream)
            for s in page["Shards"]]


def shard_records(kinesis: Any, stream: str, shard_id: str) -> list[dict[str, Any]]:
    """Every record of one shard from TRIM_HORIZON, as {shard_id, sequence_number, key, data}."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator)
        records.extend(
            {"shard_id": shard_id, "sequence_number": r["SequenceNumber"], "key": r["PartitionKey"],
             "data": r["Data"].decode()}
            for r in page["Records"]
        )
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            break
        iterator = page.get("NextShardIterator")
    return records


# -- errors of how a client was made ----------------------------------------------------------------

_CLIENT_MISTAKES = (
    ("Could not connect to the endpoint URL",
     "Your code sent its request to an address of its own, not to the grader's mock AWS. Create clients "
     "with the service name alone, e.g. boto3.client(\"s3\"), without endpoint_url: the grader points boto3 at its mock through "
     "the AWS_ENDPOINT_URL environment variable."),
    ("ResourceNotFoundException",
     "The grader made this resource in region us-east-1, the region your environment sets. If you passed "
     "region_name= (or endpoint_url=) to boto3.client or boto3.resource, remove it."),
    ("AWS.SimpleQueueService.NonExistentQueue",
     "The grader made this queue in region us-east-1, the region your environment sets. If you passed "
     "region_name= (or endpoint_url=) to boto3.client or boto3.resource, remove it."),
)


_REQUEST_MISTAKES = (
    ("Attribute name is a reserved keyword",
     "DynamoDB refused an expression that names an attribute by a reserved word (such as Name or Status). Put a "
     "placeholder in the expression and give the name separately: FilterExpression=\"#a = :v\" with "
     "ExpressionAttributeNames={\"#a\": attribute}; boto3.dynamodb.conditions.Attr(attribute).eq(value) does it "
     "for you."),
    ("Max attempts exceeded",
     "A boto3 waiter gave up: what it waited for never came. On the grader's mock AWS a resource is ready the first "
     "time it is described, so the waiter was waiting for something your code did not create, or created under "
     "another name: look at the create call before the wait."),
)


def explain_client_error(message: str) -> str:
    """A sentence for an error a learner's client settings (endpoint, region) cause; '' if none applies."""
    return next((advice for marker, advice in _CLIENT_MISTAKES if marker in message), "")


def learner_traceback(message: str) -> str:
    """The traceback part of a SubmissionError message: the learner's frames without the repeated error."""
    lines = message.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


_WAITERS = {
    "table": 'client.get_waiter("table_exists").wait(TableName=name), or table.wait_until_exists() on a '
             "boto3.resource Table",
    "stream": 'client.get_waiter("stream_exists").wait(StreamName=name)',
}


def explain_creating(names: Iterable[str], kind: str) -> str:
    """Why a resource the learner created was refused: it was still CREATING."""
    shown = ", ".join(repr(n) for n in names)
    return (f"Your code used {kind} {shown} while it was still CREATING. AWS creates a {kind} in the background: "
            f"the create call returns at once, and reads and writes fail until the {kind} is ACTIVE. Wait for it "
            f"after creating it: {_WAITERS.get(kind, 'poll its status until it is ACTIVE')}.")


def explain_long_poll(waits: Iterable[int], message: str) -> str:
    """Why a call timed out while SQS was waiting for messages (long polling)."""
    seconds = max(waits)
    head = message.split(" and was stopped.", 1)[0].strip()
    return (f"{head} while ReceiveMessage was waiting for messages: with WaitTimeSeconds={seconds} SQS holds the "
            f"call open up to {seconds} s when no message is visible (long polling). That is not a loop that never "
            "ends, but each call here has a time limit: receive with WaitTimeSeconds=0, as the README asks.")


class ExplainedSubmission:
    """A submission proxy whose errors say their real cause first: a client made with its own endpoint or
    region, a resource used while CREATING, a call that timed out in a long poll. With `aws` (the
    fixture), what the endpoint saw is used too."""

    def __init__(self, proxy: Any, aws: Any = None) -> None:
        self._proxy = proxy
        self._aws = aws

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        function = getattr(self._proxy, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            from grader.sandbox import SubmissionError, SubmissionTimeout

            try:
                return function(*args, **kwargs)
            except SubmissionTimeout as exc:
                waits = self._aws.long_polls() if self._aws is not None else []
                if not waits:
                    raise
                raise type(exc)(explain_long_poll(waits, str(exc)), exc.error_type) from None
            except SubmissionError as exc:
                advice = self._advice(str(exc))
                if not advice:
                    raise
                message = str(exc)
                shown = "\n".join(part for part in (message.splitlines()[0], learner_traceback(message)) if part)
                raise type(exc)(f"{advice}\n\n{shown}", exc.error_type) from None

        return call

    def _advice(self, message: str) -> str:
        refused = self._aws.refused_while_creating() if self._aws is not None else []
        if refused and ("ResourceNotFoundException" in message or "ResourceInUseException" in message):
            kind = "stream" if "Kinesis" in message or "Stream " in message else "table"
            return explain_creating(refused, kind)
        return next((advice for marker, advice in _REQUEST_MISTAKES if marker in message), "") or \
            explain_client_error(message)


# -- words -------------------------------------------------------------------------------------------

def returned(value: Any, limit: int = 160) -> str:
    """What a learner's function returned, in words: a whole boto3 response is named as such."""
    if isinstance(value, dict) and "ResponseMetadata" in value:
        keys = [k for k in value if k != "ResponseMetadata"]
        example = f"e.g. response[{keys[0]!r}]" if keys else "not the response"
        return (f"the whole boto3 response (keys {', '.join(keys + ['ResponseMetadata'])}) instead of "
                f"what the function must return: take that out of the response, {example}")
    return short(value, limit)


def short(value: Any, limit: int = 160) -> str:
    """A value as JSON text, cut to `limit` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
