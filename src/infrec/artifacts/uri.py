"""Reading and writing model data and sample payloads by URI: `file://` URIs, plain paths, `s3://`.

Local paths are read only under the folders the operator allows (`allow_files`): a served API would
otherwise read any file the server's user can (`file:///etc/shadow`, `/proc/self/environ`) for
whoever calls it. Outside those folders, or missing, every path gets the same answer, so the errors
cannot be used to learn which paths exist on the host.

S3 goes through boto3 with its standard configuration chain, so `AWS_ENDPOINT_URL` /
`AWS_ENDPOINT_URL_S3` (MinIO, moto's server, real S3), profiles and credentials all work as they do
for the AWS CLI; the region defaults to us-east-1 when nothing configures one. Every failure is an
`ArtifactError` whose message starts with the URI, so the registry can prefix the field name
("ModelDataUrl s3://b/k: no such key") and the user sees exactly what to fix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from infrec.artifacts.archive import archive_kind, default_max_bytes, member_path, safe_extract
from infrec.artifacts.errors import ArchiveError, ArtifactError

__all__ = [
    "ArtifactError", "allow_files", "allowed_file_roots", "check_readable", "download", "exists",
    "fetch_and_extract", "read_bytes", "size", "write_bytes",
]

_CHUNK = 1024 * 1024
_CLIENT_ENV = ("INFREC_S3_ADDRESSING_STYLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
               "AWS_SHARED_CREDENTIALS_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


@dataclass(frozen=True)
class _Local:
    uri: str
    path: Path


@dataclass(frozen=True)
class _S3:
    uri: str
    bucket: str
    key: str


# --- which local paths may be read ----------------------------------------------------------------

# None: any path this process can read (a program using the library directly is its own operator).
# The composition root (services.py) sets the operator's folders for the CLI and the server.
_file_roots: tuple[Path, ...] | None = None
ALLOW_FILES_HINT = "--allow-files DIR / INFREC_ALLOW_FILES"


def allow_files(roots: Iterable[Path] | None) -> None:
    """Read local files only under `roots` from now on (None: anywhere). Roots are resolved, so a
    symbolic link cannot smuggle a path out of them."""
    global _file_roots
    _file_roots = None if roots is None else tuple(Path(os.path.realpath(r)) for r in roots)


def allowed_file_roots() -> tuple[Path, ...] | None:
    return _file_roots


def _refused(uri: str) -> ArtifactError:
    """The one answer for a local path outside the allowed folders or missing in them."""
    where = ", ".join(str(r) for r in _file_roots or ()) or "none"
    return ArtifactError(f"{uri}: not an existing file or folder under the folders infrec may read "
                         f"(allowed: {where}; the operator adds folders with {ALLOW_FILES_HINT})")


def _guard(loc: _Local, must_exist: bool = True) -> None:
    if _file_roots is None:
        return
    real = Path(os.path.realpath(loc.path))  # symbolic links followed: where the bytes really are
    inside = any(real == r or r in real.parents for r in _file_roots)
    if not inside or (must_exist and not os.path.lexists(real)):
        raise _refused(loc.uri)


def _parse(uri: str, must_exist: bool = True) -> _Local | _S3:
    loc = _parse_uri(uri)
    if isinstance(loc, _Local):
        _guard(loc, must_exist)
    return loc


def _parse_uri(uri: str) -> _Local | _S3:
    if not isinstance(uri, str) or not uri.strip():
        raise ArtifactError(f"{uri!r}: empty artifact URI")
    if uri[:5].lower() == "s3://":
        # Not urlsplit: S3 keys are literal and may hold '?', '#' or '%'.
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise ArtifactError(f"{uri}: an S3 URI needs a bucket: s3://bucket/key")
        return _S3(uri, bucket, key)
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


# --- S3 client -------------------------------------------------------------------------------------

_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def s3_client() -> Any:
    """A boto3 S3 client built from the standard configuration (env, profile, config files).

    No endpoint_url is passed, so boto3 itself applies AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the
    config files' `endpoint_url`. Clients are cached per AWS environment, since creating one costs
    tens of milliseconds and the environment rarely changes within a process.
    """
    key = tuple(os.environ.get(k) for k in _CLIENT_ENV)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            region = session.region_name or "us-east-1"
            config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
            style = _addressing_style(session)
            if style:
                config = config.merge(Config(s3={"addressing_style": style}))
            client = session.client("s3", region_name=region, config=config)
            _clients[key] = client
        return client


def _addressing_style(session: Any) -> str | None:
    """Path-style addressing for self-hosted S3 (MinIO, moto, Ceph) unless the user chose a style.

    With a custom endpoint named by host (http://minio:9000), botocore would address buckets as
    `bucket.minio`, a name that rarely resolves; every S3 implementation, AWS's included, accepts
    `minio:9000/bucket`. $INFREC_S3_ADDRESSING_STYLE or the profile's `s3.addressing_style` win.
    """
    explicit = os.environ.get("INFREC_S3_ADDRESSING_STYLE", "").strip()
    if explicit:
        if explicit not in ("auto", "path", "virtual"):
            raise ArtifactError(f"INFREC_S3_ADDRESSING_STYLE={explicit!r}: use auto, path or virtual")
        return explicit
    try:
        scoped = session._session.get_scoped_config()
    except Exception:  # a broken profile is reported by the first real call, with its own message
        scoped = {}
    s3_cfg = scoped.get("s3")
    if isinstance(s3_cfg, dict) and s3_cfg.get("addressing_style"):
        return None
    custom = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
              or scoped.get("endpoint_url"))
    return "path" if custom else None


def _s3_error(loc: _S3, exc: Exception, what: str = "") -> ArtifactError:
    """Turn a botocore exception into one sentence a user can act on."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    prefix = f"{loc.uri}: " + (f"{what}: " if what else "")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return ArtifactError(f"{prefix}no such bucket {loc.bucket!r}")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ArtifactError(f"{prefix}no such key")
        if code in ("403", "Forbidden"):  # HEAD has no body: S3 answers 403 for a missing key too
            return ArtifactError(f"{prefix}access denied (or no such key: without s3:ListBucket "
                                 "S3 answers both with 403)")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return ArtifactError(f"{prefix}credentials refused by S3 ({code})")
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return ArtifactError(f"{prefix}access denied")
        return ArtifactError(f"{prefix}S3 error {code or status}: {exc.response.get('Error', {}).get('Message', exc)}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ArtifactError(f"{prefix}no AWS credentials configured (AWS_ACCESS_KEY_ID/AWS_PROFILE)")
    if isinstance(exc, EndpointConnectionError):
        return ArtifactError(f"{prefix}cannot reach the S3 endpoint: {exc}")
    return ArtifactError(f"{prefix}{type(exc).__name__}: {exc}")


def _botocore_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _s3_head(loc: _S3) -> dict[str, Any] | None:
    """head_object, or None when the key does not exist (a missing bucket is an error, not None)."""
    from botocore.exceptions import ClientError

    client = s3_client()
    try:
        return dict(client.head_object(Bucket=loc.bucket, Key=loc.key))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in ("404", "NoSuchKey", "NotFound"):
            raise _s3_error(loc, exc) from None
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc) from None
    # HEAD gives a bare 404 for a missing key and a missing bucket alike: ask the bucket.
    try:
        client.head_bucket(Bucket=loc.bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ArtifactError(f"{loc.uri}: no such bucket {loc.bucket!r}") from None
        raise _s3_error(loc, exc) from None
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc) from None
    return None


def _s3_prefix(loc: _S3) -> str:
    return loc.key if not loc.key or loc.key.endswith("/") else loc.key + "/"


def _s3_has_prefix(loc: _S3) -> bool:
    try:
        out = s3_client().list_objects_v2(Bucket=loc.bucket, Prefix=_s3_prefix(loc), MaxKeys=1)
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc) from None
    return bool(out.get("KeyCount") or out.get("Contents"))


def _s3_object_or_prefix(loc: _S3) -> str:
    """'object' or 'prefix' (SageMaker accepts an S3 prefix of uncompressed files); error if neither."""
    if loc.key and not loc.key.endswith("/") and _s3_head(loc) is not None:
        return "object"
    if not loc.key or loc.key.endswith("/"):
        _s3_head_bucket(loc)
    if _s3_has_prefix(loc):
        return "prefix"
    raise ArtifactError(f"{loc.uri}: no such key")


def _s3_head_bucket(loc: _S3) -> None:
    from botocore.exceptions import ClientError

    try:
        s3_client().head_bucket(Bucket=loc.bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ArtifactError(f"{loc.uri}: no such bucket {loc.bucket!r}") from None
        raise _s3_error(loc, exc) from None
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc) from None


def _need_key(loc: _S3) -> None:
    if not loc.key or loc.key.endswith("/"):
        raise ArtifactError(f"{loc.uri}: names a prefix, not an object")


# --- public API ------------------------------------------------------------------------------------

def read_bytes(uri: str, max_bytes: int | None = None) -> bytes:
    """The whole content of one file or S3 object; refuses more than `max_bytes` when given."""
    loc = _parse(uri)
    if isinstance(loc, _Local):
        try:
            if max_bytes is not None and loc.path.stat().st_size > max_bytes:
                raise ArtifactError(f"{uri}: larger than {max_bytes} bytes")
            return loc.path.read_bytes()
        except ArtifactError:
            raise
        except OSError as exc:
            raise _local_error(loc, exc) from None
    _need_key(loc)
    try:
        obj = s3_client().get_object(Bucket=loc.bucket, Key=loc.key)
        if max_bytes is not None and int(obj.get("ContentLength") or 0) > max_bytes:
            obj["Body"].close()
            raise ArtifactError(f"{uri}: larger than {max_bytes} bytes")
        return bytes(obj["Body"].read())
    except ArtifactError:
        raise
    except _botocore_errors() as exc:
        err = _s3_error(loc, exc)
    if "no such key" in str(err):
        _s3_head_bucket(loc)  # say "no such bucket" when that is the cause
    raise err


def write_bytes(uri: str, data: bytes) -> None:
    """Write `data` to a file (atomically, creating parent folders) or an S3 object."""
    loc = _parse(uri, must_exist=False)
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
    _need_key(loc)
    try:
        s3_client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc, "cannot write") from None


def exists(uri: str) -> bool:
    """Whether the file, folder, S3 object or non-empty S3 prefix exists. A missing bucket is False;
    access denied and unreachable endpoints raise, since "cannot tell" is not "does not exist"."""
    try:
        loc = _parse(uri)
    except ArtifactError:
        if isinstance(_parse_uri(uri), _Local):
            return False  # outside the allowed folders, or missing: the same answer either way
        raise
    if isinstance(loc, _Local):
        return loc.path.exists()
    try:
        _s3_object_or_prefix(loc)
    except ArtifactError as exc:
        if str(exc).endswith("no such key") or "no such bucket" in str(exc):
            return False
        raise
    return True


def size(uri: str) -> int:
    """Size in bytes of one file or S3 object."""
    loc = _parse(uri)
    if isinstance(loc, _Local):
        try:
            return loc.path.stat().st_size
        except OSError as exc:
            raise _local_error(loc, exc) from None
    _need_key(loc)
    head = _s3_head(loc)
    if head is None:
        raise ArtifactError(f"{uri}: no such key")
    return int(head.get("ContentLength") or 0)


def check_readable(uri: str) -> None:
    """Raise ArtifactError unless `uri` names something this process can read: a readable file or
    folder, an S3 object, or a non-empty S3 prefix. Used when registering a model, so a typo fails at
    registration rather than an hour into a recommendation job."""
    loc = _parse(uri)
    if isinstance(loc, _Local):
        p = loc.path
        if not p.exists():
            raise ArtifactError(f"{uri}: no such file or directory")
        if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
            raise ArtifactError(f"{uri}: permission denied")
        if not (p.is_file() or p.is_dir()):
            raise ArtifactError(f"{uri}: not a regular file or directory")
        return
    _s3_object_or_prefix(loc)


def download(uri: str, dest: Path, max_bytes: int | None = None) -> Path:
    """Copy one file or S3 object to `dest` (a file path, or an existing folder to put it in) and
    return the path written. Written to a temporary name first, so `dest` is never half a file."""
    loc = _parse(uri)
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
            _copy_to(loc, out, max_bytes)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _copy_to(loc: _Local | _S3, out: Any, max_bytes: int | None) -> None:
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
    _need_key(loc)
    try:
        obj = s3_client().get_object(Bucket=loc.bucket, Key=loc.key)
        for chunk in obj["Body"].iter_chunks(_CHUNK):
            put(chunk)
    except _botocore_errors() as exc:
        err = _s3_error(loc, exc)
        if "no such key" in str(err):
            _s3_head_bucket(loc)
        raise err from None


def fetch_and_extract(uri: str, dest_dir: Path, max_bytes: int | None = None) -> Path:
    """Bring an artifact into `dest_dir` and return `dest_dir`, the way SageMaker fills /opt/ml/model:

    - a tar (gz/bz2/xz) or zip archive is extracted safely (see `archive.safe_extract`);
    - any other single file is copied in under its own name;
    - a folder (or an S3 prefix) is copied in with its layout.
    `max_bytes` (default $INFREC_MAX_ARCHIVE_BYTES or 2 GiB) bounds both the download and what an
    archive may expand to.
    """
    loc = _parse(uri)
    dest_dir = Path(dest_dir)
    limit = default_max_bytes() if max_bytes is None else max_bytes
    if isinstance(loc, _Local):
        if loc.path.is_dir():
            _copy_local_tree(loc, dest_dir, limit)
            return dest_dir
        check_readable(uri)
        return _place_file(loc.uri, loc.path, loc.path.name, dest_dir, limit)
    kind = _s3_object_or_prefix(loc)
    if kind == "prefix":
        _copy_s3_prefix(loc, dest_dir, limit)
        return dest_dir
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest_dir.parent) as tmp:
        name = loc.key.rsplit("/", 1)[-1]
        local = download(uri, Path(tmp) / name, max_bytes=limit)
        return _place_file(uri, local, name, dest_dir, limit)


def _place_file(uri: str, path: Path, name: str, dest_dir: Path, limit: int) -> Path:
    try:
        kind = archive_kind(path)
    except OSError as exc:
        raise ArtifactError(f"{uri}: cannot read: {exc.strerror or exc}") from None
    if kind is not None:
        try:
            return safe_extract(path, dest_dir, max_total_bytes=limit)
        except ArchiveError as exc:
            raise ArchiveError(f"{uri}: {exc}".replace(f"{uri}: {path}: ", f"{uri}: "), exc.member) from None
    if path.stat().st_size > limit:
        raise ArtifactError(f"{uri}: larger than the limit of {limit} bytes")
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest_dir / name)
    return dest_dir


def _copy_local_tree(loc: _Local, dest_dir: Path, limit: int) -> None:
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


def _copy_s3_prefix(loc: _S3, dest_dir: Path, limit: int) -> None:
    prefix = _s3_prefix(loc)
    total = 0
    keys: list[tuple[str, Path]] = []
    try:
        for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix):
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
    except _botocore_errors() as exc:
        raise _s3_error(loc, exc) from None
    for key, dst in keys:
        download(f"s3://{loc.bucket}/{key}", dst, max_bytes=limit)


def _local_error(loc: _Local, exc: OSError) -> ArtifactError:
    import errno

    if exc.errno == errno.ENOENT:
        return ArtifactError(f"{loc.uri}: no such file or directory")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ArtifactError(f"{loc.uri}: permission denied")
    if exc.errno == errno.EISDIR:
        return ArtifactError(f"{loc.uri}: is a directory, not a file")
    return ArtifactError(f"{loc.uri}: {exc.strerror or exc}")
