"""`infrec vpc check` as a user runs it: a real process against moto's server.
Exit codes 0 (pass, warnings allowed) / 1 (a check fails) / 2 (usage error), table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.vpc.conftest import REGION, Net

INFREC = str(Path(sys.executable).parent / "infrec")


def infrec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INFREC, "vpc", "check", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, COLUMNS="200"))


def net_args(net: Net, subnets_comma: bool = False) -> list[str]:
    subnet_args = ["--subnets", ",".join(net.subnets)] if subnets_comma else \
        [a for s in net.subnets for a in ("--subnets", s)]
    return [*subnet_args, "--security-group-ids", net.sg, "--role-arn", net.role_arn, "--payload", net.payload,
            "--region", REGION, "--instances", "4"]


def test_passing_vpc_exits_0_with_table(compliant: Callable[..., Net]) -> None:
    net = compliant()
    res = infrec(*net_args(net))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "VPC preflight" in res.stdout and "VPC-S3" in res.stdout and "PASS" in res.stdout
    assert "not inside the AWS VPC" in " ".join(res.stdout.split())


def test_failing_vpc_exits_1_and_json_names_check(compliant: Callable[..., Net]) -> None:
    net = compliant(endpoint=False)
    res = infrec(*net_args(net, subnets_comma=True), "--output", "json")
    assert res.returncode == 1, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is False
    s3 = next(c for c in doc["checks"] if c["id"] == "VPC-S3")
    assert s3["status"] == "fail" and set(net.subnets) <= set(s3["resources"]) and s3["remedy"]
    assert doc["vpcConfig"]["Subnets"] == net.subnets
    assert any("not inside the AWS VPC" in n for n in doc["notes"])


def test_failing_vpc_table_names_resources(compliant: Callable[..., Net]) -> None:
    net = compliant(endpoint=False)
    res = infrec(*net_args(net))
    assert res.returncode == 1
    assert "FAILED" in res.stdout and "FAIL" in res.stdout
    for rid in (*net.subnets, net.main_rt):
        assert rid in res.stdout, rid
    assert "create-vpc-endpoint" in res.stdout


def test_usage_errors_exit_2(aws_env: str) -> None:
    bad_role = infrec("--subnets", "subnet-0123456789abcdef0", "--security-group-ids", "sg-0123456789abcdef0",
                      "--role-arn", "not-an-arn")
    assert bad_role.returncode == 2 and "--role-arn" in bad_role.stderr and "Traceback" not in bad_role.stderr
    missing = infrec("--security-group-ids", "sg-0123456789abcdef0", "--role-arn",
                     "arn:aws:iam::123456789012:role/r")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    bad_url = infrec("--subnets", "subnet-0123456789abcdef0", "--security-group-ids", "sg-0123456789abcdef0",
                     "--role-arn", "arn:aws:iam::123456789012:role/r", "--payload", "http://x/y")
    assert bad_url.returncode == 2 and "s3://" in bad_url.stderr
    bad_format = infrec("--subnets", "subnet-0123456789abcdef0", "--security-group-ids", "sg-0123456789abcdef0",
                        "--role-arn", "arn:aws:iam::123456789012:role/r", "--output", "xml")
    assert bad_format.returncode == 2


def test_from_file_offline_review(tmp_path: Path, compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    """The offline document is what `aws ec2 describe-…` prints; built here from the same moto network."""
    net = compliant()
    ec2 = clients["ec2"]
    vf = [{"Name": "vpc-id", "Values": [net.vpc]}]
    vpc = ec2.describe_vpcs(VpcIds=[net.vpc])
    doc = {
        "Region": REGION,
        "Subnets": ec2.describe_subnets(SubnetIds=net.subnets),
        "SecurityGroups": ec2.describe_security_groups(GroupIds=[net.sg]),
        "Vpcs": vpc,
        "VpcAttributes": {net.vpc: {"EnableDnsSupport": True, "EnableDnsHostnames": False}},
        "DhcpOptions": ec2.describe_dhcp_options(DhcpOptionsIds=[vpc["Vpcs"][0]["DhcpOptionsId"]]),
        "RouteTables": ec2.describe_route_tables(Filters=vf),
        "InternetGateways": [], "NatGateways": [],
        "VpcEndpoints": ec2.describe_vpc_endpoints(Filters=vf),
        "PrefixLists": ec2.describe_managed_prefix_lists(PrefixListIds=[net.s3_pl]),
        "PrefixListEntries": {net.s3_pl: ec2.get_managed_prefix_list_entries(PrefixListId=net.s3_pl)},
        "NetworkAcls": ec2.describe_network_acls(Filters=vf),
    }
    path = tmp_path / "network.json"
    path.write_text(json.dumps(doc, default=str))
    res = infrec(*net_args(net), "--from-file", str(path), "--output", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    checks = {c["id"]: c["status"] for c in json.loads(res.stdout)["checks"]}
    assert checks["VPC-S3"] == "pass" and checks["VPC-SG-S3"] == "pass" and checks["VPC-IP"] == "pass"
    assert checks["IAM-ENI"] == "skip"  # the role is not in the document: skipped, never passed
    path.write_text("{not json")
    bad = infrec(*net_args(net), "--from-file", str(path))
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def test_warnings_exit_0_unless_strict(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    from tests.integration.vpc.conftest import FULL_ACCESS, make_role

    net = compliant(role_arn=make_role(clients["iam"], [FULL_ACCESS]))  # lacks ModifyNetworkInterfaceAttribute
    res = infrec(*net_args(net), "--output", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert any(c["status"] == "warn" for c in json.loads(res.stdout)["checks"])
    assert infrec(*net_args(net), "--strict").returncode == 1
