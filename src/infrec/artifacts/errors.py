"""The one error type artifact access raises, so callers (registry checks, job workspaces, the CLI)
catch a single thing and show its message as is: every message names the URI or archive member."""

from __future__ import annotations


class ArtifactError(ValueError):
    """Reading, writing or unpacking an artifact failed; the message names the URI and the cause.

    A ValueError because it is, to the caller, bad input (a wrong URL, a hostile archive), not a bug.
    """


class ArchiveError(ArtifactError):
    """An archive was refused or could not be read; `member` names the offending entry when there is one."""

    def __init__(self, message: str, member: str | None = None) -> None:
        super().__init__(message)
        self.member = member
