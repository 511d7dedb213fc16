"""The preflight against real networks built on moto's server: the verdicts the issue lists,
and that every failure names the resources at fault and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infrec.vpc import preflight
from infrec.vpc.report import PreflightReport
from tests.integration.vpc.conftest import FULL_ACCESS, REGION, Net, make_role, make_sg, make_vpc


def run(net: Net, clients: dict[str, Any], instances: int = 2, vpc_config: dict[str, Any] | None = None,
        role_arn: str | None = None) -> PreflightReport:
    return preflight(vpc_config or net.vpc_config, role_arn or net.role_arn, [net.payload], instances,
                     region=REGION, session=clients["session"], labels={net.payload: "sample payload"})


def status(report: PreflightReport) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def failed(report: PreflightReport) -> set[str]:
    return {c.id for c in report.failures}


def assert_names(report: PreflightReport, check_id: str, *ids: str) -> None:
    """The failure names every id given, has a fix, and FailureReason carries the check id."""
    check = next(c for c in report.checks if c.id == check_id)
    assert check.status == "fail", check
    for i in ids:
        assert i in check.message or i in check.resources, (i, check)
        assert i in check.resources, (i, check.resources)
    assert check.remedy, check
    assert check_id in report.failure_reason()
    assert len(report.failure_reason()) <= 1024


def test_compliant_private_vpc_passes(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    report = run(net, clients)
    assert report.ok, report.failure_reason()
    st = status(report)
    for cid in ("VPC-EXIST", "VPC-IP", "VPC-S3", "VPC-DNS", "VPC-DHCP", "VPC-SG-S3", "VPC-SG-SUBNET",
                "VPC-NACL", "IAM-TRUST", "IAM-ENI", "S3-OBJECT", "S3-VPC-RESTRICT", "VPC-S3-POLICY"):
        assert st[cid] == "pass", (cid, next(c for c in report.checks if c.id == cid))
    json.dumps(report.to_dict())


def test_full_access_alone_warns_on_modify_eni(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    role = make_role(clients["iam"], [FULL_ACCESS])
    report = run(compliant(role_arn=role), clients)
    assert report.ok, report.failure_reason()
    eni = next(c for c in report.checks if c.id == "IAM-ENI")
    assert eni.status == "warn" and "ec2:ModifyNetworkInterfaceAttribute" in eni.message


def test_small_subnet_fails_on_capacity(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant(subnet_cidrs=("10.0.1.0/28",))
    report = run(net, clients, instances=6)  # 12 IPs needed, a /28 has 11
    assert failed(report) == {"VPC-IP"}
    assert_names(report, "VPC-IP", net.subnets[0])
    assert "12" in report.failures[0].message and "11" in report.failures[0].message


def test_no_nat_no_endpoint_fails_on_s3_path(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant(endpoint=False)
    report = run(net, clients)
    assert failed(report) == {"VPC-S3"}
    assert_names(report, "VPC-S3", *net.subnets, net.main_rt)
    assert "create-vpc-endpoint" in report.failures[0].remedy


def test_internet_gateway_only_still_fails(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant(endpoint=False)
    ec2 = net.ec2
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=net.vpc)
    ec2.create_route(RouteTableId=net.main_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    report = run(net, clients)
    assert failed(report) == {"VPC-S3"}
    assert_names(report, "VPC-S3", *net.subnets, net.main_rt)
    assert igw in report.failures[0].message and "public IP" in report.failures[0].message


def test_nat_gateway_path_passes(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant(endpoint=False)
    ec2 = net.ec2
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=net.vpc)
    public = ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.200.0/24")["Subnet"]["SubnetId"]
    public_rt = ec2.create_route_table(VpcId=net.vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=net.main_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    report = run(net, clients)
    assert status(report)["VPC-S3"] == "pass", report.failure_reason()
    assert "NAT" in next(c for c in report.checks if c.id == "VPC-S3").message


def test_endpoint_on_other_route_table_fails(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant(endpoint=False)
    ec2 = net.ec2
    own_rt = ec2.create_route_table(VpcId=net.vpc)["RouteTable"]["RouteTableId"]
    for s in net.subnets:
        ec2.associate_route_table(RouteTableId=own_rt, SubnetId=s)
    vpce = ec2.create_vpc_endpoint(VpcId=net.vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                                   RouteTableIds=[net.main_rt])["VpcEndpoint"]["VpcEndpointId"]
    report = run(net, clients)
    assert failed(report) == {"VPC-S3"}
    assert_names(report, "VPC-S3", *net.subnets, own_rt, vpce)
    assert f"modify-vpc-endpoint --vpc-endpoint-id {vpce} --add-route-table-ids {own_rt}" in report.failures[0].remedy


def test_egress_only_to_referenced_group_fails(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    other = make_sg(net.ec2, net.vpc, [])
    net.ec2.revoke_security_group_egress(GroupId=net.sg, IpPermissions=net.ec2.describe_security_groups(
        GroupIds=[net.sg])["SecurityGroups"][0]["IpPermissionsEgress"])
    net.ec2.authorize_security_group_egress(GroupId=net.sg, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other}]}])
    report = run(net, clients)
    assert failed(report) == {"VPC-SG-S3", "VPC-SG-SUBNET"}
    assert_names(report, "VPC-SG-S3", net.sg, net.s3_pl)
    assert_names(report, "VPC-SG-SUBNET", net.sg, other)
    assert "authorize-security-group-egress" in report.failures[0].remedy


def test_role_missing_create_network_interface_fails(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    actions = ["ec2:DescribeVpcEndpoints", "ec2:DescribeDhcpOptions", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
               "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterfacePermission",
               "ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterfacePermission",
               "ec2:ModifyNetworkInterfaceAttribute"]
    role = make_role(clients["iam"], [], {"Version": "2012-10-17",
                                          "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
    report = run(compliant(role_arn=role), clients)
    assert failed(report) == {"IAM-ENI"}
    assert_names(report, "IAM-ENI", role)
    eni = report.failures[0]
    assert "ec2:CreateNetworkInterface " in eni.message and "put-role-policy" in eni.remedy


def test_deny_in_inline_policy_beats_full_access(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    role = make_role(clients["iam"], [FULL_ACCESS], {"Version": "2012-10-17", "Statement": [
        {"Sid": "NoEni", "Effect": "Deny", "Action": "ec2:CreateNetworkInterface*", "Resource": "*"}]})
    report = run(compliant(role_arn=role), clients)
    assert failed(report) == {"IAM-ENI"}
    assert "explicitDeny" in report.failures[0].message and "NoEni" in report.failures[0].message


def test_bucket_denying_unless_source_vpce_fails(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::BUCKET/*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1234567"}}}]}
    net = compliant(payload_policy=policy)
    report = run(net, clients)
    bucket = net.payload.split("/")[2]
    assert failed(report) == {"S3-VPC-RESTRICT"}
    assert_names(report, "S3-VPC-RESTRICT", bucket, net.payload)
    assert "OnlyVpce" in report.failures[0].message
    # (whether the caller's own HEAD is refused depends on where it runs; S3-OBJECT is not asserted here)


def test_subnets_from_two_vpcs_fail(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    other_vpc, _ = make_vpc(net.ec2, "10.1.0.0/16")
    other = net.ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    report = run(net, clients, vpc_config={"Subnets": [net.subnets[0], other], "SecurityGroupIds": [net.sg]})
    assert "VPC-EXIST" in failed(report)
    assert_names(report, "VPC-EXIST", net.vpc, other_vpc, net.subnets[0], other)


def test_missing_ids_are_named(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    report = run(net, clients, vpc_config={"Subnets": [*net.subnets, "subnet-0123456789abcdef0"],
                                           "SecurityGroupIds": [net.sg, "sg-0123456789abcdef0"]})
    assert failed(report) == {"VPC-EXIST"}
    assert_names(report, "VPC-EXIST", "subnet-0123456789abcdef0", "sg-0123456789abcdef0")


def test_dns_support_off_and_missing_role(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    net.ec2.modify_vpc_attribute(VpcId=net.vpc, EnableDnsSupport={"Value": False})
    report = run(net, clients, role_arn="arn:aws:iam::123456789012:role/does-not-exist")
    assert failed(report) == {"VPC-DNS", "IAM-TRUST", "IAM-ENI"}
    assert_names(report, "VPC-DNS", net.vpc)
    assert_names(report, "IAM-ENI", "arn:aws:iam::123456789012:role/does-not-exist")


def test_unreachable_aws_is_a_failed_check_not_an_exception(monkeypatch: Any) -> None:
    from tests.helpers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    report = preflight({"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]},
                       "arn:aws:iam::123456789012:role/r", [], 1, region=REGION)
    assert not report.ok
    assert [c.id for c in report.failures] == ["AWS-READ"]
    assert "could not be reached" in report.failure_reason()


def test_custom_nacl_without_return_traffic_warns(compliant: Callable[..., Net], clients: dict[str, Any]) -> None:
    net = compliant()
    ec2 = net.ec2
    acl = ec2.create_network_acl(VpcId=net.vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=True,
                                 CidrBlock="0.0.0.0/0")
    assoc = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [net.subnets[0]]}])
    assoc_id = next(a["NetworkAclAssociationId"] for a in assoc["NetworkAcls"][0]["Associations"]
                    if a["SubnetId"] == net.subnets[0])
    ec2.replace_network_acl_association(AssociationId=assoc_id, NetworkAclId=acl)
    report = run(net, clients)
    assert report.ok  # NACL findings are warnings: stateless rules are judged on sample ports
    nacl = next(c for c in report.checks if c.id == "VPC-NACL")
    assert nacl.status == "warn" and acl in nacl.resources and net.subnets[0] in nacl.resources
    assert net.subnets[1] not in nacl.resources and "return traffic" in nacl.message


def test_vpc_without_dhcp_options_warns(clients: dict[str, Any], compliant: Callable[..., Net]) -> None:
    net = compliant()
    vpc, _ = make_vpc(net.ec2, "10.2.0.0/16", dhcp=False)
    sub = net.ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    sg = make_sg(net.ec2, vpc, [])
    report = run(net, clients, vpc_config={"Subnets": [sub], "SecurityGroupIds": [sg]})
    st = status(report)
    assert st["VPC-DHCP"] == "warn" and st["VPC-AZ"] == "warn"
    assert {"VPC-S3", "VPC-SG-S3", "VPC-SG-SUBNET"} <= failed(report)


def test_bucket_in_another_region_fails_behind_gateway_endpoint(compliant: Callable[..., Net],
                                                                clients: dict[str, Any]) -> None:
    net = compliant()
    bucket = f"eu-payload-{net.vpc[-8:]}"
    clients["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    clients["s3"].put_object(Bucket=bucket, Key="p.csv", Body=b"1\n")
    net.payload = f"s3://{bucket}/p.csv"
    report = run(net, clients)
    assert failed(report) == {"VPC-S3-REGION"}
    assert_names(report, "VPC-S3-REGION", bucket, *net.subnets)
