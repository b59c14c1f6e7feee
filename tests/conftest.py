"""Shared helpers of the framework's own tests: a small course built in a temporary folder."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from grader.services.aws import AwsService

ROOT = Path(__file__).resolve().parent.parent

# hidden tests run only through the grader (grader/runner.py), never in the framework's own run
collect_ignore = ["hidden"]

HIDDEN = '''
import pytest
from grader import SubmissionError


@pytest.mark.points(2)
def test_double(submission):
    """double doubles"""
    assert submission.double(21) == 42, "double(21) should be 42"


@pytest.mark.points(1)
@pytest.mark.hint("Return the text unchanged.")
def test_echo(submission):
    """echo returns its argument"""
    assert submission.echo("héllo") == "héllo", "echo('héllo') should return 'héllo'"


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_hidden(submission):
    assert submission.double(0) == 0, "double(0) should be 0"
'''

SOLUTION = '''
def double(x):
    return 2 * x


def echo(text):
    return text
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def make_course(tmp_path: Path) -> Callable[..., Path]:
    """Build a one-exercise course `demo`; returns its root."""

    def build(stub: str = "def double(x):\n    raise NotImplementedError\n\n\ndef echo(t):\n    raise NotImplementedError\n",
              hidden: str = HIDDEN, solution: str = SOLUTION, timeout: float = 2, points: int = 4) -> Path:
        root = tmp_path / "course"
        _write(root / "exercises/demo/exercise.toml",
               f'title = "Demo"\norder = 1\npoints = {points}\nfiles = ["demo.py"]\ntimeout = {timeout}\n')
        _write(root / "exercises/demo/README.md", "# Demo\n")
        _write(root / "exercises/demo/demo.py", stub)
        _write(root / "solutions/demo/demo.py", solution)
        _write(root / "tests/hidden/demo/test_demo.py", hidden)
        return root

    return build


@pytest.fixture(autouse=True)
def _learner_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress and kept stubs of every test go to a folder of its own, never into the checkout."""
    monkeypatch.setenv("GRADER_STATE_DIR", str(tmp_path_factory.mktemp("grade-state")))


@pytest.fixture
def in_course(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make `root` the course the grader finds."""

    def enter(root: Path) -> None:
        monkeypatch.chdir(root)
        monkeypatch.setenv("GRADER_COURSE_ROOT", str(root))

    return enter


@pytest.fixture
def course_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """This repository as the course, with the current folder at its root."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GRADER_COURSE_ROOT", raising=False)
    return ROOT



@pytest.fixture(scope="module")
def moto_service() -> Iterator[AwsService]:
    """An embedded moto server for one test module."""
    from grader.services import ServiceOptions
    from grader.services.aws import make_service

    service = make_service(ServiceOptions())
    service.start()
    yield service
    service.stop()


@pytest.fixture
def aws(moto_service: AwsService) -> AwsService:
    """The module's moto server, wiped."""
    moto_service.reset()
    return moto_service


@pytest.fixture
def learner(aws: AwsService) -> Callable[[str], Any]:
    """boto3 clients made as a learner's code makes them: on the endpoint, without the grader's mark,
    so the behaviours switched on through `aws` apply to them."""
    import boto3

    env = aws.worker_env()

    def client(name: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"], region_name=env["AWS_DEFAULT_REGION"],
        ).client(name, endpoint_url=env["AWS_ENDPOINT_URL"])

    return client
