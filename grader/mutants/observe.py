"""What the hidden tests see of a submission, recorded to tell an equivalent mutant from a survivor.

An `Observations` passed to a grade (through `Trial.observer`) wraps the fixtures' objects: every
value the learner's code returns (or the kind of exception it raises), every SQL result the checks
read (a learner's query, the tables a learner's script built), and every response of the grader's
own AWS clients (the state the learner's code left). Two grades are then compared test by test,
value by value; a value that differs between two grades of the reference solution itself (a
timestamp, a random id) is left out of the comparison.
"""
from __future__ import annotations

import contextlib
import datetime
import decimal
from typing import Any, Callable, Iterator

Seen = list[tuple[str, Any]]
_MISSING = object()
_ACTIVE: list[tuple["Observations", str]] = []  # the grade being observed and its current test
_HOOK_ID = "grader.mutants.observe"
MAX_SHOWN = 160
FLOAT_PLACES = 6


def plain(value: Any, depth: int = 0) -> Any:
    """A value as JSON-like data that stays the same when the value later changes."""
    if depth > 40:
        return "<too deep>"
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v, depth + 1) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return round(value, FLOAT_PLACES)  # the order of a SUM is no difference
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "columns") and hasattr(value, "rows"):  # a SQL QueryResult
        return {"columns": plain(value.columns, depth + 1), "rows": plain(value.rows, depth + 1)}
    return f"<{type(value).__name__}>"


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{path: leaf} of a plain value; containers' sizes are leaves too."""
    if isinstance(value, dict):
        out: dict[str, Any] = {f"{path}{{}}": len(value)}
        for key, item in value.items():
            out.update(flatten(item, f"{path}.{key}"))
        return out
    if isinstance(value, list):
        out = {f"{path}[]": len(value)}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{path}[{index}]"))
        return out
    return {path or ".": value}


class Observations:
    """Everything the hidden tests of one grade saw, per test, in order."""

    def __init__(self) -> None:
        self.by_test: dict[str, Seen] = {}
        self.widened = False  # a hidden test asked for the `probe` fixture while it was set

    def note(self, test: str, what: str, value: Any) -> None:
        self.by_test.setdefault(test, []).append((what, plain(value)))

    def watch(self, kind: str, value: Any, test: str) -> Any:
        """The fixture object `value` of kind submission, sql, learner_db or aws, recording what passes through it
        (`probe`: the flag itself, noting that the hidden tests widened their data)."""
        self.by_test.setdefault(test, [])
        if kind == "probe":
            self.widened = self.widened or bool(value)
            return value
        if kind == "submission":
            return _Watched(value, lambda what, seen: self.note(test, what, seen), calls="call")
        if kind == "learner_db":
            return _WatchedLearnerDb(value, lambda what, seen: self.note(test, what, seen))
        if kind == "sql":
            return _WatchedSql(value, lambda what, seen: self.note(test, what, seen))
        if kind == "aws":
            _ACTIVE[:] = [(self, test)]
            return _WatchedAws(value)
        return value

    @contextlib.contextmanager
    def active(self) -> Iterator[Observations]:
        """Observe within the block only: AWS clients outlive a grade, their hook must fall silent."""
        try:
            yield self
        finally:
            _ACTIVE.clear()


def _note_raised(note: Callable[[str, Any], None], name: str, exc: Exception) -> None:
    """What a call raised: the learner's exception class name, else the exception's own."""
    note(f"{name} raised", getattr(exc, "error_type", "") or type(exc).__name__)


def _record(note: Callable[[str, Any], None], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            _note_raised(note, name, exc)
            raise
        note(name, result)
        return result
    return call


def _record_each(note: Callable[[str, Any], None], name: str, call_each: Callable[..., Any],
                 items: Any) -> Iterator[Any]:
    """`call_each(name, items)` recorded item by item, as the single calls it stands for would be."""
    try:
        results = call_each(name, items)
    except Exception as exc:
        _note_raised(note, name, exc)
        raise
    return _noted_each(note, name, results)


def _noted_each(note: Callable[[str, Any], None], name: str, results: Iterator[Any]) -> Iterator[Any]:
    try:
        for result in results:
            note(name, result)
            yield result
    except Exception as exc:
        _note_raised(note, name, exc)
        raise


class _Watched:
    """Records what every method call of the wrapped object returns or raises."""

    def __init__(self, target: Any, note: Callable[[str, Any], None], calls: str = "") -> None:
        self._target, self._note, self._calls = target, note, calls

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name == self._calls:  # submission.call("fn", ...) records under the function's name
            return lambda fn, *args, **kwargs: _record(self._note, fn, getattr(self._target, name))(fn, *args, **kwargs)
        if self._calls and name == "call_each":  # submission.call_each("fn", [...]): each item as one call
            return lambda fn, items: _record_each(self._note, fn, self._target.call_each, items)
        attribute = getattr(self._target, name)
        return _record(self._note, name, attribute) if callable(attribute) else attribute


class _WatchedSql:
    """The sql service: learner queries' results, and what the checks read of a learner's database."""

    def __init__(self, service: Any, note: Callable[[str, Any], None]) -> None:
        self._service, self._note = service, note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def query(self, instance: Any, text: str, **kwargs: Any) -> Any:
        name = f"query {kwargs.get('filename', '')} on {getattr(instance, 'key', instance)}"
        return _record(self._note, name, self._service.query)(instance, text, **kwargs)

    @contextlib.contextmanager
    def session(self, instance: Any, **kwargs: Any) -> Iterator[Any]:
        with self._service.session(instance, **kwargs) as db:
            yield _Watched(db, lambda what, seen: self._note(f"{what} on {getattr(instance, 'key', instance)}", seen))


class _WatchedLearnerDb:
    """The learner_db service: what the checks read back of the learner's database."""

    def __init__(self, service: Any, note: Callable[[str, Any], None]) -> None:
        self._service, self._note = service, note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def query(self, text: str, **kwargs: Any) -> Any:
        return _record(self._note, "query", self._service.query)(text, **kwargs)

    @contextlib.contextmanager
    def read(self, **kwargs: Any) -> Iterator[Any]:
        with self._service.read(**kwargs) as reader:
            yield _Watched(reader, self._note)


class _WatchedAws:
    """The aws service: every response its clients and resources receive is recorded by a botocore hook."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def client(self, service_name: str, **kwargs: Any) -> Any:
        made = self._service.client(service_name, **kwargs)
        made.meta.events.register("after-call", _after_call, unique_id=_HOOK_ID)
        return made

    def resource(self, service_name: str, **kwargs: Any) -> Any:
        made = self._service.resource(service_name, **kwargs)
        made.meta.client.meta.events.register("after-call", _after_call, unique_id=_HOOK_ID)
        return made


def _after_call(parsed: Any = None, model: Any = None, **_: Any) -> None:
    if _ACTIVE:
        observations, test = _ACTIVE[0]
        observations.note(test, f"AWS {getattr(model, 'name', '?')}", parsed)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def first_difference(reference: Observations, again: Observations, mutant: Observations) -> str | None:
    """Where the mutant's grade saw something the reference's did not, in words; None when nothing.

    `again` is a second grade of the reference: whatever differs between the two is not compared, and
    a test whose number of observations differs between them is compared by its outcome only."""
    for test, seen in reference.by_test.items():
        twice = again.by_test.get(test)
        if twice is None or len(twice) != len(seen):
            continue
        mine = mutant.by_test.get(test, [])
        if len(mine) != len(seen):
            return f"{test}: the checks saw {len(mine)} values where the solution's grade showed them {len(seen)}"
        for (what, value), (_, other), (my_what, my_value) in zip(seen, twice, mine):
            if my_what != what:
                return f"{test}: the checks saw {my_what} where the solution's grade showed them {what}"
            want, noise, got = flatten(value), flatten(other), flatten(my_value)
            for path in sorted(want.keys() | got.keys()):
                if want.get(path, _MISSING) != noise.get(path, _MISSING):
                    continue  # differs between two grades of the solution: not the mutant's doing
                if want.get(path, _MISSING) != got.get(path, _MISSING):
                    shown = lambda v: "(nothing)" if v is _MISSING else _show(v)  # noqa: E731
                    return (f"{test}: {what} gave {shown(got.get(path, _MISSING))} at {path or '.'}, "
                            f"the solution's {shown(want.get(path, _MISSING))}")
    return None
