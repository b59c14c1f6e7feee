"""The plugin: markers become points, visibility and hints; phases become one TestResult each."""
from __future__ import annotations

from pathlib import Path

from grader import catalog
from grader.results import Status
from grader.runner import ServicePool, grade


def grade_demo(root: Path, folder: str = "solutions"):
    (exercise,) = catalog.load_all(root)
    with ServicePool() as pool:
        return grade(exercise, root / folder / "demo", pool)


def test_points_visibility_and_names(make_course) -> None:
    result = grade_demo(make_course())
    assert [(t.name, t.status, t.score, t.max_score, t.visibility) for t in result.tests] == [
        ("double doubles", Status.PASSED, 2.0, 2.0, "visible"),
        ("echo returns its argument", Status.PASSED, 1.0, 1.0, "visible"),
        ("hidden", Status.PASSED, 1.0, 1.0, "hidden"),
    ]
    assert result.score == result.max_score == 4 and result.passed


def test_partial_credit_and_hints(make_course) -> None:
    root = make_course(stub="def double(x):\n    return x * 2\n\ndef echo(t):\n    return t.upper()\n")
    result = grade_demo(root, "exercises")
    by_name = {t.name: t for t in result.tests}
    assert result.score == 3 and result.max_score == 4
    echo = by_name["echo returns its argument"]
    assert echo.status is Status.FAILED
    assert echo.output == "echo('héllo') should return 'héllo'"  # the author's message, no introspection
    assert echo.hint == "Return the text unchanged."
    assert by_name["double doubles"].hint == ""


def test_a_broken_check_is_an_error_not_a_failure(make_course) -> None:
    hidden = ("import pytest\n\n@pytest.mark.points(3)\ndef test_broken(submission):\n"
              "    return {}['missing']\n\ndef test_fine(submission):\n    assert submission.double(1) == 2\n")
    result = grade_demo(make_course(hidden=hidden, points=4))
    broken, fine = result.tests
    assert broken.status is Status.ERROR and broken.score == 0 and broken.max_score == 3
    assert "problem with the exercise" in broken.output and "KeyError" in broken.output
    assert fine.status is Status.PASSED


def test_skips_are_reported_and_not_counted(make_course) -> None:
    hidden = ("import pytest\n\n@pytest.mark.points(5)\ndef test_needs_mysql():\n"
              "    pytest.skip('needs a MySQL server: set GRADER_MYSQL_URL')\n\n"
              "def test_fine(submission):\n    assert submission.double(1) == 2\n")
    result = grade_demo(make_course(hidden=hidden, points=1))
    skipped, fine = result.tests
    assert skipped.status is Status.SKIPPED and skipped.max_score == 0
    assert skipped.output == "needs a MySQL server: set GRADER_MYSQL_URL"
    assert result.max_score == 1


def test_setup_failure_counts_once(make_course) -> None:
    hidden = ("import pytest\n\n@pytest.fixture\ndef data():\n    raise AssertionError('the data could not be built')\n\n"
              "@pytest.mark.points(2)\ndef test_with_data(data):\n    pass\n")
    result = grade_demo(make_course(hidden=hidden, points=2))
    (test,) = result.tests
    assert test.status is Status.FAILED and test.output == "the data could not be built"


def test_hidden_tests_that_do_not_import_are_reported(make_course) -> None:
    result = grade_demo(make_course(hidden="import no_such_module\n\ndef test_x():\n    pass\n"))
    assert "could not be loaded" in result.error and "no_such_module" in result.error
    assert not result.passed


def test_same_submission_same_result(make_course) -> None:
    root = make_course(stub="def double(x):\n    return x + x\n\ndef echo(t):\n    return t[::-1]\n")
    first, second = grade_demo(root, "exercises"), grade_demo(root, "exercises")
    strip = lambda r: [(t.name, t.status, t.score, t.output) for t in r.tests]  # noqa: E731
    assert strip(first) == strip(second)


def test_bad_visibility_is_an_error(make_course) -> None:
    hidden = "import pytest\n\n@pytest.mark.visibility('secret')\ndef test_x(submission):\n    pass\n"
    (test,) = grade_demo(make_course(hidden=hidden)).tests
    assert test.status is Status.ERROR and "visibility('secret') must be one of" in test.output


OVERRIDE = '''
import pytest


class Fake:
    def double(self, x):
        return -1


@pytest.fixture
def submission():
    return Fake()


@pytest.fixture
def exercise():
    return "not the grader's"
'''


def test_only_the_hidden_folders_conftest_reaches_hidden_tests(make_course, monkeypatch) -> None:
    """A course's own tests/conftest.py (or any conftest above tests/hidden/<slug>/) must not replace
    the grader's fixtures; the conftest.py beside the hidden tests is theirs to use."""
    hidden = ("def test_grader_fixtures_win(submission, exercise, helper):\n"
              "    assert submission.double(2) == 4\n"
              "    assert exercise.slug == 'demo' and helper == 'beside the tests'\n")
    root = make_course(hidden=hidden, points=1)
    for folder in (root, root / "tests", root / "tests" / "hidden"):
        (folder / "conftest.py").write_text(OVERRIDE, encoding="utf-8")
    (root / "tests/hidden/demo/conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef helper():\n    return 'beside the tests'\n", encoding="utf-8")
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option")  # a CI's pytest options do not apply either
    result = grade_demo(root)
    assert not result.error
    assert [(t.status, t.output) for t in result.tests] == [(Status.PASSED, "")]


def test_the_frameworks_own_run_never_collects_hidden_tests() -> None:
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                            cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120).stdout
    assert "tests/test_plugin.py::" in listed
    assert "tests/hidden/" not in listed
