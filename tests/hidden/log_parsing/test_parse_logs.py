"""Hidden tests of log_parsing: logs come from the seeded generator in fixtures/logs.py."""
from __future__ import annotations

import json
import random

import pytest

from grader import SubmissionError
from fixtures import logs

SEEDS = (11, 23, 47)
PROBE_SEEDS = (101, 211, 307, 401)  # wider data for `grade validate --mutants` (the probe fixture)
LEVEL_ORDER = ("debug", "info", "warn", "error", "fatal")


def first_difference(got: object, want: dict) -> str:
    """The first way `got` differs from the record `want`, in a learner's words."""
    if not isinstance(got, dict):
        return f"returned {json.dumps(got, ensure_ascii=False)}, expected a dict"
    for key, value in want.items():
        if key not in got:
            return f"the record has no key {key!r}"
        if got[key] != value or type(got[key]) is not type(value):
            return (f"{key!r} is {json.dumps(got[key], ensure_ascii=False)}, "
                    f"expected {json.dumps(value, ensure_ascii=False)}")
    extra = sorted(set(got) - set(want))
    if extra:
        return f"the record has keys that are not asked for: {', '.join(map(repr, extra))}"
    return ""


def show(value: object, limit: int = 160) -> str:
    """`value` as short JSON for a feedback message."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_mismatch(got: list, want: list) -> str:
    """Where two lists first differ, as 'position i: got X, expected Y'."""
    for index, (mine, theirs) in enumerate(zip(got, want)):
        if mine != theirs:
            return f"position {index} is {show(mine)}, expected {show(theirs)}"
    if len(got) > len(want):
        return f"{len(got) - len(want)} item(s) too many, from position {len(want)}: {show(got[len(want)])}"
    if len(got) < len(want):
        return f"{len(want) - len(got)} item(s) missing, from position {len(got)}: {show(want[len(got)])}"
    return ""


def check_lines(submission, sample: logs.LogSample, predicate) -> None:
    chosen = [(line, truth) for line, truth in zip(sample.lines, sample.truth) if predicate(line, truth)]
    # one round trip for all the lines; a line whose call failed raises when the loop reaches it
    results = submission.call_each("parse_line", [(line,) for line, _ in chosen])
    for (line, truth), got in zip(chosen, results):
        if truth is None:
            assert got is None, (f"parse_line({line!r}) returned a record, but the line is malformed; "
                                 f"it must return None")
        else:
            problem = first_difference(got, truth)
            assert not problem, f"parse_line({line!r}): {problem}"


@pytest.mark.points(3)
def test_parse_line_example(submission):
    """parse_line reads the README's example"""
    line = "01-01-2025:10.30 67945 success user added a product x to their cart"
    want = {"timestamp": "2025-01-01T10:30:00", "level": "info", "user_id": 67945,
            "status": "success", "action": "user added a product x to their cart"}
    problem = first_difference(submission.parse_line(line), want)
    assert not problem, f"parse_line({line!r}): {problem}"


@pytest.mark.points(3)
@pytest.mark.hint("The level is optional, written in square brackets in any letter case; "
                  "store it in lower case, and use \"info\" when the line has none.")
def test_parse_line_generated(submission, probe):
    """parse_line on generated lines, with and without levels"""
    for seed in SEEDS + (PROBE_SEEDS if probe else ()):
        check_lines(submission, logs.generate(seed, lines=60, malformed=0, blank=0),
                    lambda line, truth: True)


@pytest.mark.points(3)
@pytest.mark.hint("Check every field: a real date and time, a known level, digits for the user id, "
                  "success or fail, and a non-empty action.")
def test_parse_line_malformed(submission):
    """parse_line returns None for malformed lines"""
    rng = random.Random(5)
    cases = []
    for reason, maker in logs.MALFORMED:
        moment = logs.dt.datetime(2025, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                                  rng.randint(0, 59))
        cases.append((reason, maker("user added a product x to their cart", moment, rng.randint(10000, 99999))))
    results = submission.call_each("parse_line", [(line,) for _, line in cases])
    for (reason, line), got in zip(cases, results):
        assert got is None, (f"parse_line({line!r}) returned {show(got)}, expected None: the line is "
                             f"malformed ({reason})")


@pytest.mark.points(2)
def test_parse_line_whitespace(submission):
    """parse_line keeps the action's inner spaces and drops the line ending"""
    line = "07-03-2025:23.59   [Warn]  42  fail   retry  in  5 s \r\n"
    want = {"timestamp": "2025-03-07T23:59:00", "level": "warn", "user_id": 42, "status": "fail",
            "action": "retry  in  5 s"}
    problem = first_difference(submission.parse_line(line), want)
    assert not problem, f"parse_line({line!r}): {problem}"


def split_too_soon(sample, malformed: object) -> str:
    """Why a parse went wrong, when its malformed line numbers are those of a parse that split the text
    with str.splitlines(), which also ends a line at characters an action may hold; else ""."""
    seen: list[int] = []
    number, trap = 0, None
    for line, truth in zip(sample.lines, sample.truth):
        pieces = line.splitlines() or [line]
        if len(pieces) > 1 and trap is None:
            trap = (number + 1, next(c for c in line if len(f"a{c}b".splitlines()) > 1))
        for index, piece in enumerate(pieces):
            number += 1
            if (truth is None if index == 0 else piece.strip() != ""):
                seen.append(number)
    if trap is None or malformed != seen:
        return ""
    return (f" Line {trap[0]} holds {trap[1]!r} inside its action: str.splitlines() ends a line there too (at "
            "\\v, \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029 as well as \\n), but a log's lines are separated by "
            "\\n only: split the text with text.split('\\n').")


@pytest.mark.points(3)
@pytest.mark.hint("Number lines from 1 and count blank lines too; skip blank lines without "
                  "calling them malformed.",
                  "Lines are separated by \\n only: str.splitlines() also splits inside an action that holds "
                  "U+2028 or a form feed.")
def test_parse_log(submission, probe):
    """parse_log keeps records in file order and numbers malformed lines"""
    for seed in SEEDS + (PROBE_SEEDS if probe else ()):
        sample = logs.generate(seed, lines=150)
        got = submission.parse_log(sample.text)
        assert isinstance(got, dict) and set(got) >= {"records", "malformed"}, (
            f"parse_log must return a dict with keys 'records' and 'malformed', got {show(got, 200)}")
        malformed, records = got["malformed"], got["records"]
        assert isinstance(malformed, list) and isinstance(records, list), (
            "parse_log: 'records' and 'malformed' must both be lists")
        shifted = [n + 1 if isinstance(n, int) else n for n in malformed]
        assert shifted != sample.malformed, (
            "parse_log: every number in 'malformed' is one less than the malformed line's number: "
            "count lines from 1, not from 0")
        missing = [n for n in sample.malformed if n not in malformed]
        if missing:
            n = missing[0]
            pytest.fail(f"parse_log: line {n} {sample.lines[n - 1]!r} is malformed but is not in "
                        f"'malformed' (line numbers count from 1, blank lines included); "
                        f"{len(missing)} malformed line(s) missing in all.{split_too_soon(sample, malformed)}")
        extra = [n for n in malformed if n not in sample.malformed]
        if extra:
            n = extra[0]
            kind = ("is not a line of the log" if not isinstance(n, int) or not 1 <= n <= len(sample.lines)
                    else "is blank" if sample.truth[n - 1] == "" else "holds a record")
            line = f" {sample.lines[n - 1]!r}" if "line of" not in kind else ""
            pytest.fail(f"parse_log: 'malformed' lists line {show(n)}{line}, but that line {kind} "
                        f"(line numbers count from 1, blank lines included).{split_too_soon(sample, malformed)}")
        assert malformed == sample.malformed, (
            f"parse_log: 'malformed' holds the right lines but not once each in file order: "
            f"{first_mismatch(malformed, sample.malformed)}")
        numbers = [i + 1 for i, t in enumerate(sample.truth) if isinstance(t, dict)]
        for index, (mine, want) in enumerate(zip(records, sample.records)):
            problem = first_difference(mine, want)
            assert not problem, (f"parse_log: record {index} (line {numbers[index]}, in file order): "
                                 f"{problem}.{split_too_soon(sample, malformed)}")
        assert len(records) == len(sample.records), (
            f"parse_log returned {len(records)} records; the log holds {len(sample.records)}."
            f"{split_too_soon(sample, malformed)}")


@pytest.mark.points(2)
def test_parse_log_empty(submission):
    """parse_log on an empty log and on a log of blank lines"""
    for text in ("", "\n\n   \n\t\n"):
        got = submission.parse_log(text)
        assert got == {"records": [], "malformed": []}, (
            f"parse_log({text!r}) returned {json.dumps(got)}, expected {{\"records\": [], \"malformed\": []}}")


@pytest.mark.points(2)
@pytest.mark.hint("json.dumps(record, ensure_ascii=False) writes Unicode as itself.")
def test_to_json_lines(submission):
    """to_json_lines writes one JSON object per line, Unicode as itself"""
    records = logs.generate(3, lines=40, malformed=0, blank=0).records
    text = submission.to_json_lines(records)
    assert isinstance(text, str), "to_json_lines must return a string"
    assert text.endswith("\n"), "every line of JSON Lines ends with a newline, the last one too"
    lines = text.split("\n")[:-1]
    assert len(lines) == len(records), f"{len(lines)} lines for {len(records)} records"
    for line, record in zip(lines, records):
        try:
            parsed = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"this line is not JSON ({exc}): {line[:120]}") from None
        assert parsed == record, f"line {line[:120]} does not hold the record {record}"
        assert list(parsed) == ["timestamp", "level", "user_id", "status", "action"], (
            f"keys must come in the order timestamp, level, user_id, status, action: {line[:120]}")
        assert "\\u" not in line, f"write Unicode as itself, not as \\u escapes: {line[:120]}"
    assert submission.to_json_lines([]) == "", "to_json_lines([]) must return the empty string"


@pytest.mark.points(2)
def test_filter_by_level(submission, probe):
    """filter_by_level keeps min_level and more severe, in order"""
    records = logs.generate(8 if not probe else 808, lines=80, malformed=0, blank=0).records
    for level in LEVEL_ORDER:
        want = [r for r in records if LEVEL_ORDER.index(r["level"]) >= LEVEL_ORDER.index(level)]
        got = submission.filter_by_level(records, level)
        assert isinstance(got, list), f"filter_by_level must return a list of records, got {show(got)}"
        if got != want:
            dropped = [r["level"] for r in want if r not in got]
            kept = [r["level"] for r in got if r not in want]
            why = (f"it drops records of level {dropped[0]!r}" if dropped
                   else f"it keeps records of level {kept[0]!r}" if kept
                   else f"the order differs: {first_mismatch(got, want)}")
            pytest.fail(f"filter_by_level(records, {level!r}) returned {len(got)} records, expected "
                        f"{len(want)} (levels at or above {level!r}, in their original order): {why}")
    try:
        got = submission.filter_by_level(records, "verbose")
    except SubmissionError as exc:
        assert exc.error_type == "ValueError", (
            f"filter_by_level(records, 'verbose') must raise ValueError; it raised {exc.error_type}")
    else:
        pytest.fail(f"filter_by_level(records, 'verbose') returned {len(got)} records; an unknown "
                    "level must raise ValueError")


@pytest.mark.points(2)
@pytest.mark.hint("Sort by number of failures descending, then by user_id ascending.")
def test_failures_per_user(submission, probe):
    """failures_per_user counts failures, most first, ties by user id"""
    records = logs.generate(13 if not probe else 1313, lines=200, malformed=0, blank=0).records
    want = logs.failures_per_user(records)
    assert any(a["failures"] == b["failures"] for a, b in zip(want, want[1:])), "exercise defect: no tie to break"
    got = submission.failures_per_user(records)
    assert isinstance(got, list), (f"failures_per_user must return a list of dicts like "
                                   f"{show(want[:1])}, got {show(got)}")
    assert got == want, (f"failures_per_user: {first_mismatch(got, want)} "
                         f"({len(want)} users with failures in all)")
