"""Turn AWS describe/get outputs (the JSON boto3 returns and `aws ec2 describe-…` prints)
into the network model. Shared by the AWS loader and the offline file loader so both
read exactly the same shapes.
"""

from __future__ import annotations

from typing import Any

from infrec.vpc import iam
from infrec.vpc.model import (
    DhcpOptions,
    InternetGateway,
    NaclEntry,
    NatGateway,
    NetworkAcl,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Subnet,
    Vpc,
    VpcEndpoint,
)

_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId",
                  "VpcPeeringConnectionId", "LocalGatewayId", "CarrierGatewayId", "EgressOnlyInternetGatewayId",
                  "CoreNetworkArn")


def subnet(d: dict[str, Any]) -> Subnet:
    return Subnet(id=d["SubnetId"], vpc_id=d.get("VpcId", ""), cidr=d.get("CidrBlock", ""),
                  az=d.get("AvailabilityZone", ""), az_id=d.get("AvailabilityZoneId", ""),
                  available_ips=int(d.get("AvailableIpAddressCount", 0)), state=d.get("State", "available"))


def vpc(d: dict[str, Any]) -> Vpc:
    cidrs = [a["CidrBlock"] for a in d.get("CidrBlockAssociationSet", [])
             if (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"]
    if not cidrs and d.get("CidrBlock"):
        cidrs = [d["CidrBlock"]]
    return Vpc(id=d["VpcId"], cidrs=cidrs, dhcp_options_id=d.get("DhcpOptionsId"))


def dhcp_options(d: dict[str, Any]) -> DhcpOptions:
    conf = {c["Key"]: [str(v.get("Value")) for v in c.get("Values", [])] for c in d.get("DhcpConfigurations", [])}
    return DhcpOptions(id=d["DhcpOptionsId"], config=conf)


def route_table(d: dict[str, Any]) -> RouteTable:
    assoc = [a for a in d.get("Associations", [])
             if (a.get("AssociationState") or {}).get("State", "associated") == "associated"]
    routes = []
    for r in d.get("Routes", []):
        target = next((str(r[k]) for k in _ROUTE_TARGETS if r.get(k)), "unknown")
        routes.append(Route(destination_cidr=r.get("DestinationCidrBlock"),
                            destination_prefix_list=r.get("DestinationPrefixListId"),
                            target=target, state=r.get("State", "active")))
    return RouteTable(id=d["RouteTableId"], vpc_id=d.get("VpcId", ""), main=any(a.get("Main") for a in assoc),
                      subnet_ids=[a["SubnetId"] for a in assoc if a.get("SubnetId")], routes=routes)


def internet_gateway(d: dict[str, Any]) -> InternetGateway:
    return InternetGateway(id=d["InternetGatewayId"],
                           attached_vpc_ids=[a["VpcId"] for a in d.get("Attachments", [])
                                             if a.get("State", "available") in ("available", "attached")])


def nat_gateway(d: dict[str, Any]) -> NatGateway:
    return NatGateway(id=d["NatGatewayId"], vpc_id=d.get("VpcId", ""), subnet_id=d.get("SubnetId", ""),
                      state=d.get("State", "available"), connectivity=d.get("ConnectivityType") or "public")


def vpc_endpoint(d: dict[str, Any]) -> VpcEndpoint:
    policy = None
    if d.get("PolicyDocument"):
        try:
            policy = iam.parse_document(d["PolicyDocument"])
        except ValueError:
            policy = None
    return VpcEndpoint(id=d["VpcEndpointId"], vpc_id=d.get("VpcId", ""), service_name=d.get("ServiceName", ""),
                       type=d.get("VpcEndpointType") or "Gateway", state=d.get("State", "available"),
                       route_table_ids=list(d.get("RouteTableIds", [])), subnet_ids=list(d.get("SubnetIds", [])),
                       private_dns=bool(d.get("PrivateDnsEnabled")), policy=policy)


def prefix_list(d: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> PrefixList:
    cidrs = [e["Cidr"] for e in entries] if entries is not None else list(d.get("Cidrs", []))
    return PrefixList(id=d["PrefixListId"], name=d.get("PrefixListName", ""), cidrs=cidrs)


def _rules(perms: list[dict[str, Any]]) -> list[SgRule]:
    out = []
    for p in perms:
        out.append(SgRule(protocol=str(p.get("IpProtocol", "-1")), from_port=p.get("FromPort"), to_port=p.get("ToPort"),
                          cidrs=[r["CidrIp"] for r in p.get("IpRanges", []) if r.get("CidrIp")]
                          + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", []) if r.get("CidrIpv6")],
                          prefix_list_ids=[r["PrefixListId"] for r in p.get("PrefixListIds", [])
                                           if r.get("PrefixListId")],
                          group_ids=[r["GroupId"] for r in p.get("UserIdGroupPairs", []) if r.get("GroupId")]))
    return out


def security_group(d: dict[str, Any]) -> SecurityGroup:
    return SecurityGroup(id=d["GroupId"], vpc_id=d.get("VpcId", ""), name=d.get("GroupName", ""),
                         egress=_rules(d.get("IpPermissionsEgress", [])), ingress=_rules(d.get("IpPermissions", [])))


def network_acl(d: dict[str, Any]) -> NetworkAcl:
    entries = []
    for e in d.get("Entries", []):
        cidr = e.get("CidrBlock") or e.get("Ipv6CidrBlock")
        if not cidr:
            continue
        pr = e.get("PortRange") or {}
        entries.append(NaclEntry(rule_number=int(e.get("RuleNumber", 32767)), egress=bool(e.get("Egress")),
                                 protocol=str(e.get("Protocol", "-1")), allow=e.get("RuleAction") == "allow",
                                 cidr=cidr, from_port=pr.get("From"), to_port=pr.get("To")))
    return NetworkAcl(id=d["NetworkAclId"], vpc_id=d.get("VpcId", ""), default=bool(d.get("IsDefault")),
                      subnet_ids=[a["SubnetId"] for a in d.get("Associations", []) if a.get("SubnetId")],
                      entries=entries)
