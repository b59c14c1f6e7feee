"""Services in containers (`--services docker`): a MySQL or moto image started through the Docker SDK.

The container publishes its port on a free loopback port; once it answers, the ordinary backend
(MySQL over pymysql, or an external AWS endpoint) is built on its URL. The docker package is
imported only here, so nothing pays for it unless containers are asked for.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from grader.errors import ServiceError
from grader.services import Service, ServiceOptions

READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class ContainerSpec:
    """An image, the port it serves, and how its URL is written."""

    image: str
    port: int
    url: str  # with {port} for the published port
    option: str  # the ServiceOptions field the URL fills
    env: dict[str, str] = field(default_factory=dict)


CONTAINERS: dict[str, ContainerSpec] = {
    "sql": ContainerSpec(image="mysql:8.4", port=3306, url="mysql://root@127.0.0.1:{port}",
                         option="mysql_url", env={"MYSQL_ALLOW_EMPTY_PASSWORD": "yes"}),
    "aws": ContainerSpec(image="motoserver/moto:5.0.28", port=5000, url="http://127.0.0.1:{port}",
                         option="aws_endpoint"),
}


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # the SDK raises many kinds; each means "no engine"
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    return None


class ContainerService:
    """A service whose server runs in a container the grader starts and removes."""

    def __init__(self, name: str, spec: ContainerSpec, options: ServiceOptions,
                 make_inner: Callable[[ServiceOptions], Service]) -> None:
        self.name = name
        self.spec = spec
        self.options = options
        self.make_inner = make_inner
        self.inner: Service | None = None
        self.container: Any = None

    @property
    def backend(self) -> str:
        return f"{self.inner.backend if self.inner else self.name} in docker"

    def start(self) -> None:
        problem = engine_problem()
        if problem:
            raise ServiceError(f"--services docker needs a Docker engine: {problem}")
        import docker

        client = docker.from_env()
        self.container = client.containers.run(
            self.spec.image, detach=True, remove=True, environment=self.spec.env,
            ports={f"{self.spec.port}/tcp": ("127.0.0.1", None)}, labels={"dataeng-grader": self.name},
        )
        port = self._published_port()
        url = self.spec.url.format(port=port)
        self.inner = self.make_inner(replace(self.options, docker=False, **{self.spec.option: url}))
        deadline = time.monotonic() + READY_TIMEOUT
        while True:  # the port opens before the server inside is ready: retry the real start
            try:
                self.inner.start()
                return
            except ServiceError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(1)

    def _published_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.container.reload()
            bindings = (self.container.ports or {}).get(f"{self.spec.port}/tcp")
            if bindings:
                port = int(bindings[0]["HostPort"])
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        return port
            time.sleep(0.2)
        self.stop()
        raise ServiceError(f"the {self.spec.image} container published no port in time")

    def stop(self) -> None:
        if self.inner is not None:
            self.inner.stop()
        if self.container is not None:
            try:
                self.container.stop(timeout=5)
            except Exception:  # already gone
                pass
            self.container = None

    def reset(self) -> None:
        assert self.inner is not None
        self.inner.reset()

    def worker_env(self) -> dict[str, str]:
        return self.inner.worker_env() if self.inner else {}

    def worker_channels(self) -> dict[str, str]:
        return getattr(self.inner, "worker_channels", dict)() if self.inner else {}

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


def wrap(name: str, options: ServiceOptions, make: Callable[[ServiceOptions], Service]) -> Service:
    """`make(options)`, in a container when containers are asked for and no URL was given."""
    spec = CONTAINERS.get(name)
    if not options.docker or spec is None or getattr(options, spec.option):
        return make(options)
    return ContainerService(name, spec, options, make)
