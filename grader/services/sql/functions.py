"""The functions SQLite lacks and MySQL has, as SQLite runs them (no parser: a backend of trusted
queries registers them without loading sqlglot). dialect.MySQLOnSQLite renders MySQL's date
arithmetic, TIMESTAMPDIFF and YEAR/MONTH/DAY as calls of these."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable


def _parse_moment(value: Any) -> tuple[datetime, bool] | None:
    if value is None:
        return None
    text = str(value)
    for fmt, has_time in (("%Y-%m-%d %H:%M:%S", True), ("%Y-%m-%d", False), ("%Y-%m-%d %H:%M", True), ("%Y-%m-%dT%H:%M:%S", True)):
        try:
            return datetime.strptime(text[:19] if has_time else text[:10], fmt), has_time
        except ValueError:
            continue
    return None


def _mysql_date_add(value: Any, amount: Any, unit: str) -> str | None:
    parsed = _parse_moment(value)
    if parsed is None or amount is None:
        return None
    moment, has_time = parsed
    n = float(amount)
    if unit in ("MONTH", "QUARTER", "YEAR"):
        months = int(n) * {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit]
        total = moment.year * 12 + moment.month - 1 + months
        year, month = divmod(total, 12)
        day = moment.day
        while True:
            try:
                moment = moment.replace(year=year, month=month + 1, day=day)
                break
            except ValueError:
                day -= 1
    else:
        seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}.get(unit)
        if seconds is None:
            return None
        moment += timedelta(seconds=n * seconds)
        has_time = has_time or unit in ("SECOND", "MINUTE", "HOUR")
    return moment.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")


def _mysql_timestampdiff(unit: str, start: Any, end: Any) -> int | None:
    a, b = _parse_moment(start), _parse_moment(end)
    if a is None or b is None:
        return None
    x, y = a[0], b[0]
    if unit in ("MONTH", "QUARTER", "YEAR"):
        months = (y.year - x.year) * 12 + (y.month - x.month)
        if months > 0 and (y.day, y.time()) < (x.day, x.time()):
            months -= 1
        elif months < 0 and (y.day, y.time()) > (x.day, x.time()):
            months += 1
        return int(months / {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit])
    seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}.get(unit)
    return None if seconds is None else int((y - x).total_seconds() / seconds)


def _mysql_part(fmt: str, value: Any) -> int | None:
    parsed = _parse_moment(value)
    return None if parsed is None else int(parsed[0].strftime(fmt))


SQLITE_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "MYSQL_DATE_ADD": (3, _mysql_date_add),
    "MYSQL_TIMESTAMPDIFF": (3, _mysql_timestampdiff),
    "MYSQL_PART": (2, _mysql_part),
    "LEFT": (2, lambda s, n: None if s is None or n is None else str(s)[: max(int(n), 0)]),
    "RIGHT": (2, lambda s, n: None if s is None or n is None else (str(s)[-int(n):] if int(n) > 0 else "")),
    "NOW": (0, lambda: datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
}
