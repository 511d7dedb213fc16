"""The one entry point the jobs layer and the CLI call: load the network, run every check,
return a `PreflightReport`. It never raises for AWS errors or bad input; those become
failed or skipped checks with a clear message, so a job can always record a verdict.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from infrec.vpc import aws_loader, file_loader
from infrec.vpc.aws_loader import ObjectRef
from infrec.vpc.checks import run_checks
from infrec.vpc.model import NetworkModel
from infrec.vpc.report import PreflightReport
from infrec.vpc.result import FAIL, CheckResult

log = logging.getLogger(__name__)


def _split_objects(s3_urls: list[str], labels: dict[str, str] | None) -> tuple[list[ObjectRef], list[CheckResult],
                                                                                 list[str]]:
    refs: list[ObjectRef] = []
    bad: list[CheckResult] = []
    notes: list[str] = []
    for url in dict.fromkeys(u for u in s3_urls if u):
        purpose = (labels or {}).get(url, "S3 object")
        if not url.startswith("s3://"):
            notes.append(f"{url} is not an S3 URL; SageMaker needs the {purpose} in S3, infrec did not check it here.")
            continue
        try:
            aws_loader.parse_s3_url(url)
        except ValueError as exc:
            bad.append(CheckResult("S3-URL", "S3 URLs are well formed", FAIL, f"{exc}.", [url],
                                   "write it as s3://bucket/key."))
            continue
        refs.append(ObjectRef(url, purpose))
    return refs, bad, notes


def preflight(vpc_config: dict[str, Any], role_arn: str, s3_urls: list[str], instances_at_once: int,
              region: str | None = None, session: Any = None, *, labels: dict[str, str] | None = None,
              document: dict[str, Any] | str | Path | None = None) -> PreflightReport:
    """Check a RecommendationJobVpcConfig before any endpoint starts.

    vpc_config: {"Subnets": [...], "SecurityGroupIds": [...]} as in CreateInferenceRecommendationsJob.
    s3_urls: the sample payload and model data URLs the job reads (non-s3 URLs are noted, not checked).
    instances_at_once: instances that may run at the same time (parallel tests × instances per endpoint).
    labels: optional url → what it is ("sample payload", "model data") for clearer messages.
    document: an offline document (dict or path) instead of AWS; see `file_loader`.
    """
    subnets = [str(s) for s in (vpc_config or {}).get("Subnets") or []]
    sgs = [str(s) for s in (vpc_config or {}).get("SecurityGroupIds") or []]
    report = PreflightReport(region=region or "", subnets=subnets, security_group_ids=sgs, role_arn=role_arn,
                             instances_at_once=instances_at_once,
                             source="file" if document is not None else "aws")
    refs, bad, notes = _split_objects(list(s3_urls or []), labels)
    report.notes.extend(notes)
    try:
        model = _load(report, refs, session, document)
        report.region = model.region
        report.checks = run_checks(model, role_arn, instances_at_once) + bad
    except file_loader.FileFormatError as exc:
        report.checks = [CheckResult("INPUT", "The offline document is readable", FAIL, str(exc),
                                     [str(document) if not isinstance(document, dict) else "document"],
                                     "fix the document (see infrec.vpc.file_loader for its sections).")]
    except Exception as exc:  # a bug or an unexpected AWS shape must still give the job a verdict
        log.exception("VPC preflight crashed")
        report.checks = [CheckResult("PREFLIGHT", "The preflight ran", FAIL,
                                     f"the VPC preflight stopped unexpectedly: {type(exc).__name__}: {exc}.", [],
                                     "re-run `infrec vpc check` with the same settings and report the error.")]
    return report


def _load(report: PreflightReport, refs: list[ObjectRef], session: Any,
          document: dict[str, Any] | str | Path | None) -> NetworkModel:
    if document is not None:
        doc = document if isinstance(document, dict) else file_loader.read_document(document)
        return file_loader.load_document(doc, report.region or None, report.subnets, report.security_group_ids,
                                         report.role_arn, refs)
    if session is None:
        import boto3

        session = boto3.Session(region_name=report.region or None)
    region = report.region or session.region_name
    if not region:
        model = NetworkModel(region="(none)", subnet_ids=report.subnets, security_group_ids=report.security_group_ids)
        model.load_error = "no AWS region is configured (pass --region or set AWS_DEFAULT_REGION)."
        return model
    return aws_loader.load(session, region, report.subnets, report.security_group_ids, report.role_arn, refs)
