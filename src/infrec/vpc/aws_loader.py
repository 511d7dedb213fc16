"""Read the network model from AWS with read-only boto3 calls.

Credentials and region come from the standard AWS configuration (environment,
profile, instance role); endpoints from `AWS_ENDPOINT_URL` /
`AWS_ENDPOINT_URL_<SERVICE>`, which boto3 honours itself — that is how the tests
point it at moto's server. Nothing here raises for AWS errors: a call the caller
may not make marks its area `unavailable` (the checks then SKIP with the reason),
and an AWS that cannot be reached at all sets `load_error` (a FAIL).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from infrec.vpc import iam, parse
from infrec.vpc.model import NamedPolicy, NetworkModel, Role, S3Object

log = logging.getLogger(__name__)

_DENIED = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "403", "Forbidden",
           "AllAccessDisabled"}
_BAD_CREDENTIALS = {"AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
                    "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidAccessKeyId"}
_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
_NO_RETRY = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1, "mode": "standard"})


class Unreachable(Exception):
    """AWS could not be asked at all (no credentials, no connection): the preflight cannot judge anything."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _explain(exc: Exception, what: str) -> str:
    """Turn an exception into the reason an area is unavailable, or raise Unreachable."""
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in _BAD_CREDENTIALS:
            raise Unreachable(f"AWS rejected the caller's credentials ({code}) while calling {what}.") from exc
        if code in _DENIED:
            return f"the caller lacks permission for {what} ({code}), so this was not checked."
        return f"{what} failed with {code or 'an error'}: {exc}."
    if isinstance(exc, NoCredentialsError):
        raise Unreachable("no AWS credentials were found (environment, profile or instance role).") from exc
    if isinstance(exc, NoRegionError):
        raise Unreachable("no AWS region is configured (pass --region or set AWS_DEFAULT_REGION).") from exc
    if isinstance(exc, BotoCoreError):
        raise Unreachable(f"AWS could not be reached while calling {what}: {exc}") from exc
    raise exc


def _pages(client: Any, op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            out.extend(page.get(key, []))
    else:
        out.extend(getattr(client, op)(**kw).get(key, []))
    return out


@dataclass
class ObjectRef:
    url: str
    purpose: str


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key); ValueError names what is wrong."""
    u = urlparse(url)
    if u.scheme != "s3" or not u.netloc:
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return u.netloc, u.path.lstrip("/")


def load(session: Any, region: str, subnet_ids: list[str], sg_ids: list[str], role_arn: str,
         objects: list[ObjectRef]) -> NetworkModel:
    """Collect one snapshot of everything the checks read. Never raises for AWS errors."""
    model = NetworkModel(region=region, subnet_ids=list(subnet_ids), security_group_ids=list(sg_ids))
    try:
        ec2 = session.client("ec2", region_name=region, config=_CONFIG)
        _load_network(ec2, model)
        _load_role(session, region, role_arn, model)
        _load_objects(session, region, objects, model)
    except Unreachable as exc:
        model.load_error = str(exc)
    except BotoCoreError as exc:  # a connection lost half-way through
        model.load_error = f"AWS could not be reached: {exc}"
    return model


def _describe_each(ec2: Any, op: str, id_param: str, key: str, ids: list[str],
                   not_found: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[str]]:
    """Describe all ids at once; when one is missing AWS fails the whole call, so ask one at a time."""
    uniq = list(dict.fromkeys(ids))
    try:
        return getattr(ec2, op)(**{id_param: uniq}).get(key, []), []
    except ClientError as exc:
        if not _code(exc).startswith(not_found):
            raise
    found, missing = [], []
    for i in uniq:
        try:
            found.extend(getattr(ec2, op)(**{id_param: [i]}).get(key, []))
        except ClientError as exc:
            if not _code(exc).startswith(not_found):
                raise
            missing.append(i)
    return found, missing


def _guard(model: NetworkModel, area: str, what: str, fn: Any) -> None:
    try:
        fn()
    except (ClientError, BotoCoreError) as exc:
        model.unavailable[area] = _explain(exc, what)


def _load_network(ec2: Any, model: NetworkModel) -> None:
    def subnets() -> None:
        found, missing = _describe_each(ec2, "describe_subnets", "SubnetIds", "Subnets", model.subnet_ids,
                                        ("InvalidSubnetID",))
        model.subnets = {d["SubnetId"]: parse.subnet(d) for d in found}
        model.missing_subnets = missing

    def groups() -> None:
        found, missing = _describe_each(ec2, "describe_security_groups", "GroupIds", "SecurityGroups",
                                        model.security_group_ids, ("InvalidGroup",))
        model.security_groups = {d["GroupId"]: parse.security_group(d) for d in found}
        model.missing_security_groups = missing

    _guard(model, "subnets", "ec2:DescribeSubnets", subnets)
    _guard(model, "security_groups", "ec2:DescribeSecurityGroups", groups)
    vpc_ids = sorted({s.vpc_id for s in model.subnets.values()})
    if not vpc_ids:
        return
    vf = [{"Name": "vpc-id", "Values": vpc_ids}]

    def vpcs() -> None:
        for d in ec2.describe_vpcs(VpcIds=vpc_ids).get("Vpcs", []):
            model.vpcs[d["VpcId"]] = parse.vpc(d)

    def dns() -> None:
        for v in model.vpcs.values():
            v.dns_support = bool(ec2.describe_vpc_attribute(VpcId=v.id, Attribute="enableDnsSupport")
                                 ["EnableDnsSupport"]["Value"])
            v.dns_hostnames = bool(ec2.describe_vpc_attribute(VpcId=v.id, Attribute="enableDnsHostnames")
                                   ["EnableDnsHostnames"]["Value"])

    def dhcp() -> None:
        ids = sorted({v.dhcp_options_id for v in model.vpcs.values() if v.dhcp_options_id not in (None, "default")})
        if ids:
            for d in ec2.describe_dhcp_options(DhcpOptionsIds=ids).get("DhcpOptions", []):
                model.dhcp_options[d["DhcpOptionsId"]] = parse.dhcp_options(d)

    def routes() -> None:
        model.route_tables = [parse.route_table(d) for d in _pages(ec2, "describe_route_tables", "RouteTables",
                                                                   Filters=vf)]
        model.internet_gateways = [parse.internet_gateway(d) for d in _pages(
            ec2, "describe_internet_gateways", "InternetGateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": vpc_ids}])]
        for d in _pages(ec2, "describe_nat_gateways", "NatGateways", Filter=vf):
            model.nat_gateways[d["NatGatewayId"]] = parse.nat_gateway(d)

    def endpoints() -> None:
        model.endpoints = [parse.vpc_endpoint(d) for d in _pages(
            ec2, "describe_vpc_endpoints", "VpcEndpoints",
            Filters=[*vf, {"Name": "service-name", "Values": [model.s3_service_name]}])]

    def prefix_lists() -> None:
        pls = _pages(ec2, "describe_managed_prefix_lists", "PrefixLists",
                     Filters=[{"Name": "prefix-list-name", "Values": [model.s3_service_name]}])
        wanted = {r for g in model.security_groups.values() for rule in g.egress for r in rule.prefix_list_ids}
        others = [p for p in wanted if p not in {d["PrefixListId"] for d in pls}]
        if others:
            pls += _pages(ec2, "describe_managed_prefix_lists", "PrefixLists", PrefixListIds=others)
        for d in pls:
            entries = _pages(ec2, "get_managed_prefix_list_entries", "Entries", PrefixListId=d["PrefixListId"])
            model.prefix_lists[d["PrefixListId"]] = parse.prefix_list(d, entries)

    def nacls() -> None:
        model.network_acls = [parse.network_acl(d) for d in _pages(ec2, "describe_network_acls", "NetworkAcls",
                                                                   Filters=vf)]

    _guard(model, "dns", "ec2:DescribeVpcs", vpcs)
    _guard(model, "dns", "ec2:DescribeVpcAttribute", dns)
    _guard(model, "dhcp", "ec2:DescribeDhcpOptions", dhcp)
    _guard(model, "routes", "ec2:DescribeRouteTables/DescribeInternetGateways/DescribeNatGateways", routes)
    _guard(model, "endpoints", "ec2:DescribeVpcEndpoints", endpoints)
    _guard(model, "prefix_lists", "ec2:DescribeManagedPrefixLists/GetManagedPrefixListEntries", prefix_lists)
    _guard(model, "nacls", "ec2:DescribeNetworkAcls", nacls)


def _simulate(session: Any, region: str, role_arn: str) -> dict[str, dict[str, Any]] | None:
    """iam:SimulatePrincipalPolicy when AWS answers it (moto does not; many callers may not)."""
    from infrec.vpc.access_checks import ENI_ACTIONS

    try:
        client = session.client("iam", region_name=region, config=_NO_RETRY)
        out: dict[str, dict[str, Any]] = {}
        for page in client.get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=role_arn, ActionNames=list(ENI_ACTIONS)):
            for r in page.get("EvaluationResults", []):
                out[str(r["EvalActionName"]).lower()] = r
        return out or None
    except Exception as exc:  # not implemented, denied, or unparseable: fall back to local evaluation
        log.debug("SimulatePrincipalPolicy unavailable: %s", exc)
        return None


def _load_role(session: Any, region: str, role_arn: str, model: NetworkModel) -> None:
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5].startswith("role/"):
        model.role_missing = True
        return
    name = parts[5].rsplit("/", 1)[-1]
    client = session.client("iam", region_name=region, config=_CONFIG)
    try:
        got = client.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            model.role_missing = True
            return
        model.unavailable["iam"] = _explain(exc, "iam:GetRole")
        sim = _simulate(session, region, role_arn)
        if sim is not None:
            model.role = Role(arn=role_arn, simulation=sim)
        return
    except BotoCoreError as exc:
        model.unavailable["iam"] = _explain(exc, "iam:GetRole")
        return
    role = Role(arn=role_arn, trust_policy=_doc(got.get("AssumeRolePolicyDocument")))
    model.role = role
    role.simulation = _simulate(session, region, role_arn)
    try:
        for pname in _pages(client, "list_role_policies", "PolicyNames", RoleName=name):
            doc = client.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
            role.policies.append(NamedPolicy(f"inline policy {pname}", _doc(doc) or {}))
        for att in _pages(client, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
            role.policies.append(_managed(client, att["PolicyArn"]))
        boundary = (got.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary:
            role.boundary = _managed(client, boundary, "permissions boundary")
    except (ClientError, BotoCoreError) as exc:
        role.policies_error = _explain(
            exc, "iam:ListRolePolicies/GetRolePolicy/ListAttachedRolePolicies/GetPolicy/GetPolicyVersion")


def _managed(client: Any, arn: str, kind: str = "managed policy") -> NamedPolicy:
    pol = client.get_policy(PolicyArn=arn)["Policy"]
    ver = client.get_policy_version(PolicyArn=arn, VersionId=pol["DefaultVersionId"])["PolicyVersion"]
    return NamedPolicy(f"{kind} {arn}", _doc(ver.get("Document")) or {})


def _doc(doc: Any) -> dict[str, Any] | None:
    if doc is None:
        return None
    try:
        return iam.parse_document(doc)
    except (ValueError, TypeError):
        return None


def _load_objects(session: Any, region: str, objects: list[ObjectRef], model: NetworkModel) -> None:
    if not objects:
        return
    s3 = session.client("s3", region_name=region, config=_CONFIG)
    for ref in objects:
        bucket, key = parse_s3_url(ref.url)
        obj = S3Object(url=ref.url, bucket=bucket, key=key, purpose=ref.purpose)
        model.objects.append(obj)
        try:
            if key and not key.endswith("/"):
                s3.head_object(Bucket=bucket, Key=key)
            else:
                s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            obj.exists = True
        except ClientError as exc:
            code = _code(exc)
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                obj.exists = False
                obj.access_error = "no such object" if code != "NoSuchBucket" else f"bucket {bucket} does not exist"
            elif code in ("403", "AccessDenied", "Forbidden"):
                obj.access_error = "HTTP 403 Forbidden for the caller"
            else:
                obj.access_error = _explain(exc, "s3:HeadObject")
        try:
            loc = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
            obj.region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)
        except ClientError:
            obj.region = None  # unknown: the region check says so instead of guessing
        try:
            obj.bucket_policy = _doc(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if _code(exc) not in ("NoSuchBucketPolicy", "NoSuchBucket"):
                obj.policy_error = _explain(exc, "s3:GetBucketPolicy")
