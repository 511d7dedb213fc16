"""`infrec recommend`'s arguments turned into SageMaker's request fields, each checked against
botocore's constraints (or the payload archive itself) and refused with the option's name before
anything is registered or created."""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from infrec.cli.errors import usage
from infrec.core.content_types import content_type_of

# botocore's patterns for CreateInferenceRecommendationsJob (service-2.json of sagemaker).
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")
ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
VPC_ID = re.compile(r"[-0-9a-zA-Z]{1,32}")
CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(\s*;.*)?")
DEFAULT_CONTENT_TYPE = "application/json"


def split_values(values: list[str] | None) -> list[str]:
    """Options given repeated (`--x a --x b`) or comma-separated (`--x a,b`), as the AWS CLI takes lists."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def parse_latency(text: str) -> dict[str, Any]:
    """`P95:50ms` → a ModelLatencyThreshold."""
    m = re.fullmatch(r"\s*(P50|P90|P95|P99)\s*:\s*(\d+)\s*(ms)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise usage(f"--latency {text!r}: expected PERCENTILE:VALUEms, e.g. P95:50ms")
    return {"Percentile": m.group(1).upper(), "ValueInMilliseconds": int(m.group(2))}


def parse_env(items: list[str] | None) -> dict[str, str]:
    environment = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise usage(f"--env {item!r}: expected KEY=VALUE")
        environment[k] = v
    return environment


def local_uri(path_or_uri: str, option: str) -> str:
    """A URI as given, or a local path as its file:// URI (it must exist)."""
    if "://" in path_or_uri:
        return path_or_uri
    p = Path(path_or_uri).expanduser().absolute()
    if not p.exists():
        raise usage(f"{option} {path_or_uri}: no such file")
    return p.as_uri()


def check_job_name(name: str) -> str:
    if not JOB_NAME.fullmatch(name):
        raise usage(f"--job-name {name!r}: 1 to 64 letters, digits and hyphens, starting and ending with a letter "
                    "or digit")
    return name


def check_role_arn(arn: str) -> str:
    if not (20 <= len(arn) <= 2048 and ROLE_ARN.fullmatch(arn)):
        raise usage(f"--role-arn {arn!r} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)")
    return arn


def vpc_config(subnets: list[str], groups: list[str]) -> dict[str, list[str]] | None:
    """InputConfig.VpcConfig from --vpc-subnets and --vpc-security-group-ids (both or neither)."""
    if not subnets and not groups:
        return None
    if not subnets or not groups:
        missing = "--vpc-subnets" if not subnets else "--vpc-security-group-ids"
        raise usage(f"{missing} is needed too: a VpcConfig names both subnets and security groups")
    for option, ids, most in (("--vpc-subnets", subnets, 16), ("--vpc-security-group-ids", groups, 5)):
        if len(ids) > most:
            raise usage(f"{option}: at most {most} ids, not {len(ids)}")
        bad = [i for i in ids if not VPC_ID.fullmatch(i)]
        if bad:
            raise usage(f"{option} {bad[0]!r}: an id is up to 32 letters, digits and hyphens (e.g. subnet-0abc…)")
    return {"Subnets": subnets, "SecurityGroupIds": groups}


def read_advanced(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise usage(f"--advanced {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise usage(f"--advanced {path}: expected a JSON object (EndpointConfigurations, TrafficPattern, …)")
    return doc


def payload_files(path: Path) -> list[str]:
    """The names of the files in a sample payload archive (tar or zip), hidden ones left out as the
    load generator leaves them out."""
    from infrec.artifacts.archive import archive_kind

    kind = archive_kind(path) if path.is_file() else None
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        elif kind == "tar":
            with tarfile.open(path) as tf:
                names = [m.name for m in tf.getmembers() if m.isfile()]
        else:
            raise usage(f"--payload {path}: not a tar or zip archive of request bodies")
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise usage(f"--payload {path}: {exc}") from exc
    return [n for n in names if not any(part.startswith(".") for part in PurePosixPath(n).parts)]


def content_types(given: list[str], files: list[str] | None) -> tuple[list[str], list[str]]:
    """SupportedContentTypes, and notes for the user. Not given: one per kind of file in the archive
    by its extension (.json → application/json, .csv → text/csv, …), so each body is sent as what
    it is. Given: as given; a note names each file whose extension says a type that is not listed,
    since it will be sent as the first one."""
    for t in given:
        if not CONTENT_TYPE.fullmatch(t) or len(t) > 256:
            raise usage(f"--content-type {t!r} is not a MIME type (e.g. application/json, text/csv)")
    by_file = {f: content_type_of(PurePosixPath(f)) for f in files or []}
    if not given:
        found = list(dict.fromkeys(t for t in by_file.values() if t))
        return found or [DEFAULT_CONTENT_TYPE], []
    notes = []
    astray = [f for f, t in by_file.items() if t and t not in given]
    if astray:
        shown = ", ".join(astray[:3]) + (f" and {len(astray) - 3} more" if len(astray) > 3 else "")
        wanted = ", ".join(dict.fromkeys(str(by_file[f]) for f in astray))
        notes.append(f"{shown} will be sent as {given[0]} although the extension says {wanted}; add "
                     f"--content-type {wanted} (or leave --content-type out: the extensions then decide)")
    return given, notes
