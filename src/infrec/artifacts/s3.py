"""S3 for artifacts: a boto3 client from the standard configuration chain, and botocore's failures
turned into one sentence each.

S3 goes through boto3 with its standard configuration chain, so `AWS_ENDPOINT_URL` /
`AWS_ENDPOINT_URL_S3` (MinIO, moto's server, real S3), profiles and credentials all work as they do
for the AWS CLI; the region defaults to us-east-1 when nothing configures one.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from infrec.artifacts.errors import ArtifactError

# The AWS variables boto3 reads: a client is cached per combination of them (and the style).
_CLIENT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
               "AWS_SHARED_CREDENTIALS_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


@dataclass(frozen=True)
class S3Location:
    uri: str
    bucket: str
    key: str


_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def s3_client(style: str | None = None) -> Any:
    """A boto3 S3 client built from the standard configuration (env, profile, config files).

    No endpoint_url is passed, so boto3 itself applies AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the
    config files' `endpoint_url`. `style`: the operator's addressing style (auto, path, virtual), None
    for `_addressing_style`'s choice. Clients are cached per AWS environment, since creating one costs
    tens of milliseconds and the environment rarely changes within a process.
    """
    key = (style, *(os.environ.get(k) for k in _CLIENT_ENV))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            region = session.region_name or "us-east-1"
            config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
            chosen = style or _addressing_style(session)
            if chosen:
                config = config.merge(Config(s3={"addressing_style": chosen}))
            client = session.client("s3", region_name=region, config=config)
            _clients[key] = client
        return client


def _addressing_style(session: Any) -> str | None:
    """Path-style addressing for self-hosted S3 (MinIO, moto, Ceph) unless the user chose a style.

    With a custom endpoint named by host (http://minio:9000), botocore would address buckets as
    `bucket.minio`, a name that rarely resolves; every S3 implementation, AWS's included, accepts
    `minio:9000/bucket`. INFREC_S3_ADDRESSING_STYLE (the caller's `style`) or the profile's
    `s3.addressing_style` win.
    """
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


def s3_error(loc: S3Location, exc: Exception, what: str = "") -> ArtifactError:
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


def botocore_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def s3_head(client: Any, loc: S3Location) -> dict[str, Any] | None:
    """head_object, or None when the key does not exist (a missing bucket is an error, not None)."""
    from botocore.exceptions import ClientError

    try:
        return dict(client.head_object(Bucket=loc.bucket, Key=loc.key))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in ("404", "NoSuchKey", "NotFound"):
            raise s3_error(loc, exc) from None
    except botocore_errors() as exc:
        raise s3_error(loc, exc) from None
    # HEAD gives a bare 404 for a missing key and a missing bucket alike: ask the bucket.
    s3_head_bucket(client, loc)
    return None


def s3_prefix(loc: S3Location) -> str:
    return loc.key if not loc.key or loc.key.endswith("/") else loc.key + "/"


def s3_has_prefix(client: Any, loc: S3Location) -> bool:
    try:
        out = client.list_objects_v2(Bucket=loc.bucket, Prefix=s3_prefix(loc), MaxKeys=1)
    except botocore_errors() as exc:
        raise s3_error(loc, exc) from None
    return bool(out.get("KeyCount") or out.get("Contents"))


def s3_object_or_prefix(client: Any, loc: S3Location) -> str:
    """'object' or 'prefix' (SageMaker accepts an S3 prefix of uncompressed files); error if neither."""
    if loc.key and not loc.key.endswith("/") and s3_head(client, loc) is not None:
        return "object"
    if not loc.key or loc.key.endswith("/"):
        s3_head_bucket(client, loc)
    if s3_has_prefix(client, loc):
        return "prefix"
    raise ArtifactError(f"{loc.uri}: no such key")


def s3_head_bucket(client: Any, loc: S3Location) -> None:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=loc.bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ArtifactError(f"{loc.uri}: no such bucket {loc.bucket!r}") from None
        raise s3_error(loc, exc) from None
    except botocore_errors() as exc:
        raise s3_error(loc, exc) from None


def need_key(loc: S3Location) -> None:
    if not loc.key or loc.key.endswith("/"):
        raise ArtifactError(f"{loc.uri}: names a prefix, not an object")
