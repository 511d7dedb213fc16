"""Hand-built network models for the unit tests: one compliant network, then small edits."""

from __future__ import annotations

from infrec.vpc.model import (
    DhcpOptions,
    NaclEntry,
    NamedPolicy,
    NetworkAcl,
    NetworkModel,
    PrefixList,
    Role,
    Route,
    RouteTable,
    S3Object,
    SecurityGroup,
    SgRule,
    Subnet,
    Vpc,
    VpcEndpoint,
)

ROLE = "arn:aws:iam::123456789012:role/SMRole"
S3_CIDRS = ["52.216.0.0/15", "3.5.0.0/19", "54.231.0.0/16"]
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ENI_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:*NetworkInterface*"], "Resource": "*"}]}


def allow_all_nacl(acl_id: str = "acl-1", vpc: str = "vpc-1") -> NetworkAcl:
    return NetworkAcl(acl_id, vpc, default=True, entries=[
        NaclEntry(100, True, "-1", True, "0.0.0.0/0"), NaclEntry(100, False, "-1", True, "0.0.0.0/0"),
        NaclEntry(32767, True, "-1", False, "0.0.0.0/0"), NaclEntry(32767, False, "-1", False, "0.0.0.0/0")])


def compliant_model() -> NetworkModel:
    m = NetworkModel(region="us-east-1", subnet_ids=["subnet-0000000a", "subnet-0000000b"], security_group_ids=["sg-00000001"])
    m.vpcs["vpc-1"] = Vpc("vpc-1", ["10.0.0.0/16"], dns_support=True, dns_hostnames=True, dhcp_options_id="dopt-1")
    m.dhcp_options["dopt-1"] = DhcpOptions("dopt-1", {"domain-name-servers": ["AmazonProvidedDNS"],
                                                      "domain-name": ["ec2.internal"]})
    m.subnets = {"subnet-0000000a": Subnet("subnet-0000000a", "vpc-1", "10.0.1.0/24", "us-east-1a", "use1-az1", 251),
                 "subnet-0000000b": Subnet("subnet-0000000b", "vpc-1", "10.0.2.0/24", "us-east-1b", "use1-az2", 251)}
    m.route_tables = [RouteTable("rtb-main", "vpc-1", main=True, routes=[
        Route("10.0.0.0/16", None, "local"), Route(None, "pl-s3", "vpce-1")])]
    m.endpoints = [VpcEndpoint("vpce-1", "vpc-1", "com.amazonaws.us-east-1.s3", route_table_ids=["rtb-main"],
                               policy={"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
                                                      "Resource": "*"}]})]
    m.prefix_lists["pl-s3"] = PrefixList("pl-s3", "com.amazonaws.us-east-1.s3", list(S3_CIDRS))
    m.security_groups["sg-00000001"] = SecurityGroup("sg-00000001", "vpc-1", egress=[
        SgRule("tcp", 443, 443, prefix_list_ids=["pl-s3"]),
        SgRule("-1", cidrs=["10.0.1.0/24", "10.0.2.0/24"])])
    m.network_acls = [allow_all_nacl()]
    m.role = Role(ROLE, TRUST, [NamedPolicy("inline policy eni", ENI_POLICY)])
    m.objects = [S3Object("s3://bkt/payload.csv", "bkt", "payload.csv", "sample payload", exists=True)]
    return m
