"""Errors the services raise, named as SageMaker names them, so every front end (API, CLI, web)
reports the same thing the same way. The API maps `code` to the AWS JSON protocol's `__type`."""

from __future__ import annotations


class InfrecError(Exception):
    code = "InternalFailure"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(InfrecError):
    code = "ValidationException"
    http_status = 400


class NotFoundError(InfrecError):
    code = "ResourceNotFound"
    http_status = 404


class ConflictError(InfrecError):
    code = "ConflictException"
    http_status = 409


class ResourceInUseError(InfrecError):
    code = "ResourceInUse"
    http_status = 409


class AccessDeniedError(InfrecError):
    """The caller asked for something only the operator may allow (running a command on the host,
    reading a host path); the message names the setting that would allow it."""

    code = "AccessDeniedException"
    http_status = 403


class JobStopped(Exception):
    """A job's run was told to stop (a user's Stop, or this process shutting down), wherever it was:
    waiting for the host, starting an endpoint or measuring. The one stop exception of every job
    kind; it lives here so the executors can raise it without knowing about jobs."""
