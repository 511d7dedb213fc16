"""Reading and writing model data and sample payloads by URI: `file://` URIs, plain paths, `s3://`.

`FileAccess` is the one way in: the composition root builds it from the settings and hands it to the
registry, the job workspace and whatever else reads artifacts. Local paths are read only under the
folders the operator allows (`roots`): a served API would otherwise read any file the server's user
can (`file:///etc/shadow`, `/proc/self/environ`) for whoever calls it. Outside those folders, or
missing, every path gets the same answer, so the errors cannot be used to learn which paths exist
on the host.

S3 goes through boto3's standard configuration chain (`infrec.artifacts.s3`). Every failure is an
`ArtifactError` whose message starts with the URI, so the registry can prefix the field name
("ModelDataUrl s3://b/k: no such key") and the user sees exactly what to fix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from infrec.artifacts.archive import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    archive_kind,
    member_path,
    safe_extract,
)
from infrec.artifacts.errors import ArchiveError, ArtifactError
from infrec.artifacts.s3 import (
    S3Location,
    botocore_errors,
    need_key,
    s3_client,
    s3_error,
    s3_head,
    s3_head_bucket,
    s3_object_or_prefix,
    s3_prefix,
)

if TYPE_CHECKING:
    from infrec.config import Settings

__all__ = ["ALLOW_FILES_HINT", "ArtifactError", "FileAccess"]

_CHUNK = 1024 * 1024
ALLOW_FILES_HINT = "--allow-files DIR / INFREC_ALLOW_FILES"


@dataclass(frozen=True)
class _Local:
    uri: str
    path: Path


def _parse_uri(uri: str) -> _Local | S3Location:
    if not isinstance(uri, str) or not uri.strip():
        raise ArtifactError(f"{uri!r}: empty artifact URI")
    if uri[:5].lower() == "s3://":
        # Not urlsplit: S3 keys are literal and may hold '?', '#' or '%'.
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise ArtifactError(f"{uri}: an S3 URI needs a bucket: s3://bucket/key")
        return S3Location(uri, bucket, key)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ArtifactError(f"{uri}: file:// URIs must name a local path (file:///abs/path)")
        if not parts.path:
            raise ArtifactError(f"{uri}: file:// URI without a path")
        return _Local(uri, Path(unquote(parts.path)))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return _Local(uri, Path(uri).expanduser())
    raise ArtifactError(f"{uri}: unsupported scheme {parts.scheme!r} (use file://, a path, or s3://)")


def _resolved(roots: Iterable[Path] | None) -> tuple[Path, ...] | None:
    """Roots with symbolic links resolved, so a link cannot smuggle a path out of them."""
    return None if roots is None else tuple(Path(os.path.realpath(r)) for r in roots)


@dataclass(frozen=True)
class FileAccess:
    """Which local folders artifacts may come from, the archive limits and the S3 addressing style:
    every read and write of an artifact goes through one of these.

    `roots` None: any path this process can read (a program using the library directly is its own
    operator); the composition root passes the operator's folders for the CLI and the server.
    """

    roots: tuple[Path, ...] | None = None
    max_archive_bytes: int = DEFAULT_MAX_BYTES
    max_archive_members: int = DEFAULT_MAX_MEMBERS
    s3_addressing_style: str | None = None
    _resolved_roots: tuple[Path, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_resolved_roots", _resolved(self.roots))

    @classmethod
    def from_settings(cls, settings: Settings) -> FileAccess:
        """Confined to `settings.file_roots()` where the settings confine local paths."""
        return cls(roots=settings.file_roots() if settings.confine_files else None,
                   max_archive_bytes=settings.max_archive_bytes, max_archive_members=settings.max_archive_members,
                   s3_addressing_style=settings.s3_addressing_style)

    def anywhere(self) -> FileAccess:
        """The same limits with any local path readable: for a Ray node, whose paths are its own and
        whose artifacts the control process checked when they were registered."""
        return FileAccess(None, self.max_archive_bytes, self.max_archive_members, self.s3_addressing_style)

    def client(self) -> Any:
        return s3_client(self.s3_addressing_style)

    # --- which local paths may be read ---------------------------------------------------------------

    def _refused(self, uri: str) -> ArtifactError:
        """The one answer for a local path outside the allowed folders or missing in them."""
        where = ", ".join(str(r) for r in self._resolved_roots or ()) or "none"
        return ArtifactError(f"{uri}: not an existing file or folder under the folders infrec may read "
                             f"(allowed: {where}; the operator adds folders with {ALLOW_FILES_HINT})")

    def _guard(self, loc: _Local, must_exist: bool = True) -> None:
        roots = self._resolved_roots
        if roots is None:
            return
        real = Path(os.path.realpath(loc.path))  # symbolic links followed: where the bytes really are
        inside = any(real == r or r in real.parents for r in roots)
        if not inside or (must_exist and not os.path.lexists(real)):
            raise self._refused(loc.uri)

    def _parse(self, uri: str, must_exist: bool = True) -> _Local | S3Location:
        loc = _parse_uri(uri)
        if isinstance(loc, _Local):
            self._guard(loc, must_exist)
        return loc

    # --- operations ----------------------------------------------------------------------------------

    def read_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The whole content of one file or S3 object; refuses more than `max_bytes` when given."""
        loc = self._parse(uri)
        if isinstance(loc, _Local):
            try:
                if max_bytes is not None and loc.path.stat().st_size > max_bytes:
                    raise ArtifactError(f"{uri}: larger than {max_bytes} bytes")
                return loc.path.read_bytes()
            except ArtifactError:
                raise
            except OSError as exc:
                raise _local_error(loc, exc) from None
        need_key(loc)
        try:
            obj = self.client().get_object(Bucket=loc.bucket, Key=loc.key)
            if max_bytes is not None and int(obj.get("ContentLength") or 0) > max_bytes:
                obj["Body"].close()
                raise ArtifactError(f"{uri}: larger than {max_bytes} bytes")
            return bytes(obj["Body"].read())
        except ArtifactError:
            raise
        except botocore_errors() as exc:
            err = s3_error(loc, exc)
        if "no such key" in str(err):
            s3_head_bucket(self.client(), loc)  # say "no such bucket" when that is the cause
        raise err

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write `data` to a file (atomically, creating parent folders) or an S3 object."""
        loc = self._parse(uri, must_exist=False)
        if isinstance(loc, _Local):
            try:
                loc.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{loc.path.name}.", dir=loc.path.parent)
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                    os.chmod(tmp, 0o644)  # mkstemp makes 0600; a written artifact is an ordinary file
                    os.replace(tmp, loc.path)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise _local_error(loc, exc) from None
            return
        need_key(loc)
        try:
            self.client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
        except botocore_errors() as exc:
            raise s3_error(loc, exc, "cannot write") from None

    def exists(self, uri: str) -> bool:
        """Whether the file, folder, S3 object or non-empty S3 prefix exists. A missing bucket is False;
        access denied and unreachable endpoints raise, since "cannot tell" is not "does not exist"."""
        try:
            loc = self._parse(uri)
        except ArtifactError:
            if isinstance(_parse_uri(uri), _Local):
                return False  # outside the allowed folders, or missing: the same answer either way
            raise
        if isinstance(loc, _Local):
            return loc.path.exists()
        try:
            s3_object_or_prefix(self.client(), loc)
        except ArtifactError as exc:
            if str(exc).endswith("no such key") or "no such bucket" in str(exc):
                return False
            raise
        return True

    def size(self, uri: str) -> int:
        """Size in bytes of one file or S3 object."""
        loc = self._parse(uri)
        if isinstance(loc, _Local):
            try:
                return loc.path.stat().st_size
            except OSError as exc:
                raise _local_error(loc, exc) from None
        need_key(loc)
        head = s3_head(self.client(), loc)
        if head is None:
            raise ArtifactError(f"{uri}: no such key")
        return int(head.get("ContentLength") or 0)

    def check_readable(self, uri: str) -> None:
        """Raise ArtifactError unless `uri` names something this process can read: a readable file or
        folder, an S3 object, or a non-empty S3 prefix. Used when registering a model, so a typo fails at
        registration rather than an hour into a recommendation job."""
        loc = self._parse(uri)
        if isinstance(loc, _Local):
            p = loc.path
            if not p.exists():
                raise ArtifactError(f"{uri}: no such file or directory")
            if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
                raise ArtifactError(f"{uri}: permission denied")
            if not (p.is_file() or p.is_dir()):
                raise ArtifactError(f"{uri}: not a regular file or directory")
            return
        s3_object_or_prefix(self.client(), loc)

    def download(self, uri: str, dest: Path, max_bytes: int | None = None) -> Path:
        """Copy one file or S3 object to `dest` (a file path, or an existing folder to put it in) and
        return the path written. Written to a temporary name first, so `dest` is never half a file."""
        loc = self._parse(uri)
        dest = Path(dest)
        name = loc.path.name if isinstance(loc, _Local) else loc.key.rsplit("/", 1)[-1]
        if dest.is_dir():
            if not name:
                raise ArtifactError(f"{uri}: names a prefix, not an object")
            dest = dest / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                self._copy_to(loc, out, max_bytes)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def _copy_to(self, loc: _Local | S3Location, out: Any, max_bytes: int | None) -> None:
        written = 0

        def put(chunk: bytes) -> None:
            nonlocal written
            written += len(chunk)
            if max_bytes is not None and written > max_bytes:
                raise ArtifactError(f"{loc.uri}: larger than the limit of {max_bytes} bytes")
            out.write(chunk)

        if isinstance(loc, _Local):
            try:
                if loc.path.is_dir():
                    raise ArtifactError(f"{loc.uri}: is a directory, not a file")
                with open(loc.path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        put(chunk)
            except OSError as exc:
                raise _local_error(loc, exc) from None
            return
        need_key(loc)
        try:
            obj = self.client().get_object(Bucket=loc.bucket, Key=loc.key)
            for chunk in obj["Body"].iter_chunks(_CHUNK):
                put(chunk)
        except botocore_errors() as exc:
            err = s3_error(loc, exc)
            if "no such key" in str(err):
                s3_head_bucket(self.client(), loc)
            raise err from None

    def fetch_and_extract(self, uri: str, dest_dir: Path, max_bytes: int | None = None) -> Path:
        """Bring an artifact into `dest_dir` and return `dest_dir`, the way SageMaker fills /opt/ml/model:

        - a tar (gz/bz2/xz) or zip archive is extracted safely (see `archive.safe_extract`);
        - any other single file is copied in under its own name;
        - a folder (or an S3 prefix) is copied in with its layout.
        `max_bytes` (default `max_archive_bytes`) bounds both the download and what an
        archive may expand to.
        """
        loc = self._parse(uri)
        dest_dir = Path(dest_dir)
        limit = self.max_archive_bytes if max_bytes is None else max_bytes
        if isinstance(loc, _Local):
            if loc.path.is_dir():
                self._copy_local_tree(loc, dest_dir, limit)
                return dest_dir
            self.check_readable(uri)
            return self._place_file(loc.uri, loc.path, loc.path.name, dest_dir, limit)
        kind = s3_object_or_prefix(self.client(), loc)
        if kind == "prefix":
            self._copy_s3_prefix(loc, dest_dir, limit)
            return dest_dir
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest_dir.parent) as tmp:
            name = loc.key.rsplit("/", 1)[-1]
            local = self.download(uri, Path(tmp) / name, max_bytes=limit)
            return self._place_file(uri, local, name, dest_dir, limit)

    def _place_file(self, uri: str, path: Path, name: str, dest_dir: Path, limit: int) -> Path:
        try:
            kind = archive_kind(path)
        except OSError as exc:
            raise ArtifactError(f"{uri}: cannot read: {exc.strerror or exc}") from None
        if kind is not None:
            try:
                return safe_extract(path, dest_dir, max_total_bytes=limit, max_members=self.max_archive_members)
            except ArchiveError as exc:
                raise ArchiveError(f"{uri}: {exc}".replace(f"{uri}: {path}: ", f"{uri}: "), exc.member) from None
        if path.stat().st_size > limit:
            raise ArtifactError(f"{uri}: larger than the limit of {limit} bytes")
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest_dir / name)
        return dest_dir

    def _copy_local_tree(self, loc: _Local, dest_dir: Path, limit: int) -> None:
        """Copy a folder's regular files; links are followed only when they stay inside the folder."""
        root = loc.path.resolve()
        total = 0
        plan: list[tuple[Path, Path]] = []
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                src = Path(dirpath) / f
                real = src.resolve()
                if real != root and root not in real.parents:
                    raise ArtifactError(f"{loc.uri}: {src.relative_to(root)} links outside the folder")
                if not real.is_file():
                    continue
                total += real.stat().st_size
                if total > limit:
                    raise ArtifactError(f"{loc.uri}: folder holds more than the limit of {limit} bytes")
                plan.append((real, dest_dir / src.relative_to(root)))
        try:
            for src, dst in plan:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        except OSError as exc:
            raise _local_error(loc, exc) from None

    def _copy_s3_prefix(self, loc: S3Location, dest_dir: Path, limit: int) -> None:
        prefix = s3_prefix(loc)
        total = 0
        keys: list[tuple[str, Path]] = []
        try:
            for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rel = member_path(obj["Key"][len(prefix):])
                    if rel is None or obj["Key"].endswith("/"):
                        continue  # "folder" marker objects
                    total += int(obj.get("Size") or 0)
                    if total > limit:
                        raise ArtifactError(f"{loc.uri}: prefix holds more than the limit of {limit} bytes")
                    keys.append((obj["Key"], dest_dir.joinpath(*rel.parts)))
        except ArchiveError as exc:
            raise ArtifactError(f"{loc.uri}: key {exc.member!r} refused: {exc}") from None
        except botocore_errors() as exc:
            raise s3_error(loc, exc) from None
        for key, dst in keys:
            self.download(f"s3://{loc.bucket}/{key}", dst, max_bytes=limit)




def _local_error(loc: _Local, exc: OSError) -> ArtifactError:
    import errno

    if exc.errno == errno.ENOENT:
        return ArtifactError(f"{loc.uri}: no such file or directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ArtifactError(f"{loc.uri}: permission denied")
    if exc.errno == errno.EISDIR:
        return ArtifactError(f"{loc.uri}: is a directory, not a file")
    return ArtifactError(f"{loc.uri}: {exc.strerror or exc}")
