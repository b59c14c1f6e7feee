"""Reference solution of log_parsing."""
from __future__ import annotations

import datetime as dt
import json
import re

LEVELS = ("debug", "info", "warn", "error", "fatal")
LINE = re.compile(
    r"^(?P<day>[0-9]{2})-(?P<month>[0-9]{2})-(?P<year>[0-9]{4}):(?P<hour>[0-9]{2})\.(?P<minute>[0-9]{2})"
    r"(?:\s+\[(?P<level>[A-Za-z]+)\])?"
    r"\s+(?P<user>[0-9]+)\s+(?P<status>success|fail)\s+(?P<action>\S.*?)\s*$"
)


def parse_line(line: str) -> dict | None:
    match = LINE.match(line)
    if match is None:
        return None
    level = (match["level"] or "info").lower()
    if level not in LEVELS:
        return None
    try:
        moment = dt.datetime(int(match["year"]), int(match["month"]), int(match["day"]),
                             int(match["hour"]), int(match["minute"]))
    except ValueError:
        return None
    return {
        "timestamp": moment.isoformat(),
        "level": level,
        "user_id": int(match["user"]),
        "status": match["status"],
        "action": match["action"],
    }


def parse_log(text: str) -> dict:
    records, malformed = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        record = parse_line(line)
        if record is None:
            malformed.append(number)
        else:
            records.append(record)
    return {"records": records, "malformed": malformed}


def to_json_lines(records: list[dict]) -> str:
    keys = ("timestamp", "level", "user_id", "status", "action")
    return "".join(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n" for r in records)


def filter_by_level(records: list[dict], min_level: str) -> list[dict]:
    if min_level not in LEVELS:
        raise ValueError(f"unknown level {min_level!r}; expected one of {', '.join(LEVELS)}")
    floor = LEVELS.index(min_level)
    return [r for r in records if LEVELS.index(r["level"]) >= floor]


def failures_per_user(records: list[dict]) -> list[dict]:
    counts: dict[int, int] = {}
    for record in records:
        if record["status"] == "fail":
            counts[record["user_id"]] = counts.get(record["user_id"], 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"user_id": user, "failures": n} for user, n in ranked]
