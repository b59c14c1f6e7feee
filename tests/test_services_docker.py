"""`--services docker`: a clear refusal without an engine; real containers where one answers."""
from __future__ import annotations

import pytest

from grader.errors import ServiceError
from grader.runner import ServicePool
from grader.services import ServiceOptions
from grader.services.docker import engine_problem

PROBLEM = engine_problem()


@pytest.mark.skipif(PROBLEM is None, reason="a Docker engine answers here")
def test_without_an_engine_the_service_error_says_why() -> None:
    with ServicePool(ServiceOptions(docker=True)) as pool, pytest.raises(ServiceError) as raised:
        pool.get("sql")
    assert "--services docker needs a Docker engine: no Docker engine answers" in str(raised.value)


def test_a_given_url_wins_over_docker() -> None:
    from grader.services import factory

    service = factory("aws")(ServiceOptions(docker=True, aws_endpoint="http://127.0.0.1:1"))
    assert service.backend == "external"


@pytest.mark.skipif(PROBLEM is not None, reason=f"needs a Docker engine: {PROBLEM}")
@pytest.mark.parametrize("name", ["sql", "aws"])
def test_container_backends_start_and_stop(name: str) -> None:
    with ServicePool(ServiceOptions(docker=True)) as pool:
        service = pool.get(name)
        assert "docker" in service.backend
        service.reset()


@pytest.mark.skipif(PROBLEM is None, reason="a Docker engine answers here")
def test_cli_exits_3_when_the_service_cannot_start(course_root) -> None:
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, ["run", "dynamodb_crud", "--services", "docker", "--format", "json"])
    assert result.exit_code == 3
    assert "could not grade" in result.output and "needs a Docker engine" in result.output
