"""Artifacts by file:// URI and plain path: what an embedded install uses for model data and payloads."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from infrec.artifacts.errors import ArchiveError, ArtifactError
from infrec.artifacts.uri import FileAccess

files = FileAccess()  # any local path: a program building its own services reads as it likes


def test_write_read_exists_with_file_uri_and_plain_path(tmp_path: Path) -> None:
    target = tmp_path / "with space" / "deep" / "x.bin"
    u = target.as_uri()  # percent-encodes the space
    assert "%20" in u
    assert not files.exists(u)
    files.write_bytes(u, b"data")
    assert files.read_bytes(u) == b"data"
    assert files.read_bytes(str(target)) == b"data"
    assert files.exists(str(target)) and files.size(u) == 4
    files.check_readable(u)
    files.check_readable(str(target.parent))  # a folder of model files is readable too
    assert not [p for p in target.parent.iterdir() if p.name != "x.bin"]  # no temp file left


def test_missing_and_unreadable_are_named(tmp_path: Path) -> None:
    missing = (tmp_path / "nope.tar.gz").as_uri()
    with pytest.raises(ArtifactError) as info:
        files.check_readable(missing)
    assert str(info.value) == f"{missing}: no such file or directory"
    with pytest.raises(ArtifactError, match="no such file"):
        files.read_bytes(missing)
    with pytest.raises(ArtifactError, match="must name a local path"):
        files.check_readable("file://otherhost/x")


def test_unreadable_is_named_as_permission_denied() -> None:
    """A file with no permissions is refused by name. Root reads everything, so as root the check
    runs in a forked child that has dropped to `nobody` first (no exec: the interpreter's files need
    not be readable to it) — the branch runs either way."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="infrec-perm-"))
    secret = folder / "secret"
    try:
        folder.chmod(0o755)                      # anyone may look inside; only the file is closed
        secret.write_bytes(b"s")
        secret.chmod(0)
        if os.geteuid() != 0:
            with pytest.raises(ArtifactError, match="permission denied"):
                files.check_readable(str(secret))
            return
        assert _as_nobody(lambda: _check_message(str(secret))) == f"{secret}: permission denied"
    finally:
        secret.unlink(missing_ok=True)
        folder.rmdir()


def test_fetch_and_extract_local(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("model.joblib")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    archive = tmp_path / "src" / "model.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(buf.getvalue())
    out = files.fetch_and_extract(archive.as_uri(), tmp_path / "m")
    assert (out / "model.joblib").read_bytes() == b"abc"

    body = tmp_path / "src" / "one.csv"
    body.write_bytes(b"1,2\n")
    assert (files.fetch_and_extract(str(body), tmp_path / "p") / "one.csv").read_bytes() == b"1,2\n"

    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "two.json").write_bytes(b"[]")
    out = files.fetch_and_extract((tmp_path / "src").as_uri(), tmp_path / "tree")
    assert (out / "sub" / "two.json").read_bytes() == b"[]"
    assert (out / "model.tar.gz").exists()  # a folder is copied as it is, not unpacked


def test_local_folder_with_link_outside_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    (src / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ArtifactError, match=r"leak\.txt links outside"):
        files.fetch_and_extract(str(src), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_local_hostile_archive_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("/etc/infrec-pwned")
        tf.addfile(info, io.BytesIO(b""))
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(buf.getvalue())
    with pytest.raises(ArchiveError, match=r"evil.tar.gz: member '/etc/infrec-pwned': absolute path refused"):
        files.fetch_and_extract(evil.as_uri(), tmp_path / "out")
    assert not Path("/etc/infrec-pwned").exists()


def _check_message(path: str) -> str:
    try:
        files.check_readable(path)
    except ArtifactError as exc:
        return str(exc)
    return "readable"


def _as_nobody(fn: Callable[[], str]) -> str:
    """`fn()` in a forked child running as uid/gid 65534; its answer comes back through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, fn().encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        answer = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, answer
    return answer
