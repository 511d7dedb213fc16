"""`infrec vpc check`: the VPC preflight on its own, before creating a job.

Exit status: 0 when nothing fails (warnings allowed; `--strict` counts them), 1 when a check fails,
2 only for usage errors (bad flags, unreadable --from-file), so scripts and CI
can gate on it.
"""

from __future__ import annotations

import re
import sys

import typer
from rich.console import Console

from infrec.cli.errors import usage
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_text
from infrec.vpc import preflight
from infrec.vpc.file_loader import FileFormatError, read_document
from infrec.vpc.report import LOCAL_EXECUTOR_NOTE, render_table

app = typer.Typer(help="Check that an AWS VPC is ready for recommendation jobs (RecommendationJobVpcConfig).",
                  no_args_is_help=True)

_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def _ids(values: list[str] | None) -> list[str]:
    """Accept ids repeated (`--subnets a --subnets b`) and comma-separated (`--subnets a,b`)."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


@app.command("check")
def check(
    subnets: list[str] = typer.Option(..., "--subnets", help="Subnet ids (repeat or comma-separate; 1–16)."),
    security_group_ids: list[str] = typer.Option(..., "--security-group-ids",
                                                 help="Security group ids (repeat or comma-separate; 1–5)."),
    role_arn: str = typer.Option(..., "--role-arn", help="The job's RoleArn (IAM role SageMaker assumes)."),
    payload: list[str] = typer.Option([], "--payload", help="Sample payload URL (s3://bucket/key); repeatable."),
    model_data: list[str] = typer.Option([], "--model-data", help="Model data URL (s3://bucket/key); repeatable."),
    instances: int = typer.Option(1, "--instances", min=1, max=1000,
                                  help="Instances running at once (parallel tests × instances per endpoint)."),
    region: str | None = typer.Option(None, "--region", help="AWS region (default: the standard AWS config)."),
    from_file: str | None = typer.Option(None, "--from-file",
                                         help="Review offline: a JSON document of `aws ec2 describe-…` outputs."),
    output: Output | None = OUTPUT_OPTION,
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as failures (exit 1 on any WARN)."),
) -> None:
    """Run every VPC preflight check and print the report; exit 1 when a check fails."""
    subnet_ids, sg_ids = _ids(subnets), _ids(security_group_ids)
    if not subnet_ids:
        raise usage("--subnets needs at least one subnet id.")
    if not sg_ids:
        raise usage("--security-group-ids needs at least one security group id.")
    if not _ROLE_RE.match(role_arn):
        raise usage(f"--role-arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).")
    for url in [*payload, *model_data]:
        if not re.match(r"^s3://[^/]+/.+", url):
            raise usage(f"{url!r} is not an s3://bucket/key URL.")
    document = None
    if from_file is not None:
        try:
            document = read_document(from_file)
        except FileFormatError as exc:
            raise usage(str(exc)) from exc
    labels = {u: "sample payload" for u in payload} | {u: "model data" for u in model_data}
    report = preflight({"Subnets": subnet_ids, "SecurityGroupIds": sg_ids}, role_arn, [*payload, *model_data],
                       instances, region=region, labels=labels, document=document)
    fmt = chosen(output)
    if fmt is Output.json:
        sys.stdout.write(report.to_json() + "\n")
    elif fmt is Output.text:
        print_text([c.get("id"), c.get("status"), ", ".join(map(str, c.get("resources") or [])), c.get("message")]
                   for c in report.to_dict()["checks"])
    else:
        console = Console(width=max(120, Console().width))
        console.print(render_table(report))
        for note in report.notes:
            console.print(f"[dim]Note: {note}[/]" if note == LOCAL_EXECUTOR_NOTE else f"Note: {note}")
    raise typer.Exit(0 if report.ok and not (strict and report.warnings) else 1)
