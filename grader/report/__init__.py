"""Reporters: a Run rendered for a person (text) or a machine (json, gradescope, junit, github)."""
from __future__ import annotations

from typing import Callable

from grader.errors import UsageError
from grader.report import github, gradescope, jsonreport, junit, text
from grader.results import Run

REPORTERS: dict[str, Callable[[Run], str]] = {
    "text": text.render,
    "json": jsonreport.render,
    "gradescope": gradescope.render,
    "junit": junit.render,
    "github": github.render,
}


def render(run: Run, fmt: str) -> str:
    """`run` in format `fmt`; an unknown format names the known ones."""
    try:
        reporter = REPORTERS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(REPORTERS)}") from None
    return reporter(run)
