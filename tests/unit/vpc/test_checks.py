"""The preflight rules on hand-built networks (no AWS): each edge case of the spec, and that
every failure of every check names its resources and a fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infrec.vpc import checks
from infrec.vpc.access_checks import check_iam_eni, check_iam_trust, check_vpc_restricted
from infrec.vpc.model import (
    InternetGateway,
    NaclEntry,
    NamedPolicy,
    NatGateway,
    NetworkAcl,
    NetworkModel,
    PrefixList,
    Role,
    Route,
    RouteTable,
    SgRule,
    VpcEndpoint,
)
from infrec.vpc.result import CheckResult
from tests.unit.vpc.netbuild import ROLE, S3_CIDRS, allow_all_nacl, compliant_model


def by_id(model: NetworkModel, instances: int = 2) -> dict[str, CheckResult]:
    return {c.id: c for c in checks.run_checks(model, ROLE, instances)}


def test_compliant_model_passes_everything() -> None:
    results = by_id(compliant_model())
    assert {k: v.status for k, v in results.items() if v.status != "pass"} == {}


# --- routes and the S3 path -------------------------------------------------------------------

def _no_endpoint(m: NetworkModel) -> None:
    m.endpoints = []
    m.route_tables[0].routes = [Route("10.0.0.0/16", None, "local")]


def _with_default_route(m: NetworkModel, target: str, state: str = "active") -> None:
    _no_endpoint(m)
    m.route_tables[0].routes.append(Route("0.0.0.0/0", None, target, state))


def test_explicit_association_beats_main_table() -> None:
    m = compliant_model()
    m.route_tables.append(RouteTable("rtb-own", "vpc-1", subnet_ids=["subnet-0000000b"]))
    r = by_id(m)["VPC-S3"]
    assert r.status == "fail" and "subnet-0000000b" in r.resources and "subnet-0000000a" not in r.resources
    assert "rtb-own (explicit association)" in r.message and "--add-route-table-ids rtb-own" in r.remedy


@pytest.mark.parametrize(("target", "state", "extra", "expect", "phrase"), [
    ("igw-1", "active", "igw", "fail", "public IP"),
    ("igw-1", "active", "", "fail", "not attached"),
    ("nat-1", "blackhole", "public-nat", "fail", "blackhole"),
    ("nat-1", "active", "public-nat", "pass", "NAT"),
    ("nat-1", "active", "private-nat", "fail", "private NAT"),
    ("nat-1", "active", "nat-no-igw", "fail", "no route to an attached internet gateway"),
    ("nat-1", "active", "failed-nat", "fail", "failed"),
    ("tgw-1", "active", "", "warn", "transit gateway"),
])
def test_default_route_classification(target: str, state: str, extra: str, expect: str, phrase: str) -> None:
    m = compliant_model()
    _with_default_route(m, target, state)
    if extra in ("igw", "public-nat", "nat-no-igw", "private-nat", "failed-nat"):
        m.internet_gateways = [InternetGateway("igw-1", ["vpc-1"])]
    if "nat" in extra:
        m.nat_gateways["nat-1"] = NatGateway("nat-1", "vpc-1", "subnet-pub",
                                             state="failed" if extra == "failed-nat" else "available",
                                             connectivity="private" if extra == "private-nat" else "public")
        m.route_tables.append(RouteTable("rtb-pub", "vpc-1", subnet_ids=["subnet-pub"], routes=[
            Route("0.0.0.0/0", None, "igw-1" if extra != "nat-no-igw" else "local")]))
    r = by_id(m)["VPC-S3"]
    assert r.status == expect, r
    assert phrase in r.message


def test_pending_endpoint_fails() -> None:
    m = compliant_model()
    m.endpoints[0].state = "pending"
    r = by_id(m)["VPC-S3"]
    assert r.status == "fail" and "vpce-1" in r.message and "pending" in r.message


def test_interface_endpoint_with_private_dns() -> None:
    m = compliant_model()
    _no_endpoint(m)
    m.endpoints = [VpcEndpoint("vpce-if", "vpc-1", "com.amazonaws.us-east-1.s3", type="Interface", private_dns=True)]
    assert by_id(m)["VPC-S3"].status == "pass"
    m.vpcs["vpc-1"].dns_hostnames = False
    r = by_id(m)
    assert r["VPC-S3"].status == "warn" and r["VPC-DNS"].status == "warn"
    assert "vpce-if" in r["VPC-DNS"].message


def test_endpoint_for_another_region_does_not_count() -> None:
    m = compliant_model()
    m.endpoints[0].service_name = "com.amazonaws.eu-west-1.s3"
    assert by_id(m)["VPC-S3"].status == "fail"


def test_endpoint_policy_denying_the_object_fails() -> None:
    m = compliant_model()
    m.endpoints[0].policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                            "Resource": "arn:aws:s3:::other-bucket/*"}]}
    r = by_id(m)["VPC-S3-POLICY"]
    assert r.status == "fail" and "vpce-1" in r.resources and "arn:aws:s3:::bkt/payload.csv" in r.message


# --- capacity ---------------------------------------------------------------------------------

def test_ip_capacity_counts_two_per_instance() -> None:
    m = compliant_model()
    m.subnets["subnet-0000000a"].available_ips = 5
    m.subnets["subnet-0000000b"].available_ips = -3  # moto lets counts go negative: clamped to 0
    r = checks.check_ip_capacity(m, 3)
    assert r.status == "fail" and "6 free private IPs" in r.message and "5 in total" in r.message
    assert "2 per instance × 3 instances" in r.message
    m.subnets["subnet-0000000b"].available_ips = 4
    r = checks.check_ip_capacity(m, 3)
    assert r.status == "warn" and "no single subnet" in r.message
    m.subnets["subnet-0000000b"].available_ips = 1
    m.subnets["subnet-0000000a"].available_ips = 100
    r = checks.check_ip_capacity(m, 3)
    assert r.status == "warn" and "subnet-0000000b" in r.resources


# --- security groups ------------------------------------------------------------------------

@pytest.mark.parametrize(("egress", "expect"), [
    ([SgRule("-1", cidrs=["0.0.0.0/0"])], "pass"),
    ([SgRule("tcp", 0, 65535, cidrs=["0.0.0.0/0"])], "pass"),
    ([SgRule("tcp", 443, 443, cidrs=list(S3_CIDRS))], "warn"),
    ([SgRule("tcp", 443, 443, cidrs=["0.0.0.0/1", "128.0.0.0/1"])], "warn"),
    ([SgRule("tcp", 443, 443, cidrs=S3_CIDRS[:1])], "warn"),
    ([SgRule("tcp", 443, 443, prefix_list_ids=["pl-mine"])], "warn"),
    ([SgRule("tcp", 80, 80, prefix_list_ids=["pl-s3"])], "fail"),
    ([SgRule("-1", cidrs=["10.0.0.0/16"])], "fail"),
    ([SgRule("-1", group_ids=["sg-00000001"])], "fail"),
    ([], "fail"),
])
def test_sg_egress_to_s3(egress: list[SgRule], expect: str) -> None:
    m = compliant_model()
    m.prefix_lists["pl-mine"] = PrefixList("pl-mine", "my-s3-ranges", list(S3_CIDRS))
    m.security_groups["sg-00000001"].egress = egress
    r = checks.check_sg_s3(m)
    assert r.status == expect, r
    if expect == "fail":
        assert "sg-00000001" in r.message and "pl-s3" in r.remedy


def test_sg_egress_to_subnets() -> None:
    m = compliant_model()
    sg = m.security_groups["sg-00000001"]
    sg.egress = [SgRule("tcp", 443, 443, prefix_list_ids=["pl-s3"]), SgRule("-1", group_ids=["sg-00000001"])]
    r = checks.check_sg_subnets(m)
    assert r.status == "pass" and "own security group" in r.message
    sg.egress = [SgRule("tcp", 443, 443, prefix_list_ids=["pl-s3"]), SgRule("tcp", 8080, 8080, cidrs=["10.0.0.0/16"])]
    assert checks.check_sg_subnets(m).status == "warn"
    sg.egress = [SgRule("-1", cidrs=["10.0.1.0/24"])]
    r = checks.check_sg_subnets(m)
    assert r.status == "fail" and "subnet-0000000b 10.0.2.0/24" in r.message and "subnet-0000000a" not in r.message


# --- network ACLs ---------------------------------------------------------------------------

def test_nacl_denying_https_and_return_traffic() -> None:
    m = compliant_model()
    m.network_acls.append(NetworkAcl("acl-2", "vpc-1", subnet_ids=["subnet-0000000b"], entries=[
        NaclEntry(90, True, "6", False, "0.0.0.0/0", 443, 443),
        NaclEntry(100, True, "-1", True, "0.0.0.0/0"),
        NaclEntry(100, False, "6", True, "10.0.0.0/16", 0, 65535)]))  # no inbound from S3; moto lacks the * rule
    r = checks.check_nacls(m)
    assert r.status == "warn" and r.resources == ["acl-2", "subnet-0000000b"]
    assert "rule 90" in r.message and "implicit deny" in r.message
    m.network_acls = [allow_all_nacl()]
    assert checks.check_nacls(m).status == "pass"


# --- DNS and DHCP ---------------------------------------------------------------------------

def test_dns_and_dhcp() -> None:
    m = compliant_model()
    m.vpcs["vpc-1"].dns_support = False
    r = checks.check_dns(m)
    assert r.status == "fail" and "--enable-dns-support" in r.remedy
    m.dhcp_options["dopt-1"].config["domain-name-servers"] = ["10.0.0.53"]
    assert checks.check_dns(m).status == "warn"  # a custom resolver may serve amazonaws.com
    r = checks.check_dhcp(m)
    assert r.status == "warn" and "10.0.0.53" in r.message
    m.vpcs["vpc-1"].dhcp_options_id = "default"
    assert checks.check_dhcp(m).status == "warn"
    m.vpcs["vpc-1"].dhcp_options_id = "dopt-1"
    del m.dhcp_options["dopt-1"].config["domain-name"]
    m.dhcp_options["dopt-1"].config["domain-name-servers"] = ["AmazonProvidedDNS"]
    assert "domain-name" in checks.check_dhcp(m).message


# --- shape and existence --------------------------------------------------------------------

def test_config_counts_and_duplicates() -> None:
    m = compliant_model()
    m.subnet_ids = [f"subnet-{i:08x}" for i in range(17)]
    assert checks.check_config(m).status == "fail"
    m.subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"]
    m.security_group_ids = ["sg-0123456789abcdef0"]
    r = checks.check_config(m)
    assert r.status == "warn" and "more than once" in r.message


def test_security_group_of_another_vpc() -> None:
    m = compliant_model()
    m.security_groups["sg-00000001"].vpc_id = "vpc-9"
    r = checks.check_exist(m)
    assert r.status == "fail" and "sg-00000001 belongs to vpc-9" in r.message


def test_unreadable_areas_skip_with_reason() -> None:
    m = compliant_model()
    m.unavailable["routes"] = "the caller lacks permission for ec2:DescribeRouteTables (UnauthorizedOperation)"
    m.role = None
    m.unavailable["iam"] = "the caller lacks permission for iam:GetRole (AccessDenied)"
    r = by_id(m)
    assert r["VPC-S3"].status == "skip" and "DescribeRouteTables" in r["VPC-S3"].message
    assert r["IAM-ENI"].status == "skip" and "iam:GetRole" in r["IAM-ENI"].message


# --- IAM and buckets ------------------------------------------------------------------------

def test_iam_trust_and_simulation_results() -> None:
    m = compliant_model()
    assert m.role is not None
    m.role.trust_policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                          "Action": "sts:AssumeRole"}]}
    r = check_iam_trust(m, ROLE)
    assert r.status == "fail" and "update-assume-role-policy" in r.remedy
    m.role.simulation = {"ec2:createnetworkinterface": {"EvalDecision": "explicitDeny",
                                                        "MatchedStatements": [{"SourcePolicyId": "scp-guard"}]}}
    m.role.simulation.update({a.lower(): {"EvalDecision": "allowed"} for a in (
        "ec2:DescribeVpcEndpoints", "ec2:DescribeDhcpOptions", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:ModifyNetworkInterfaceAttribute")})
    r = check_iam_eni(m, ROLE)
    assert r.status == "fail" and "scp-guard" in r.message and "SimulatePrincipalPolicy" in r.message


def test_iam_boundary_blocks() -> None:
    m = compliant_model()
    m.role = Role(ROLE, m.role.trust_policy if m.role else None,
                  [NamedPolicy("admin", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})],
                  boundary=NamedPolicy("permissions boundary arn:aws:iam::123456789012:policy/b",
                                       {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    r = check_iam_eni(m, ROLE)
    assert r.status == "fail" and "policy/b" in r.message


@pytest.mark.parametrize(("statement", "expect"), [
    ({"Sid": "OnlyVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bkt/*",
      "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}, "fail"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*",
      "Condition": {"StringNotEqualsIfExists": {"aws:sourcevpc": "vpc-1"}}}, "fail"),
    ({"Sid": "OnlyVpcExceptAdmins", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::bkt/*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"},
                                                      "ArnNotLike": {"aws:PrincipalArn": ROLE}}}, "warn"),
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*",
      "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}, "warn"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bkt/*",
      "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}, "pass"),
    ({"Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject", "Resource": "*",
      "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}, "pass"),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/other/*",
      "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}, "pass"),
])
def test_bucket_policy_vpc_restriction(statement: dict, expect: str) -> None:
    m = compliant_model()
    m.objects[0].bucket_policy = {"Statement": [statement]}
    r = check_vpc_restricted(m)
    assert r.status == expect, r
    if expect == "fail":
        assert "bkt" in r.resources and "s3://bkt/payload.csv" in r.message


# --- every failure names its resources and a fix --------------------------------------------

def _fail_exist(m: NetworkModel) -> None:
    m.missing_subnets = ["subnet-gone"]


def _fail_ip(m: NetworkModel) -> None:
    for s in m.subnets.values():
        s.available_ips = 1


def _fail_dns(m: NetworkModel) -> None:
    m.vpcs["vpc-1"].dns_support = False


def _fail_sg(m: NetworkModel) -> None:
    m.security_groups["sg-00000001"].egress = []


def _fail_trust(m: NetworkModel) -> None:
    assert m.role is not None
    m.role.trust_policy = {"Statement": []}


def _fail_eni(m: NetworkModel) -> None:
    assert m.role is not None
    m.role.policies = []


def _fail_objects(m: NetworkModel) -> None:
    m.objects[0].exists = False
    m.objects[0].region = "eu-west-1"
    m.objects[0].bucket_policy = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                 "Resource": "*", "Condition": {"StringNotEquals": {
                                                     "aws:SourceVpce": "vpce-1"}}}]}
    m.endpoints[0].policy = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}


def _fail_config(m: NetworkModel) -> None:
    m.security_group_ids = [f"sg-{i:08x}" for i in range(6)]


def _fail_two_vpcs(m: NetworkModel) -> None:
    m.subnets["subnet-0000000b"].vpc_id = "vpc-2"


def _fail_load(m: NetworkModel) -> None:
    m.load_error = "AWS could not be reached while calling ec2:DescribeSubnets."


BREAKERS: list[Callable[[NetworkModel], None]] = [_no_endpoint, _fail_exist, _fail_ip, _fail_dns, _fail_sg,
                                                  _fail_trust, _fail_eni, _fail_objects, _fail_config,
                                                  _fail_two_vpcs, _fail_load]


def test_every_failure_names_resources_and_fix() -> None:
    seen: set[str] = set()
    for breaker in BREAKERS:
        m = compliant_model()
        breaker(m)
        for r in checks.run_checks(m, ROLE, 2):
            if r.status != "fail":
                continue
            seen.add(r.id)
            assert r.resources, r
            for rid in r.resources:
                assert rid in r.message or rid in r.remedy, (rid, r)
            assert r.remedy and r.remedy in r.line(), r
    assert seen >= {"VPC-CONFIG", "VPC-EXIST", "VPC-IP", "VPC-S3", "VPC-S3-POLICY", "VPC-DNS", "VPC-SG-S3",
                    "VPC-SG-SUBNET", "IAM-TRUST", "IAM-ENI", "S3-OBJECT", "S3-VPC-RESTRICT", "AWS-READ",
                    "VPC-S3-REGION"}


def test_subnet_without_known_nacl_is_skipped_not_passed() -> None:
    m = compliant_model()
    m.network_acls = []
    r = checks.check_nacls(m)
    assert r.status == "skip" and "subnet-0000000a" in r.message


def test_bucket_in_another_region_needs_a_nat_path() -> None:
    m = compliant_model()
    m.objects[0].region = "eu-west-1"
    r = by_id(m)["VPC-S3-REGION"]
    assert r.status == "fail" and "eu-west-1" in r.message and "bkt" in r.resources
    m.objects[0].region = "us-east-1"
    assert by_id(m)["VPC-S3-REGION"].status == "pass"
