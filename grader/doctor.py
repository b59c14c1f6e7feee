"""`grade doctor`: what this machine gives the grader, each finding a line a person can act on."""
from __future__ import annotations

import os
import sys

from grader.sandbox import NAMESPACES, detect
from grader.sandbox.jail import LEVEL_ENV

Finding = tuple[str, bool, str]  # (what, holds, one line)


def sandbox_findings() -> list[Finding]:
    level = detect()
    findings: list[Finding] = [("sandbox", level.name == NAMESPACES, f"{level.name}: {level.reason}")]
    if level.name == NAMESPACES:
        caps = {
            "cgroup": (True, "a cgroup per grade caps processes, threads and memory of all learner processes"),
            "rlimit": (True, "RLIMIT_NPROC caps processes and threads per sandbox; memory is capped per process"),
            "": (False, "no process cap: the grader runs as root and may make no cgroup here "
                        "(memory, CPU time and file size are still capped per process)"),
        }
        held, text = caps[level.cap]
        findings.append(("process cap", held, text))
        findings.append(("bwrap", True, level.bwrap))
    else:
        findings.append(("fix", False, f"on Linux with user namespaces enabled and {LEVEL_ENV} unset, learner "
                                       "code runs in a namespace sandbox; until then use --require-sandbox "
                                       "where strangers' code is graded"))
    return findings


def course_finding() -> Finding:
    from grader import catalog
    from grader.errors import GraderError

    try:
        return ("course", True, str(catalog.find_root()))
    except GraderError as exc:
        return ("course", False, str(exc))


def service_findings() -> list[Finding]:
    findings: list[Finding] = []
    url = os.environ.get("GRADER_MYSQL_URL")
    if url:
        from grader.services.sql import MysqlUrl

        parsed = MysqlUrl.parse(url)
        findings.append(("mysql", True, f"GRADER_MYSQL_URL points at {parsed.host}:{parsed.port}"))
    else:
        findings.append(("mysql", True, "not set: SQL exercises grade on embedded SQLite"))
    from grader.services.docker import engine_problem

    problem = engine_problem()
    findings.append(("docker", problem is None, problem or "an engine answers: --services docker works"))
    return findings


def diagnose() -> list[Finding]:
    """Every finding, sandbox first."""
    python = ("python", True, f"{sys.version.split()[0]} at {sys.executable}")
    return [*sandbox_findings(), python, course_finding(), *service_findings()]
