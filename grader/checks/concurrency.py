"""Calls into several sandbox children at the same moment, for checks of isolation.

Each call runs in a thread of the check; the threads start together (a barrier), and each call goes to a
child of its own (the `submissions(n)` fixture), so the learner's code really runs side by side. What
each call did comes back as an `Outcome`: the value it returned, or the learner's exception.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from grader.sandbox import SubmissionError, SubmissionTimeout


@dataclass(frozen=True)
class Outcome:
    """One call: its value, or the class name of the learner's exception and the message."""

    value: Any = None
    error_type: str = ""  # "" when the call returned; the learner's exception class; "crash" or "timeout"
    message: str = ""

    @property
    def returned(self) -> bool:
        return not self.error_type


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run one call into learner code; its Outcome (never raises for the learner's failures)."""
    try:
        return Outcome(value=call())
    except SubmissionTimeout as exc:
        return Outcome(error_type="timeout", message=str(exc))
    except SubmissionError as exc:
        return Outcome(error_type=exc.error_type or "crash", message=str(exc))


def together(calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Start every call at the same moment, each in a thread; their Outcomes in the same order."""
    results: list[Outcome | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait()
        results[index] = outcome_of(call)

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r if r is not None else Outcome(error_type="crash", message="the call did not end") for r in results]

