"""Where checks travel: a hidden check is cut out of its module with what only it used."""
from __future__ import annotations

import ast

import pytest

from grader.errors import PublishError
from grader.publish.visibility import location, plan_files, strip, travels
from grader.results import Status, TestResult

MODULE = '''"""Checks of demo."""
import pytest
from fixtures.rentio import HIDDEN, PUBLIC

EDGE = 5


def edge(x):
    return x + EDGE


def shared(y):
    return y


@pytest.fixture
def data():
    return 1


@pytest.fixture
def hidden_data():
    return edge(1)


@pytest.fixture(autouse=True)
def always():
    yield


@pytest.mark.points(2)
def test_visible(data):
    assert shared(data) == 1


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_hidden(hidden_data):
    assert hidden_data == 6


class TestGroup:
    def test_a(self):
        pass

    @pytest.mark.visibility("hidden")
    def test_b(self):
        pass


class TestSecret:
    @pytest.mark.visibility("hidden")
    def test_c(self):
        pass
'''


def result(nodeid: str, visibility: str) -> TestResult:
    return TestResult(name=nodeid, status=Status.PASSED, score=1, max_score=1, visibility=visibility, nodeid=nodeid)


def test_locations_and_travel() -> None:
    assert location("demo/test_demo.py::test_q1[public]") == ("demo/test_demo.py", "test_q1")
    assert location("demo/test_demo.py::TestGroup::test_a") == ("demo/test_demo.py", "TestGroup.test_a")
    assert travels("visible") and not any(travels(v) for v in ("hidden", "after_due_date", "after_published"))


def test_hidden_checks_and_what_only_they_use_are_cut() -> None:
    functions = {"test_visible": True, "test_hidden": False, "TestGroup.test_a": True, "TestGroup.test_b": False,
                 "TestSecret.test_c": False}
    text = strip(MODULE, functions)
    assert text is not None
    names = {node.name for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert names == {"shared", "data", "always", "test_visible", "TestGroup", "test_a"}
    assert "EDGE" not in text and "visibility" not in text
    assert "from fixtures.rentio import HIDDEN, PUBLIC" in text  # imports stay: they are not answers


def test_all_or_nothing() -> None:
    assert strip(MODULE, {"test_visible": True}) == MODULE
    assert strip(MODULE, {"test_visible": False, "test_hidden": False}) is None


def test_a_check_with_visible_and_hidden_cases_is_refused() -> None:
    tests = [result("demo/test_demo.py::test_x[1]", "visible"), result("demo/test_demo.py::test_x[2]", "hidden"),
             result("demo/test_demo.py::test_y", "hidden")]
    with pytest.raises(PublishError, match=r"demo: demo/test_demo.py::test_x mixes visible and hidden cases"):
        plan_files("demo", tests)
    assert plan_files("demo", tests[2:]) == {"demo/test_demo.py": {"test_y": False}}
