"""The grader's exceptions; only cli.py turns them into messages and exit codes."""
from __future__ import annotations


class GraderError(Exception):
    """Base class of every error the grader reports to a person."""


class UsageError(GraderError):
    """The command was asked for something that does not exist (exit 2)."""


class UnknownExercise(UsageError):
    """No exercise has that slug."""


class CatalogError(GraderError):
    """An exercise's files or exercise.toml are malformed."""


class ServiceError(GraderError):
    """A backend service (database, AWS endpoint) could not be started or reached (exit 3)."""


class SandboxError(ServiceError):
    """The sandbox for learner code could not start or run: a fault of the grader's machine (exit 3)."""


class SandboxUnavailable(SandboxError):
    """Grading was asked to require the namespace sandbox and this machine cannot give one (exit 3)."""


class UnsupportedOnBackend(ServiceError):
    """The backend cannot do what a hidden test asked (e.g. simulate Kinesis lag on an external endpoint)."""


class PublishError(GraderError):
    """The course cannot be published as asked (it does not validate, or a check cannot be split)."""
