"""Hidden tests of queue_vs_stream: queues and streams are set up and inspected through the grader's
own clients. No test sleeps: a received message is made visible again with ChangeMessageVisibility."""
from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from fixtures import aws_data
from grader import SubmissionError, SubmissionTimeout
from grader.checks import aws as checks
from grader.services.aws import UnsupportedOnBackend

SEED = 13
STREAM = "clicks"
RECORD_KEYS = ("shard_id", "sequence_number", "key", "data")


@pytest.fixture
def submission(submission, aws):
    """The learner's module; an error whose cause the endpoint saw (an endpoint or region of their own, a
    stream used while CREATING, a call that timed out in a long poll) says so."""
    return checks.ExplainedSubmission(submission, aws)


def make_queue(aws, name: str = "jobs") -> str:
    return aws.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def make_fifo(aws, name: str = "steps.fifo") -> str:
    return aws.client("sqs").create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    )["QueueUrl"]


def send(aws, url: str, bodies: list[str]) -> None:
    sqs = aws.client("sqs")
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + 10])
        ])


def make_stream(aws, shards: int = 4) -> list[dict]:
    """A stream with several shards holding seeded click events; returns the events with their shard."""
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
    events = aws_data.click_events(SEED, 120, users=30)
    response = kinesis.put_records(
        StreamName=STREAM, Records=[{"Data": e["data"].encode(), "PartitionKey": e["key"]} for e in events]
    )
    assert not response.get("FailedRecordCount"), f"exercise defect: seeding the stream failed: {response}"
    placed = [{**e, "shard_id": r["ShardId"], "sequence_number": r["SequenceNumber"]}
              for e, r in zip(events, response["Records"])]
    # the truth is the order the stream gave the records: by sequence number within each shard
    placed.sort(key=lambda p: (p["shard_id"], int(p["sequence_number"])))
    empty = set(checks.shard_ids(kinesis, STREAM)) - {p["shard_id"] for p in placed}
    assert not empty, f"exercise defect: the seeded events leave shards {sorted(empty)} empty"
    return placed


def assert_in_flight_none(aws, url: str, who: str) -> None:
    waiting, in_flight = checks.queue_counts(aws.client("sqs"), url)
    assert in_flight == 0, (
        f"{in_flight} messages are still in flight after {who}: received but never deleted. A received message "
        "is only hidden for the visibility timeout; unless you delete it, it comes back and is processed again."
    )


# -- queues -----------------------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.hint("A FIFO queue needs Attributes={'FifoQueue': 'true'} and a name ending in .fifo.")
def test_create_standard_and_fifo_queues(submission, aws):
    """create_standard_queue and create_fifo_queue create the two kinds of queue"""
    sqs = aws.client("sqs")
    standard = submission.create_standard_queue("jobs")
    fifo = submission.create_fifo_queue("steps.fifo")
    urls = sqs.list_queues().get("QueueUrls", [])
    for name, url in (("jobs", standard), ("steps.fifo", fifo)):
        assert any(u.endswith("/" + name) for u in urls), (
            f"no queue named {name!r} exists in {aws.region} after your function ran (queues there: "
            f"{[u.rsplit('/', 1)[-1] for u in urls]}). If you passed region_name= or endpoint_url= to "
            "boto3.client, remove it: the grader sets both for you."
        )
        assert isinstance(url, str) and url.endswith("/" + name), (
            f"the function returned {checks.returned(url)}; return the queue's URL (create_queue's QueueUrl)"
        )
    attributes = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert attributes.get("FifoQueue") == "true", "the queue 'steps.fifo' is not a FIFO queue: set FifoQueue to 'true'"
    assert attributes.get("ContentBasedDeduplication", "false") == "false", (
        "the queue 'steps.fifo' deduplicates by content: set ContentBasedDeduplication to 'false', as the README "
        "asks. Its senders give every message a MessageDeduplicationId of its own; with content-based "
        "deduplication, a message sent without one is dropped when an earlier message had the same body"
    )
    standard_attributes = sqs.get_queue_attributes(QueueUrl=standard, AttributeNames=["All"])["Attributes"]
    assert standard_attributes.get("FifoQueue", "false") == "false", "the queue 'jobs' must be a standard queue"


@pytest.mark.points(2)
@pytest.mark.hint("SendMessageBatch takes at most 10 entries per call: send the bodies in chunks of 10.")
def test_send_batch_sends_every_body_once(submission, aws):
    """send_batch sends 37 messages in batches SQS accepts"""
    url = make_queue(aws)
    bodies = aws_data.messages(SEED, 37)
    try:
        ids = submission.send_batch(url, bodies)
    except SubmissionError as exc:
        if "TooManyEntriesInBatchRequest" in str(exc) or "Maximum number of entries" in str(exc):
            pytest.fail(
                f"SQS refused your batch: SendMessageBatch takes at most 10 messages per call, and you were "
                f"asked to send {len(bodies)}. Split the list into chunks of 10.\n\n"
                f"{checks.learner_traceback(str(exc))}"
            )
        raise
    received = checks.drain(aws.client("sqs"), url)
    counts = Counter(m["Body"] for m in received)
    missing = [b for b in bodies if counts[b] == 0]
    doubled = [b for b, n in counts.items() if n > 1]
    assert not missing, f"{len(missing)} of {len(bodies)} messages never reached the queue, e.g. {missing[:2]}"
    assert not doubled, f"some messages were sent more than once, e.g. {doubled[:2]}"
    assert len(counts) == len(bodies), f"the queue holds {len(counts)} distinct messages, expected {len(bodies)}"
    by_body = {m["Body"]: m["MessageId"] for m in received}
    assert ids == [by_body[b] for b in bodies], "send_batch must return the MessageId of every body, in the order of the bodies"


@pytest.mark.points(3)
@pytest.mark.hint("A received message is hidden, not gone: only DeleteMessage with its receipt handle removes it.")
def test_received_comes_back_deleted_never_does(submission, aws):
    """a received message comes back unless deleted; a deleted one never does"""
    sqs = aws.client("sqs")
    url = make_queue(aws)
    bodies = aws_data.messages(SEED + 1, 6)
    send(aws, url, bodies)
    got = submission.receive(url, 6)
    assert isinstance(got, list) and all(isinstance(m, dict) and {"body", "receipt_handle"} <= set(m) for m in got), (
        (f"receive returned messages as boto3 gives them (keys {sorted(got[0])}); expected a list of "
         "{'body': ..., 'receipt_handle': ...}: take each one's Body and ReceiptHandle"
         if isinstance(got, list) and got and isinstance(got[0], dict) and "ReceiptHandle" in got[0] else
         f"receive returned {checks.returned(got)}; expected a list of {{'body': ..., 'receipt_handle': ...}}")
    )
    assert sorted(m["body"] for m in got) == sorted(bodies), (
        f"receive(url, 6) returned {len(got)} of the 6 waiting messages; pass MaxNumberOfMessages"
    )
    waiting, in_flight = checks.queue_counts(sqs, url)
    assert (waiting, in_flight) == (0, 6), (
        f"after receive, {in_flight} messages are in flight and {waiting} waiting; receive must not delete anything"
    )
    deleted, kept = got[:2], got[2:]
    submission.delete(url, [m["receipt_handle"] for m in deleted])
    # the visibility timeout runs out now instead of in 30 seconds: the kept messages become visible again
    for message in kept:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["receipt_handle"], VisibilityTimeout=0)
    back = sorted(m["Body"] for m in checks.drain(sqs, url))
    returned = sorted(set(back) & {m["body"] for m in deleted})
    assert not returned, f"messages you deleted came back: {returned}; delete each by its ReceiptHandle"
    assert back == sorted(m["body"] for m in kept), (
        f"after the visibility timeout the queue gave back {back}; expected the {len(kept)} messages not deleted"
    )
    assert checks.queue_counts(sqs, url) == (0, 0)


@pytest.mark.points(3)
@pytest.mark.hint("consume must delete what it received; otherwise another consumer gets it again later.")
def test_two_queue_consumers_share_the_messages(submission, aws):
    """two consumers of one queue together see each message exactly once"""
    sqs = aws.client("sqs")
    url = make_queue(aws)
    bodies = aws_data.messages(SEED + 2, 30)
    send(aws, url, bodies)
    seen: dict[str, list[str]] = {"A": [], "B": []}
    for _ in range(40):
        turn = [submission.consume(url, 4) for _ in ("A", "B")]
        for name, got in zip(("A", "B"), turn):
            assert isinstance(got, list) and all(isinstance(b, str) for b in got), (
                "consume returned " + (
                    f"a list holding {type(odd).__name__} values such as one with keys {sorted(odd)}"
                    if isinstance(got, list) and isinstance(odd := next(b for b in got if not isinstance(b, str)), dict)
                    else checks.returned(got)
                ) + "; expected a list of message bodies (strings)"
            )
            assert len(got) <= 4, f"consume(url, 4) returned {len(got)} messages; at most 4 were asked for"
            seen[name].extend(got)
        if not any(turn):
            break
    assert_in_flight_none(aws, url, "consume")
    both = seen["A"] + seen["B"]
    doubled = sorted(b for b, n in Counter(both).items() if n > 1)
    assert not doubled, f"some messages were consumed twice: {doubled[:2]}"
    assert sorted(both) == sorted(bodies), (
        f"the two consumers got {len(both)} of {len(bodies)} messages; each message must reach exactly one consumer"
    )
    assert seen["A"] and seen["B"], "one consumer got every message: consume must take at most max_messages per call"


@pytest.mark.points(3)
@pytest.mark.hint("Send with MessageGroupId and MessageDeduplicationId; a repeated deduplication id is dropped by SQS.")
def test_fifo_keeps_group_order_and_drops_duplicates(submission, aws):
    """send_fifo: order within each message group, a repeated send delivered once, and a new message with
    the same body as an earlier one delivered too"""
    url = make_fifo(aws)
    messages = aws_data.grouped_messages(SEED, groups=3, count=24)
    repeated = messages[5]
    again = {**messages[2], "dedup_id": messages[2]["dedup_id"] + "-again"}  # the same body, a new message
    delivered = [*messages[:8], again, *messages[8:]]
    submission.send_fifo(url, [*messages[:8], repeated, again, *messages[8:]])
    received = checks.drain(aws.client("sqs"), url)
    bodies = Counter(m["Body"] for m in received)
    twice = sorted(b for b, n in bodies.items() if n > 1 and b != again["body"])
    assert not twice, (
        f"{twice} arrived twice: sending again with the same MessageDeduplicationId must not add a second copy"
    )
    assert bodies[again["body"]] == 2, (
        f"{again['body']!r} was sent twice with two different MessageDeduplicationIds and arrived "
        f"{bodies[again['body']]} time(s): a new deduplication id is a new message, even with the same body. "
        "Deduplicate by the id the message brings (MessageDeduplicationId=message['dedup_id']), not its body."
    )
    groups: dict[str, list[str]] = defaultdict(list)
    for m in received:
        groups[m["Attributes"].get("MessageGroupId", "?")].append(m["Body"])
    want: dict[str, list[str]] = defaultdict(list)
    for m in delivered:
        want[m["group"]].append(m["body"])
    assert set(groups) == set(want), (
        f"messages arrived in groups {sorted(groups)}; expected {sorted(want)} (pass MessageGroupId=message['group'])"
    )
    for group, order in want.items():
        assert groups[group] == order, f"group {group} delivered {groups[group]}, expected the send order {order}"


# -- streams ----------------------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.hint("create_stream(StreamName=..., ShardCount=...), then put_record with PartitionKey=event['key'].")
def test_create_stream_and_put_events(submission, aws):
    """create_stream makes the shards; put_events places each event by its partition key"""
    kinesis = aws.client("kinesis")
    if aws.backend == "moto":  # as on AWS: CREATING until the learner's code describes (waits for) it
        aws.simulate_creating()
    submission.create_stream(STREAM, 3)
    assert STREAM not in aws.still_creating(), (
        f"create_stream returned while stream {STREAM!r} was still CREATING. Kinesis creates a stream in the "
        "background: create_stream returns at once, and writes fail until the stream is ACTIVE. Wait before "
        'returning: client.get_waiter("stream_exists").wait(StreamName=name).'
    )
    shards = checks.shard_ids(kinesis, STREAM)
    assert len(shards) == 3, f"the stream has {len(shards)} shards, expected 3"
    events = aws_data.click_events(SEED + 1, 40, users=6)
    placed = submission.put_events(STREAM, events)
    if aws.backend == "moto":  # only the embedded server counts calls
        batches = aws.calls("kinesis", "PutRecords")
        assert not batches, (
            f"put_events made {batches} PutRecords call(s). PutRecords does not guarantee the order of records (a "
            "record that fails does not stop the ones after it), so the README asks for put_record, one event "
            "at a time, in order"
        )
    stored = [r for s in shards for r in checks.shard_records(kinesis, STREAM, s)]
    assert len(stored) == len(events), f"the stream holds {len(stored)} records, expected {len(events)}"
    assert sorted((r["key"], r["data"]) for r in stored) == sorted((e["key"], e["data"]) for e in events), (
        "the stream's records differ from the events: Data is the event's 'data', PartitionKey its 'key'"
    )
    where = {(r["shard_id"], r["sequence_number"]) for r in stored}
    assert isinstance(placed, list) and len(placed) == len(events), (
        f"put_events returned {checks.returned(placed)}; expected one {{'shard_id', 'sequence_number'}} per event"
    )
    example = {"shard_id": stored[0]["shard_id"], "sequence_number": stored[0]["sequence_number"]}
    problem = checks.records_problem(placed, example, "put_events")
    assert not problem, problem
    assert all((p.get("shard_id"), p.get("sequence_number")) in where for p in placed), (
        "put_events must return each record's ShardId and SequenceNumber as put_record answered them"
    )


def _check_full_read(got: object, placed: list[dict], who: str) -> None:
    """`got` holds every record once, each shard in sequence order, each key in put order."""
    assert isinstance(got, list), f"{who} returned {checks.returned(got)}, expected a list of records"
    if placed:  # a wrong type or shape is named before any comparison of order or content
        problem = checks.records_problem(got, {k: placed[0][k] for k in RECORD_KEYS}, who)
        assert not problem, problem
    shards = sorted({p["shard_id"] for p in placed})
    read_shards = sorted({r.get("shard_id") for r in got if isinstance(r, dict)})
    if read_shards and len(read_shards) < len(shards):
        pytest.fail(
            f"{who} read shard(s) {read_shards} only; the stream has {len(shards)} shards {shards}. "
            "List the shards and read every one."
        )
    assert got or not placed, (
        f"{who} returned no records, but the stream holds {len(placed)} in {len(shards)} shards. Read every shard "
        "(ListShards), and remember that GetRecords can return an empty page while the shard still holds records "
        "(MillisBehindLatest > 0): keep following NextShardIterator until a page is empty and MillisBehindLatest is 0."
    )
    keys = Counter((r.get("shard_id"), r.get("sequence_number")) for r in got)
    doubled = [k for k, n in keys.items() if n > 1]
    assert not doubled, f"{who} returned some records twice, e.g. {doubled[:2]}"
    missing = len(placed) - len(keys)
    assert missing <= 0, (
        f"{who} returned {len(keys)} of {len(placed)} records. Follow NextShardIterator until caught up: an empty "
        "page is not the end while MillisBehindLatest > 0."
    )
    order = [r["shard_id"] for r in got]
    runs = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
    assert len(runs) == len(set(runs)), (
        f"{who} interleaves records of different shards. Sequence numbers order records within one shard only; "
        "there is no global order across shards. Return each shard's records together, in its own order."
    )
    for shard in shards:
        want = [p["sequence_number"] for p in placed if p["shard_id"] == shard]
        mine = [r["sequence_number"] for r in got if r["shard_id"] == shard]
        assert mine == want, f"{who}: the records of {shard} are not in sequence order"
    per_key: dict[str, list[str]] = defaultdict(list)
    for r in got:
        per_key[r["key"]].append(r["data"])
    for key, data in per_key.items():
        assert data == [p["data"] for p in placed if p["key"] == key], f"{who}: records of key {key} are out of order"


@pytest.mark.points(3)
@pytest.mark.hint("Read every shard from TRIM_HORIZON; an empty page with MillisBehindLatest > 0 is not the end.")
def test_read_all_reads_every_shard_to_the_end(submission, aws):
    """read_all reads every record of every shard, past empty pages, in order per shard"""
    placed = make_stream(aws, shards=4)
    try:
        aws.simulate_kinesis_lag()
    except UnsupportedOnBackend:
        pass  # an external endpoint: its own paging decides
    try:
        got = submission.read_all(STREAM)
    except SubmissionTimeout:
        pytest.fail(
            "read_all never finished. An open shard always answers with a NextShardIterator: stop when a page is "
            "empty and MillisBehindLatest is 0 (caught up)."
        )
    _check_full_read(got, placed, "read_all")


@pytest.mark.points(2)
@pytest.mark.hint("Every consumer of a stream reads the whole log: reading does not remove anything.")
def test_two_stream_consumers_each_see_every_record(submission, aws):
    """two consumers of one stream each see every record, in order per partition key"""
    placed = make_stream(aws, shards=3)
    first = submission.read_all(STREAM)
    second = submission.read_all(STREAM)
    _check_full_read(first, placed, "the first consumer's read_all")
    _check_full_read(second, placed, "the second consumer's read_all")


@pytest.mark.points(2)
@pytest.mark.hint("ShardIteratorType LATEST starts after the last record; AT_SEQUENCE_NUMBER replays from a record on.")
def test_read_only_what_arrives_after_a_point(submission, aws):
    """LATEST iterators see only new records; AT_SEQUENCE_NUMBER replays from an offset"""
    kinesis = aws.client("kinesis")
    placed = make_stream(aws, shards=2)
    iterators = submission.latest_iterators(STREAM)
    assert isinstance(iterators, dict) and sorted(iterators) == sorted({p["shard_id"] for p in placed}), (
        f"latest_iterators returned {checks.returned(iterators)}; expected {{shard_id: iterator}} for every shard"
    )
    fresh = aws_data.click_events(SEED + 7, 15, users=4)
    new = []
    for event in fresh:
        response = kinesis.put_record(StreamName=STREAM, Data=event["data"].encode(), PartitionKey=event["key"])
        new.append({**event, "shard_id": response["ShardId"], "sequence_number": response["SequenceNumber"]})
    got = submission.read_new(iterators)
    old = {p["data"] for p in placed} & {r.get("data") for r in got if isinstance(r, dict)}
    assert not old, (
        f"read_new returned {len(old)} records written before latest_iterators was called; "
        "use ShardIteratorType='LATEST'"
    )
    _check_full_read(got, new, "read_new")
    shard = placed[0]["shard_id"]
    in_shard = [p for p in placed if p["shard_id"] == shard]
    start = in_shard[len(in_shard) // 2]
    want = [p["sequence_number"] for p in in_shard[len(in_shard) // 2:]] + [
        n["sequence_number"] for n in new if n["shard_id"] == shard]
    replay = submission.replay_from(STREAM, shard, start["sequence_number"])
    problem = checks.records_problem(replay, {k: start[k] for k in RECORD_KEYS}, "replay_from")
    assert not problem, problem
    mine = [r.get("sequence_number") for r in replay] if isinstance(replay, list) else replay
    assert mine == want, (
        f"replay_from({shard!r}, {start['sequence_number']!r}) returned {len(mine) if isinstance(mine, list) else mine} "
        f"records; expected the {len(want)} records from that sequence number (included) to the end of the shard"
    )
