"""Errors that map to HTTP statuses: the client's fault (4xx) or the model's (5xx)."""

from __future__ import annotations


class RequestError(Exception):
    """The request cannot be served as sent; `status` says how (400, 406, 413, 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelLoadError(Exception):
    """The model folder does not hold what the image needs; the message says what was found."""
