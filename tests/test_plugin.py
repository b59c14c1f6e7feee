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
    assert not result.passed and result.ungraded


def test_same_submission_same_result(make_course) -> None:
    root = make_course(stub="def double(x):\n    return x + x\n\ndef echo(t):\n    return t[::-1]\n")
    first, second = grade_demo(root, "exercises"), grade_demo(root, "exercises")
    strip = lambda r: [(t.name, t.status, t.score, t.output) for t in r.tests]  # noqa: E731
    assert strip(first) == strip(second)


def test_bad_visibility_stops_the_exercise(make_course) -> None:
    hidden = "import pytest\n\n@pytest.mark.visibility('hiden')\ndef test_x(submission):\n    pass\n"
    result = grade_demo(make_course(hidden=hidden))
    assert result.tests == () and result.ungraded
    assert ("demo/test_demo.py::test_x: visibility('hiden') must be one of visible, hidden, after_due_date, "
            "after_published, did you mean 'hidden'?") in result.error
    assert "a mistake in the course, not in your work" in result.error


def test_unknown_markers_stop_the_exercise(make_course) -> None:
    hidden = ("import pytest\n\n@pytest.mark.hnit('x')\n@pytest.mark.visiblity('hidden')\n"
              "def test_x(submission):\n    pass\n")
    result = grade_demo(make_course(hidden=hidden))
    assert result.tests == () and result.ungraded
    assert "demo/test_demo.py::test_x: unknown marker @pytest.mark.hnit, did you mean 'hint'?" in result.error
    assert "unknown marker @pytest.mark.visiblity, did you mean 'visibility'?" in result.error
    assert "The grader's markers: points, visibility, hint, reads; registered: " in result.error


def test_pytest_markers_are_known(make_course) -> None:
    hidden = ("import pytest\n\n@pytest.mark.parametrize('n', [1, 2])\n@pytest.mark.filterwarnings('ignore')\n"
              "def test_x(submission, n):\n    assert submission.double(n) == 2 * n\n\n"
              "@pytest.mark.skipif(False, reason='never')\n@pytest.mark.points(2)\ndef test_y(submission):\n"
              "    assert submission.echo('a') == 'a'\n")
    result = grade_demo(make_course(hidden=hidden))
    assert not result.error and result.score == 4


def test_bad_points_stop_the_exercise(make_course) -> None:
    hidden = "import pytest\n\n@pytest.mark.points('two')\ndef test_x(submission):\n    pass\n"
    result = grade_demo(make_course(hidden=hidden))
    assert "points('two') must be a number of points, 0 or more" in result.error and result.ungraded


def test_missing_module_is_the_course_s_error(make_course) -> None:
    result = grade_demo(make_course(hidden="from fixtures.nowhere import data\n\ndef test_x():\n    pass\n"))
    assert result.ungraded and "fixtures" in result.error and "not in your work" in result.error


def test_points_held_back_count_checks_the_course_lacks(make_course) -> None:
    result = grade_demo(make_course(points=10))
    assert result.max_score == 4 and result.held_back == 6
    assert grade_demo(make_course()).held_back == 0


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


def test_file_targets_grade_the_checks_that_read_the_file(make_course) -> None:
    """reads(...) names a check's files; else a file whose stem is in the test's name; else every file."""
    hidden = ("import pytest\n\n"
              "@pytest.mark.reads('demo.py')\ndef test_marked(submission):\n    assert submission.double(1) == 2\n\n"
              "def test_notes_are_there(workspace):\n    assert (workspace / 'notes.txt').exists()\n\n"
              "def test_everything(workspace):\n    assert True\n")
    root = make_course(hidden=hidden, points=3)
    toml = root / "exercises/demo/exercise.toml"
    toml.write_text(toml.read_text().replace('files = ["demo.py"]', 'files = ["demo.py", "notes.txt"]'))
    (root / "solutions/demo/notes.txt").write_text("notes\n")
    (exercise,) = catalog.load_all(root)
    with ServicePool() as pool:
        by_file = {name: {t.name: t.status for t in grade(exercise, root / "solutions/demo", pool, files=(name,)).tests}
                   for name in exercise.files}
    assert by_file["demo.py"] == {"marked": Status.PASSED, "notes are there": Status.NOT_RUN,
                                  "everything": Status.PASSED}
    assert by_file["notes.txt"] == {"marked": Status.NOT_RUN, "notes are there": Status.PASSED,
                                    "everything": Status.PASSED}


def test_hidden_tests_have_tmp_path_monkeypatch_and_capsys_but_not_the_plugins_grading_leaves_out(make_course) -> None:
    """The runner disables pytest plugins hidden tests do not use (grader/runner.py UNUSED_PLUGINS)."""
    hidden = ("import os, warnings\nimport pytest\n\n"
              "def test_fixtures(submission, tmp_path, monkeypatch, capsys):\n"
              "    monkeypatch.setenv('DEMO', '1')\n"
              "    (tmp_path / 'f').write_text(os.environ['DEMO'])\n"
              "    print('hello')\n"
              "    assert capsys.readouterr().out == 'hello\\n'\n"
              "    with pytest.warns(UserWarning):\n"
              "        warnings.warn('careful', UserWarning)\n"
              "    assert submission.double((tmp_path / 'f').read_text()) == '11'\n\n"
              "def test_caplog(caplog):\n    pass\n\n"
              "def test_recwarn(recwarn):\n    pass\n\n"
              "def test_tmpdir(tmpdir):\n    pass\n")
    result = grade_demo(make_course(hidden=hidden, points=4))
    fine, *left_out = result.tests
    assert fine.status is Status.PASSED, fine.output
    for test, name in zip(left_out, ("caplog", "recwarn", "tmpdir")):
        assert test.status is Status.ERROR and f"FixtureLookupError: ('{name}'" in test.output, test.output


def test_a_unittest_class_in_hidden_tests_stops_the_exercise(make_course) -> None:
    """pytest's unittest plugin is off in grading: a TestCase class would otherwise be left out silently."""
    hidden = ("import unittest\n\nclass TestDemo(unittest.TestCase):\n    def test_x(self):\n        pass\n\n"
              "def test_fine(submission):\n    assert submission.double(1) == 2\n")
    result = grade_demo(make_course(hidden=hidden, points=2))
    assert "TestDemo is a unittest.TestCase class" in result.error
