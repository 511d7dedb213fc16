"""Derived network facts the checks share: which route table a subnet uses, where its
default route leads, which S3 endpoints serve it, and CIDR coverage arithmetic (pure).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from infrec.vpc.model import NetworkAcl, NetworkModel, Route, RouteTable, Subnet, VpcEndpoint

# Egress classes for a subnet's 0.0.0.0/0 route (see the spec, §3).
NONE = "none"
IGW_ONLY = "igw-only"
INTERNET = "internet"
UNKNOWN = "unknown"


def effective_route_table(model: NetworkModel, subnet: Subnet) -> tuple[RouteTable | None, str]:
    """The table a subnet really uses: its explicit association, else its VPC's main table."""
    for rt in model.route_tables:
        if subnet.id in rt.subnet_ids:
            return rt, "explicit association"
    for rt in model.route_tables:
        if rt.main and rt.vpc_id == subnet.vpc_id:
            return rt, "main route table, implicit association"
    return None, "no route table found"


def default_route(rt: RouteTable) -> Route | None:
    for r in rt.routes:
        if r.destination_cidr == "0.0.0.0/0":
            return r
    return None


@dataclass
class Egress:
    kind: str
    detail: str


def _igw_attached(model: NetworkModel, igw_id: str, vpc_id: str) -> bool:
    return any(g.id == igw_id and vpc_id in g.attached_vpc_ids for g in model.internet_gateways)


def classify_egress(model: NetworkModel, rt: RouteTable | None) -> Egress:
    """Where 0.0.0.0/0 leads for network interfaces without public IPs (SageMaker's ENIs)."""
    if rt is None:
        return Egress(NONE, "no route table")
    route = default_route(rt)
    if route is None:
        return Egress(NONE, "no 0.0.0.0/0 route")
    if route.state.lower() == "blackhole":
        return Egress(NONE, f"0.0.0.0/0 → {route.target} is a blackhole route")
    target = route.target
    if target.startswith("igw-"):
        if _igw_attached(model, target, rt.vpc_id):
            return Egress(IGW_ONLY, f"0.0.0.0/0 → {target} (internet gateway: no internet for interfaces "
                                    "without public IPs, which SageMaker's are)")
        return Egress(NONE, f"0.0.0.0/0 → {target}, which is not attached to {rt.vpc_id}")
    if target.startswith("nat-"):
        nat = model.nat_gateways.get(target)
        if nat is None:
            return Egress(NONE, f"0.0.0.0/0 → {target}, which does not exist")
        if nat.state.lower() not in ("available", "pending"):
            return Egress(NONE, f"0.0.0.0/0 → {target}, which is {nat.state}")
        if nat.connectivity.lower() == "private":
            return Egress(NONE, f"0.0.0.0/0 → {target}, a private NAT gateway (no internet)")
        nat_subnet = model.subnets.get(nat.subnet_id) or Subnet(nat.subnet_id, nat.vpc_id, "")
        nat_rt, _ = effective_route_table(model, nat_subnet)
        up = default_route(nat_rt) if nat_rt else None
        if (up is not None and up.state.lower() != "blackhole" and up.target.startswith("igw-")
                and _igw_attached(model, up.target, nat.vpc_id)):
            return Egress(INTERNET, f"0.0.0.0/0 → {target} (public NAT; upstream {up.target})")
        rt_name = nat_rt.id if nat_rt else "its route table"
        return Egress(NONE, f"0.0.0.0/0 → {target}, but the NAT's subnet {nat.subnet_id} ({rt_name}) "
                            "has no route to an attached internet gateway")
    return Egress(UNKNOWN, f"0.0.0.0/0 → {target} (transit gateway, appliance, peering or VPN: "
                           "infrec cannot verify it reaches S3)")


def is_s3_endpoint(model: NetworkModel, ep: VpcEndpoint) -> bool:
    return ep.service_name == model.s3_service_name


def s3_gateway_endpoints(model: NetworkModel, rt: RouteTable | None) -> list[VpcEndpoint]:
    """S3 gateway endpoints attached to this table (RouteTableIds is authoritative), any state."""
    if rt is None:
        return []
    return [e for e in model.endpoints
            if is_s3_endpoint(model, e) and e.type.lower() == "gateway" and rt.id in e.route_table_ids]


def s3_interface_endpoints(model: NetworkModel, vpc_id: str) -> list[VpcEndpoint]:
    return [e for e in model.endpoints
            if is_s3_endpoint(model, e) and e.type.lower() == "interface" and e.vpc_id == vpc_id]


def network_acl_for(model: NetworkModel, subnet: Subnet) -> NetworkAcl | None:
    for acl in model.network_acls:
        if subnet.id in acl.subnet_ids:
            return acl
    for acl in model.network_acls:
        if acl.default and acl.vpc_id == subnet.vpc_id:
            return acl
    return None


def _net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def cidr_within(inner: str, outer: str) -> bool:
    try:
        a, b = _net(inner), _net(outer)
    except ValueError:
        return False
    return a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


def covered(target: str, cidrs: list[str]) -> bool:
    """Does the union of `cidrs` cover every address of `target`? (0.0.0.0/1 + 128.0.0.0/1 covers all.)"""
    try:
        remaining = [_net(target)]
    except ValueError:
        return False
    for c in cidrs:
        try:
            n = _net(c)
        except ValueError:
            continue
        nxt = []
        for r in remaining:
            if r.version != n.version or not r.overlaps(n):
                nxt.append(r)
            elif r.subnet_of(n):  # type: ignore[arg-type]
                continue
            else:
                nxt.extend(r.address_exclude(n))  # type: ignore[arg-type]
        remaining = nxt
        if not remaining:
            return True
    return not remaining
