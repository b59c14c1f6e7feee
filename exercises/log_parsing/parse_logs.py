"""Parse application logs into structured records.

Read README.md in this folder for the exact format and what each function must return.
Run `grade run log_parsing` to check your work.
"""
from __future__ import annotations

LEVELS = ("debug", "info", "warn", "error", "fatal")


def parse_line(line: str) -> dict | None:
    """One log line as a record dict, or None when the line is malformed."""
    raise NotImplementedError("parse_line is not written yet")


def parse_log(text: str) -> dict:
    """A whole log: {"records": [...], "malformed": [line numbers]}; blank lines are skipped."""
    raise NotImplementedError("parse_log is not written yet")


def to_json_lines(records: list[dict]) -> str:
    """The records as JSON Lines: one JSON object per line, each line ending with a newline."""
    raise NotImplementedError("to_json_lines is not written yet")


def filter_by_level(records: list[dict], min_level: str) -> list[dict]:
    """The records whose level is min_level or more severe, in their original order."""
    raise NotImplementedError("filter_by_level is not written yet")


def failures_per_user(records: list[dict]) -> list[dict]:
    """[{"user_id": ..., "failures": n}, ...] for users with at least one failure, most first."""
    raise NotImplementedError("failures_per_user is not written yet")
