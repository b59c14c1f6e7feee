"""Hidden tests of s3_keys: buckets are seeded with more than 1,000 objects and read back through
the grader's own client."""
from __future__ import annotations

import functools
import json
import types
from typing import Mapping

import pytest

from fixtures import aws_data
from grader.checks import aws as checks

SEED = 9
BUCKET = "exports"


def expected_key(prefix: str, date: str, part: int) -> str:
    """The key the README describes, built independently of any learner code."""
    return prefix + "-" + date + "/part-" + str(part).zfill(4) + ".json"


SUMMARY = "output-summary.json"  # a key, not a folder, that the greatest key under "output-" is


def seed_bucket(aws, days: int = 120) -> list[str]:
    """A bucket of daily export partitions (more than 1,000 objects) plus unrelated objects that sort
    before and after them, one at the top level, and the exports' summary: a file beside their folders,
    under their prefix, that sorts after all of them."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    objects = seed_objects(days)
    aws.put_objects(BUCKET, objects)
    return sorted(objects)


@functools.lru_cache(maxsize=2)
def seed_objects(days: int) -> Mapping[str, bytes]:
    """The objects of seed_bucket: the same for every grade (seeded), so made once per process (read-only)."""
    objects: dict[str, bytes] = {}
    for partition in aws_data.export_partitions(SEED, days):
        for part in range(1, partition["parts"] + 1):
            body = aws_data.export_record(SEED, partition["date"], part)
            objects[expected_key("output", partition["date"], part)] = json.dumps(body).encode()
    for month in (1, 2, 3):
        for n in range(1, 6):
            objects[f"logs/2024/{month:02d}/app-{n}.log"] = b"started\n"
    for n in range(1, 4):
        objects[f"tmp/upload-{n}.part"] = b"partial"
    objects["manifest.json"] = json.dumps({"days": days}).encode()
    objects[SUMMARY] = json.dumps({"partitions": days}).encode()
    return types.MappingProxyType(objects)


@pytest.mark.points(2)
@pytest.mark.hint("Pad the part number with zeros to four digits: f'{part:04d}'.")
def test_partition_key_is_zero_padded_and_sortable(submission):
    """partition_key builds zero-padded keys that sort in (date, part) order"""
    cases = [("output", "2024-03-01", 1), ("output", "2024-03-01", 2), ("output", "2024-03-01", 10),
             ("output", "2024-03-01", 999), ("output", "2024-03-02", 1), ("clicks", "2023-12-31", 1234)]
    got = {case: submission.partition_key(*case) for case in cases}
    for case, key in got.items():
        want = expected_key(*case)
        assert key == want, f"partition_key{case} returned {checks.short(key)}, expected {want!r}"
    output = [c for c in cases if c[0] == "output"]
    by_key = sorted(output, key=lambda c: got[c])
    assert by_key == sorted(output, key=lambda c: (c[1], c[2])), (
        f"sorted as text, your keys come in the order {[got[c] for c in by_key]}: part 10 must sort after part 2"
    )


@pytest.mark.points(3)
@pytest.mark.hint("put_object takes ContentType='application/json' and Metadata={...}; the body is json.dumps(record).")
def test_upload_part_sets_content_type_and_metadata(submission, aws):
    """upload_part stores the JSON body with its content type and user metadata"""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    record = aws_data.export_record(SEED, "2024-03-05", 3)
    metadata = {"source": "rentio", "rows": str(record["rows"])}
    key = expected_key("output", "2024-03-05", 3)
    submission.upload_part(BUCKET, key, record, metadata)
    listed = checks.all_keys(s3, BUCKET)
    assert listed == [key], f"after upload_part the bucket holds {listed}, expected exactly [{key!r}]"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "application/json", (
        f"the object's content type is {head['ContentType']!r}, expected 'application/json' (pass ContentType)"
    )
    assert head["Metadata"] == metadata, f"the object's user metadata is {head['Metadata']}, expected {metadata}"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    try:
        stored = json.loads(body)
    except ValueError:
        pytest.fail(f"the object's body is not JSON text: {body[:80]!r}")
    assert stored == record, f"the object's body holds {checks.short(stored)}, expected {checks.short(record)}"


@pytest.mark.points(3)
@pytest.mark.hint("ListObjectsV2 returns at most 1,000 keys; repeat with ContinuationToken, or use a paginator.")
def test_list_keys_follows_pagination_past_1000(submission, aws):
    """list_keys returns every key under a prefix of more than 1,000 objects"""
    # the keys seeded, in S3's order (UTF-8 byte order; these keys are ASCII), without listing them back
    want = [key for key in seed_bucket(aws) if key.startswith("output-")]
    assert len(want) > 1000
    got = submission.list_keys(BUCKET, "output-")
    problem = checks.strings_problem(got, want[0], f"list_keys({BUCKET!r}, 'output-')")
    assert not problem, problem
    outside = [k for k in got if not str(k).startswith("output-")]
    assert not outside, (
        f"list_keys returned keys outside the prefix 'output-', e.g. {outside[:3]}: pass Prefix on every "
        "call, also the ones with a ContinuationToken"
    )
    if len(got) == 1000 or (len(got) < len(want) and got == want[: len(got)]):
        pytest.fail(
            f"list_keys returned the first {len(got)} keys of {len(want)}: one ListObjectsV2 call returns at "
            "most 1,000. While IsTruncated is true, call again with ContinuationToken=NextContinuationToken."
        )
    assert got == want, f"list_keys returned {len(got)} keys, expected the {len(want)} keys under 'output-' in S3's order"


@pytest.mark.points(3)
@pytest.mark.hint("Delimiter='/' groups keys into CommonPrefixes: the 'folders' under a prefix.")
def test_list_folders_uses_a_delimiter(submission, aws):
    """list_folders returns the common prefixes under a prefix, at the top and one level down"""
    keys = seed_bucket(aws)
    # more than 1,000 folders under one prefix: the common prefixes come in pages too
    clients = {f"clients/c{n:04d}/profile.json": b"{}" for n in range(1, 1101)}
    aws.put_objects(BUCKET, clients)
    keys += list(clients)
    for prefix in ("", "logs/", "logs/2024/", "clients/"):
        want = checks.folders(keys, prefix)
        got = submission.list_folders(BUCKET, prefix)
        problem = checks.strings_problem(got, want[0], f"list_folders({BUCKET!r}, {prefix!r})")
        assert not problem, problem
        files = [p for p in got if not str(p).endswith("/")]
        assert not files, (
            f"list_folders({BUCKET!r}, {prefix!r}) returned keys of objects, e.g. {files[:2]}; "
            "a folder is a common prefix ending in '/'"
        )
        missing = [p for p in want if p not in got]
        extra = [p for p in got if p not in want]
        assert not missing and not extra, (
            f"list_folders({BUCKET!r}, {prefix!r}) returned {len(got)} folders; {len(want)} are expected"
            + (f". Missing: {len(missing)}, e.g. {checks.short(missing[:3])}" if missing else "")
            + (f". Not folders right under {prefix!r}: {checks.short(extra[:3])}" if extra else "")
            + (". With more than 1,000 keys a listing has several pages: list with Delimiter='/' and "
               "collect the CommonPrefixes of every page" if missing and not extra else "")
        )


@pytest.mark.points(2)
@pytest.mark.hint("head_object reads an object's metadata without downloading its body.")
def test_object_metadata_reads_the_head(submission, aws):
    """object_metadata returns content type, size and user metadata"""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    cases = {
        "output-2024-03-01/part-0001.json": ("application/json", {"source": "rentio"}),
        "logs/2024/03/app-1.log": ("text/plain", {"host": "web-2", "shift": "night"}),
    }
    for key, (content_type, metadata) in cases.items():
        body = json.dumps(aws_data.export_record(SEED, key, 1)).encode()
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type, Metadata=metadata)
        head = s3.head_object(Bucket=BUCKET, Key=key)
        want = {"content_type": head["ContentType"], "size": head["ContentLength"], "metadata": head["Metadata"]}
        got = submission.object_metadata(BUCKET, key)
        assert got == want, f"object_metadata({BUCKET!r}, {key!r}) returned {checks.short(got)}, expected {checks.short(want)}"
    if aws.backend == "moto":  # only the embedded server counts calls
        gets, heads = aws.calls("s3", "GetObject"), aws.calls("s3", "HeadObject")
        assert gets == 0 and heads >= len(cases), (
            f"object_metadata made {gets} GetObject and {heads} HeadObject calls for {len(cases)} objects: "
            "get_object downloads the whole body just to read its metadata. head_object returns the same "
            "ContentType, ContentLength and Metadata without the body."
        )


@pytest.mark.points(3)
@pytest.mark.hint("Sortable, zero-padded names make the latest partition the greatest common prefix.")
def test_latest_partition_across_every_page(submission, aws):
    """latest_partition finds the newest export among more than 1,000 objects"""
    keys = seed_bucket(aws)
    dates = [p["date"] for p in aws_data.export_partitions(SEED, 120)]
    want = f"output-{max(dates)}/"
    got = submission.latest_partition(BUCKET, "output-")
    if got == SUMMARY.split("/")[0] + "/" or got == SUMMARY:
        pytest.fail(
            f"latest_partition returned {got!r}, made from the greatest key under 'output-', which is the file "
            f"{SUMMARY!r}, not a folder; the newest export is {want!r}. Take the greatest folder: list with "
            "Delimiter='/' and compare the CommonPrefixes."
        )
    if got != want:
        first_page = [k for k in keys if k.startswith("output-")][:1000]
        if got == first_page[-1].split("/")[0] + "/":
            pytest.fail(
                f"latest_partition returned {got!r}, the latest among the first 1,000 keys only; the newest "
                f"is {want!r}. Follow the listing's pagination (or list folders with a delimiter)."
            )
        pytest.fail(f"latest_partition({BUCKET!r}, 'output-') returned {checks.short(got)}, expected {want!r}")
    none = submission.latest_partition(BUCKET, "nothing-here-")
    assert none is None, f"latest_partition with a prefix that matches nothing returned {checks.short(none)}; return None"
