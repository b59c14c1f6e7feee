"""Backends the hidden tests grade against: a name maps to a factory of a Service."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Protocol

from grader.errors import UsageError


@dataclass(frozen=True)
class ServiceOptions:
    """What the command line said about backends."""

    mysql_url: str | None = None
    aws_endpoint: str | None = None
    docker: bool = False


class Service(Protocol):
    name: str
    backend: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...

    def worker_env(self) -> dict[str, str]: ...


# name -> "module:factory"; imported only when an exercise needs the service.
SERVICES: dict[str, str] = {
    "sql": "grader.services.sql:make_service",
    "aws": "grader.services.aws:make_service",
    "learner_db": "grader.services.sql.learner_db:make_service",
}


def factory(name: str) -> Callable[[ServiceOptions], Service]:
    """The factory of service `name`, imported on first use; with `docker`, in a container."""
    try:
        target = SERVICES[name]
    except KeyError:
        raise UsageError(f"unknown service {name!r}; known services: {', '.join(sorted(SERVICES))}") from None
    module, _, attr = target.partition(":")
    make = getattr(importlib.import_module(module), attr)

    def build(options: ServiceOptions) -> Service:
        if not options.docker:
            return make(options)
        from grader.services import docker

        return docker.wrap(name, options, make)

    return build
