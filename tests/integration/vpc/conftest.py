"""Builders for real networks on moto's server (via the shared `aws_env` fixture).

Every test builds its own VPC, role and bucket with unique names, so tests share
the session's moto server without resetting it (other suites use it too).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
# AmazonSageMakerFullAccess lacks this one (see access_checks.SOFT_ACTIONS); a compliant role adds it.
MODIFY_ENI = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:ModifyNetworkInterfaceAttribute",
                                                      "Resource": "*"}]}


@dataclass
class Net:
    """One network built on moto, with the ids a test asserts on."""

    ec2: Any
    vpc: str
    subnets: list[str]
    cidrs: list[str]
    main_rt: str
    sg: str
    s3_pl: str
    role_arn: str = ""
    payload: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def vpc_config(self) -> dict[str, list[str]]:
        return {"Subnets": list(self.subnets), "SecurityGroupIds": [self.sg]}


def uid() -> str:
    return uuid.uuid4().hex[:8]


def s3_prefix_list(ec2: Any) -> str:
    pls = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}])["PrefixLists"]
    return str(pls[0]["PrefixListId"])


def make_vpc(ec2: Any, cidr: str = "10.0.0.0/16", dhcp: bool = True) -> tuple[str, str]:
    """A VPC with explicit AmazonProvidedDNS DHCP options (moto's VPCs otherwise report "default")."""
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if dhcp:
        opts = ec2.create_dhcp_options(DhcpConfigurations=[
            {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]},
            {"Key": "domain-name", "Values": ["ec2.internal"]}])["DhcpOptions"]["DhcpOptionsId"]
        ec2.associate_dhcp_options(DhcpOptionsId=opts, VpcId=vpc)
    rts = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                             {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return vpc, rts[0]["RouteTableId"]


def make_sg(ec2: Any, vpc: str, egress: list[dict[str, Any]]) -> str:
    """A security group whose egress is exactly `egress` (the default allow-all rule is revoked)."""
    sg = ec2.create_security_group(GroupName=f"job-{uid()}", Description="job", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    if egress:
        ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=egress)
    return str(sg)


def good_egress(s3_pl: str, cidrs: list[str]) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": s3_pl}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": c} for c in cidrs]}]


def make_role(iam: Any, managed: list[str] | None = None, inline: dict[str, Any] | None = None) -> str:
    name = f"sm-role-{uid()}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for m in managed or []:
        iam.attach_role_policy(RoleName=name, PolicyArn=m)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="job-inline", PolicyDocument=json.dumps(inline))
    return str(arn)


def make_payload(s3: Any, policy: dict[str, Any] | None = None) -> str:
    bucket = f"payload-{uid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="payload/sample.csv", Body=b"1,2,3\n")
    if policy is not None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy).replace("BUCKET", bucket))
    return f"s3://{bucket}/payload/sample.csv"


@pytest.fixture
def clients(aws_env: str) -> dict[str, Any]:
    session = boto3.Session(region_name=REGION)
    return {"ec2": session.client("ec2"), "iam": session.client("iam"), "s3": session.client("s3"),
            "session": session}


@pytest.fixture
def compliant(clients: dict[str, Any]) -> Callable[..., Net]:
    """Build the compliant private VPC: two /24 subnets on the main table, S3 gateway endpoint on it,
    egress 443 to the S3 prefix list plus all traffic to the subnets, a full-access role, a plain bucket."""

    def build(subnet_cidrs: tuple[str, ...] = ("10.0.1.0/24", "10.0.2.0/24"), endpoint: bool = True,
              egress: list[dict[str, Any]] | None = None, role_arn: str | None = None,
              payload_policy: dict[str, Any] | None = None) -> Net:
        ec2 = clients["ec2"]
        vpc, main_rt = make_vpc(ec2)
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=f"{REGION}{'abcdef'[i]}")["Subnet"]
                   ["SubnetId"] for i, c in enumerate(subnet_cidrs)]
        pl = s3_prefix_list(ec2)
        if endpoint:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                                    RouteTableIds=[main_rt])
        sg = make_sg(ec2, vpc, good_egress(pl, list(subnet_cidrs)) if egress is None else egress)
        role = role_arn or make_role(clients["iam"], [FULL_ACCESS], MODIFY_ENI)
        return Net(ec2, vpc, subnets, list(subnet_cidrs), main_rt, sg, pl, role,
                   make_payload(clients["s3"], payload_policy))

    return build
