"""`grade hint`: tiers declared in hidden tests, one more on each call, only on request."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from grader.cli import cli
from tests.conftest import HIDDEN

TIERED = HIDDEN.replace('@pytest.mark.hint("Return the text unchanged.")',
                        '@pytest.mark.hint("Look at what echo returns.", "Return the text unchanged.",\n'
                        '                  "def echo(text): return text")')


def grade(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def course(make_course, in_course):
    root = make_course(stub="def double(x):\n    return 2 * x\n\ndef echo(t):\n    return t.upper()\n", hidden=TIERED)
    in_course(root)
    return root


def test_hints_come_in_tiers(course) -> None:
    code, out = grade("run", "demo")
    assert code == 1
    assert "Look at what echo returns." not in out  # not before the learner asks
    assert "Hints exist for 1 failing check: grade hint demo" in out
    code, out = grade("hint", "demo")
    assert code == 0
    assert "Hint 1 of 3: Look at what echo returns." in out and "Hint 2" not in out
    assert "grade hint demo again shows a little more" in out
    out = grade("hint", "demo")[1]
    assert "Hint 2 of 3: Return the text unchanged." in out and "Hint 3" not in out
    out = grade("hint", "demo")[1]
    assert "Hint 3 of 3: def echo(text): return text" in out and "last hint" in out
    assert "Hint 3 of 3" in grade("hint", "demo")[1]  # no tier past the last


def test_hints_flag_shows_the_first_tier_in_the_report(course) -> None:
    out = grade("run", "demo", "--hints")[1]
    assert "Hint: Look at what echo returns." in out and "Return the text unchanged." not in out


def test_a_check_named_on_the_command_line(course) -> None:
    out = grade("hint", "demo", "ECHO")[1]
    assert out.startswith("echo returns its argument\n  Hint 1 of 3")
    code, out = grade("hint", "demo", "nonesuch")
    assert code == 2 and "no check of demo is named like 'nonesuch'" in out


def test_a_hint_needs_a_grade_first(course) -> None:
    code, out = grade("hint", "demo")
    assert code == 2 and "grade demo first (grade run demo)" in out


def test_a_single_text_hint_still_works(make_course, in_course) -> None:
    in_course(make_course(stub="def double(x):\n    return 2 * x\n\ndef echo(t):\n    return None\n"))
    grade("run", "demo")
    out = grade("hint", "demo")[1]
    assert "Hint 1 of 1: Return the text unchanged." in out and "last hint" in out
