"""The network model the preflight checks read: plain dataclasses, no I/O.

Loaders (AWS through boto3, or an offline JSON document) fill a `NetworkModel`;
the checks only ever see this snapshot, so every rule can be tested on a
hand-built network without AWS. A part the loader could not read (no
permission, unreachable AWS) is recorded in `NetworkModel.unavailable` so the
checks that need it say SKIP with the reason instead of passing silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Vpc:
    id: str
    cidrs: list[str] = field(default_factory=list)
    dns_support: bool | None = None
    dns_hostnames: bool | None = None
    dhcp_options_id: str | None = None


@dataclass
class DhcpOptions:
    id: str
    # key (e.g. "domain-name-servers") -> values
    config: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    az: str = ""
    az_id: str = ""
    available_ips: int = 0
    state: str = "available"


@dataclass
class Route:
    """One route: destination is a CIDR or a prefix-list id; target the first target id AWS gives."""

    destination_cidr: str | None
    destination_prefix_list: str | None
    target: str
    state: str = "active"


@dataclass
class RouteTable:
    id: str
    vpc_id: str
    main: bool = False
    subnet_ids: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)


@dataclass
class InternetGateway:
    id: str
    attached_vpc_ids: list[str] = field(default_factory=list)


@dataclass
class NatGateway:
    id: str
    vpc_id: str
    subnet_id: str
    state: str = "available"
    connectivity: str = "public"


@dataclass
class VpcEndpoint:
    id: str
    vpc_id: str
    service_name: str
    type: str = "Gateway"
    state: str = "available"
    route_table_ids: list[str] = field(default_factory=list)
    subnet_ids: list[str] = field(default_factory=list)
    private_dns: bool = False
    policy: dict[str, Any] | None = None


@dataclass
class PrefixList:
    id: str
    name: str
    cidrs: list[str] = field(default_factory=list)


@dataclass
class SgRule:
    """One permission: protocol "-1" means all traffic (ports ignored)."""

    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    cidrs: list[str] = field(default_factory=list)
    prefix_list_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)


@dataclass
class SecurityGroup:
    id: str
    vpc_id: str
    name: str = ""
    egress: list[SgRule] = field(default_factory=list)
    ingress: list[SgRule] = field(default_factory=list)


@dataclass
class NaclEntry:
    rule_number: int
    egress: bool
    protocol: str
    allow: bool
    cidr: str
    from_port: int | None = None
    to_port: int | None = None


@dataclass
class NetworkAcl:
    id: str
    vpc_id: str
    default: bool = False
    subnet_ids: list[str] = field(default_factory=list)
    entries: list[NaclEntry] = field(default_factory=list)


@dataclass
class NamedPolicy:
    """An IAM policy document with the name users know it by (inline name or managed ARN)."""

    name: str
    document: dict[str, Any]


@dataclass
class Role:
    arn: str
    trust_policy: dict[str, Any] | None = None
    policies: list[NamedPolicy] = field(default_factory=list)
    boundary: NamedPolicy | None = None
    # Result of iam:SimulatePrincipalPolicy when AWS answered it: action -> EvaluationResult dict.
    simulation: dict[str, dict[str, Any]] | None = None
    # Why the permission policies could not be read (the trust policy may still have been)
    policies_error: str | None = None


@dataclass
class S3Object:
    """An s3:// URL the job reads, with what the caller could learn about it."""

    url: str
    bucket: str
    key: str
    purpose: str = "object"
    # The bucket's region (None when unknown); a gateway endpoint serves only its own region's buckets
    region: str | None = None
    # True: exists; False: 404; None: unknown (see access_error)
    exists: bool | None = None
    access_error: str | None = None
    bucket_policy: dict[str, Any] | None = None
    # Why the policy could not be read (None when read or when the bucket has no policy)
    policy_error: str | None = None


@dataclass
class NetworkModel:
    region: str
    subnet_ids: list[str]
    security_group_ids: list[str]
    subnets: dict[str, Subnet] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    missing_subnets: list[str] = field(default_factory=list)
    missing_security_groups: list[str] = field(default_factory=list)
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    dhcp_options: dict[str, DhcpOptions] = field(default_factory=dict)
    route_tables: list[RouteTable] = field(default_factory=list)
    internet_gateways: list[InternetGateway] = field(default_factory=list)
    nat_gateways: dict[str, NatGateway] = field(default_factory=dict)
    endpoints: list[VpcEndpoint] = field(default_factory=list)
    prefix_lists: dict[str, PrefixList] = field(default_factory=dict)
    network_acls: list[NetworkAcl] = field(default_factory=list)
    role: Role | None = None
    # True when IAM answered that the role does not exist (a finding, unlike an unreadable role)
    role_missing: bool = False
    objects: list[S3Object] = field(default_factory=list)
    # area ("subnets", "security_groups", "routes", "endpoints", "prefix_lists", "nacls",
    # "dns", "dhcp", "iam", "s3") -> why it could not be read
    unavailable: dict[str, str] = field(default_factory=dict)
    # Set when AWS could not be asked at all (no credentials, no connection): nothing could be judged
    load_error: str | None = None

    @property
    def s3_service_name(self) -> str:
        return f"com.amazonaws.{self.region}.s3"

    def s3_prefix_list(self) -> PrefixList | None:
        for pl in self.prefix_lists.values():
            if pl.name == self.s3_service_name:
                return pl
        return None

    def vpc_ids(self) -> list[str]:
        return sorted({s.vpc_id for s in self.subnets.values()})

    def job_vpc(self) -> Vpc | None:
        ids = self.vpc_ids()
        return self.vpcs.get(ids[0]) if len(ids) == 1 else None
