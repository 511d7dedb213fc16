"""Safe extraction of model and payload archives (tar, tar.gz/bz2/xz, zip).

Archives come from users and from S3 buckets other people can write to, so they are treated as
hostile: an entry may not land outside the target folder (absolute names, `..`, links that point
out, writing through a link), device files and FIFOs are refused, and the bytes actually written
are counted against a limit so a small archive cannot fill the disk. Everything is unpacked into a
staging folder next to the target first and moved in only when the whole archive was accepted, so a
refused archive leaves nothing behind — neither outside the target nor half-unpacked inside it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from infrec.artifacts.errors import ArchiveError

MAX_BYTES_ENV = "INFREC_MAX_ARCHIVE_BYTES"
MAX_MEMBERS_ENV = "INFREC_MAX_ARCHIVE_MEMBERS"
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_MEMBERS = 100_000
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def member_path(name: str) -> PurePosixPath | None:
    """The relative path an entry named `name` may occupy, or None for the archive root itself.

    Refuses absolute names (`/x`, `C:x`), any `..` component and NUL bytes. Shared with S3 prefix
    downloads, whose keys are just as untrusted.
    """
    if "\x00" in name:
        raise ArchiveError(f"member {name!r}: name contains a NUL byte", name)
    if name.startswith("/") or _DRIVE.match(name):
        raise ArchiveError(f"member {name!r}: absolute path refused", name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"member {name!r}: path with '..' refused (would leave the target folder)", name)
    return PurePosixPath(*parts) if parts else None


@dataclass
class _Link:
    name: str
    rel: PurePosixPath
    target: str


class _Writer:
    """Writes accepted entries under `root`, enforcing the limits; symlinks are made last."""

    def __init__(self, root: Path, max_bytes: int, max_members: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.written = 0
        self.members = 0
        self.current: str | None = None  # the member being read, for errors the readers raise
        self.files: dict[PurePosixPath, Path] = {}
        self.links: list[_Link] = []

    def count(self, name: str) -> None:
        self.current = name
        self.members += 1
        if self.members > self.max_members:
            raise ArchiveError(f"member {name!r}: archive has more than {self.max_members} entries "
                               f"(limit {MAX_MEMBERS_ENV})", name)

    def _target(self, name: str, rel: PurePosixPath) -> Path:
        """The path for `rel`, after making sure no existing component on the way is a link or file."""
        path = self.root.joinpath(*rel.parts)
        parent = self.root
        for part in rel.parts[:-1]:
            parent = parent / part
            if parent.is_symlink():
                raise ArchiveError(f"member {name!r}: would be written through the link {part!r}", name)
            if parent.exists() and not parent.is_dir():
                raise ArchiveError(f"member {name!r}: parent {part!r} is not a directory", name)
        parent.mkdir(parents=True, exist_ok=True)
        return path

    def _clear(self, name: str, path: Path) -> None:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.is_dir():
            raise ArchiveError(f"member {name!r}: a directory of that name already exists", name)

    def directory(self, name: str, rel: PurePosixPath | None) -> None:
        if rel is None:
            return
        path = self._target(name, rel)
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise ArchiveError(f"member {name!r}: a non-directory of that name already exists", name)
        path.mkdir(exist_ok=True)

    def file(self, name: str, rel: PurePosixPath | None, declared: int, data: IO[bytes], mode: int) -> None:
        if rel is None:
            raise ArchiveError(f"member {name!r}: a file cannot be the archive root", name)
        if declared > self.max_bytes - self.written:
            raise self._too_big(name)
        path = self._target(name, rel)
        self._clear(name, path)
        with open(path, "xb") as out:
            while chunk := data.read(_CHUNK):
                self.written += len(chunk)
                if self.written > self.max_bytes:
                    raise self._too_big(name)
                out.write(chunk)
        # Keep only the permission bits that matter; never setuid/setgid/sticky.
        os.chmod(path, 0o755 if mode & 0o111 else 0o644)
        self.files[rel] = path

    def hardlink(self, name: str, rel: PurePosixPath | None, target: str) -> None:
        if rel is None:
            raise ArchiveError(f"member {name!r}: a link cannot be the archive root", name)
        try:
            target_rel = member_path(target)
        except ArchiveError:
            raise ArchiveError(f"member {name!r}: hard link to {target!r} points outside the target folder",
                               name) from None
        source = self.files.get(target_rel) if target_rel is not None else None
        if source is None:
            raise ArchiveError(f"member {name!r}: hard link to {target!r}, which is not a regular file "
                               "extracted earlier from this archive", name)
        path = self._target(name, rel)
        self._clear(name, path)
        os.link(source, path)
        self.files[rel] = path

    def symlink(self, name: str, rel: PurePosixPath | None, target: str) -> None:
        if rel is None:
            raise ArchiveError(f"member {name!r}: a link cannot be the archive root", name)
        if not target or target.startswith("/") or _DRIVE.match(target) or "\x00" in target:
            raise ArchiveError(f"member {name!r}: symlink to {target!r} points outside the target folder", name)
        # Lexical check now (cheap, clear message); the resolved check after all links exist.
        joined = os.path.normpath(os.path.join(str(rel.parent), target))
        if joined == ".." or joined.startswith("../"):
            raise ArchiveError(f"member {name!r}: symlink to {target!r} points outside the target folder", name)
        self.links.append(_Link(name, rel, target))

    def finish_links(self) -> None:
        """Create symlinks only after every file is written, so no file is ever written through one,
        then check each resolves inside the root (catches chains of individually harmless links)."""
        for link in self.links:
            path = self._target(link.name, link.rel)
            self._clear(link.name, path)
            os.symlink(link.target, path)
        root = os.path.realpath(self.root)
        for link in self.links:
            resolved = os.path.realpath(self.root.joinpath(*link.rel.parts))
            if resolved != root and not resolved.startswith(root + os.sep):
                raise ArchiveError(f"member {link.name!r}: symlink to {link.target!r} resolves outside the "
                                   "target folder", link.name)

    def _too_big(self, name: str) -> ArchiveError:
        return ArchiveError(f"member {name!r}: archive expands past the limit of {self.max_bytes} bytes "
                            f"(set {MAX_BYTES_ENV} to change it)", name)


def _extract_tar(tf: tarfile.TarFile, w: _Writer) -> None:
    for m in tf:  # streaming iteration: a huge member is refused before it is decompressed
        w.count(m.name)
        rel = member_path(m.name)
        if m.isdir():
            w.directory(m.name, rel)
        elif m.isfile():
            data = tf.extractfile(m)
            if data is None:  # pragma: no cover - isfile() members always have data
                raise ArchiveError(f"member {m.name!r}: no data", m.name)
            w.file(m.name, rel, m.size, data, m.mode)
        elif m.issym():
            w.symlink(m.name, rel, m.linkname)
        elif m.islnk():
            w.hardlink(m.name, rel, m.linkname)
        elif m.ischr() or m.isblk():
            raise ArchiveError(f"member {m.name!r}: device file refused", m.name)
        elif m.isfifo():
            raise ArchiveError(f"member {m.name!r}: FIFO refused", m.name)
        else:
            raise ArchiveError(f"member {m.name!r}: unsupported entry type {m.type!r} refused", m.name)


def _extract_zip(zf: zipfile.ZipFile, w: _Writer) -> None:
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        w.count(name)
        rel = member_path(name)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if info.is_dir() or kind == stat.S_IFDIR:
            w.directory(name, rel)
        elif kind == stat.S_IFLNK:
            if info.file_size > 4096:
                raise ArchiveError(f"member {name!r}: symlink target longer than 4096 bytes", name)
            w.symlink(name, rel, zf.read(info).decode("utf-8", "replace"))
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            raise ArchiveError(f"member {name!r}: device file refused", name)
        elif kind == stat.S_IFIFO:
            raise ArchiveError(f"member {name!r}: FIFO refused", name)
        elif kind in (0, stat.S_IFREG):
            with zf.open(info) as data:
                w.file(name, rel, info.file_size, data, mode)
        else:
            raise ArchiveError(f"member {name!r}: unsupported entry type refused", name)


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None (not an archive we unpack), judged by content, not by file name."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    try:
        return "tar" if tarfile.is_tarfile(path) else None
    except (OSError, EOFError, zlib.error, tarfile.TarError):
        return None


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _move_into(src: Path, dest: Path) -> None:
    """Merge the staged tree into `dest`, replacing what is there; never follows a link in `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in list(src.iterdir()):
        target = dest / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir() and not target.is_symlink():
            _move_into(entry, target)
            continue
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)


def safe_extract(archive_path: Path, dest_dir: Path, max_total_bytes: int | None = None,
                 max_members: int | None = None) -> Path:
    """Unpack a tar (optionally gz/bz2/xz) or zip archive into `dest_dir` and return `dest_dir`.

    Raises ArchiveError naming the member for: absolute names, `..`, symlinks or hard links that point
    outside, device files and FIFOs, more than `max_members` entries, or more than `max_total_bytes`
    bytes actually written (defaults: 2 GiB and 100 000; the operator's INFREC_MAX_ARCHIVE_BYTES and
    INFREC_MAX_ARCHIVE_MEMBERS reach here through `FileAccess`). On any error nothing of the archive
    is left in `dest_dir` or anywhere else.
    """
    archive_path = Path(archive_path)
    dest_dir = Path(dest_dir)
    max_bytes = DEFAULT_MAX_BYTES if max_total_bytes is None else max_total_bytes
    members = DEFAULT_MAX_MEMBERS if max_members is None else max_members
    if not archive_path.is_file():
        raise ArchiveError(f"{archive_path}: no such archive file")
    kind = archive_kind(archive_path)
    if kind is None:
        raise ArchiveError(f"{archive_path}: not a tar or zip archive")
    with _staging(dest_dir) as stage:
        writer = _Writer(stage, max_bytes, members)
        try:
            if kind == "zip":
                with zipfile.ZipFile(archive_path) as zf:
                    _extract_zip(zf, writer)
            else:
                with tarfile.open(archive_path, mode="r:*") as tf:
                    _extract_tar(tf, writer)
            writer.finish_links()
        except ArchiveError as exc:
            raise ArchiveError(f"{archive_path}: {exc}", exc.member) from None
        except (OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile, NotImplementedError) as exc:
            where = f" at member {writer.current!r}" if writer.current else ""
            raise ArchiveError(f"{archive_path}: corrupt or unreadable archive{where}: {exc}",
                               writer.current) from exc
        _move_into(stage, dest_dir)
    return dest_dir
