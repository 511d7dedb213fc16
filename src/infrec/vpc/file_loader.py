"""Read the network model from one JSON document for offline review.

The document gathers what `aws ec2 describe-…` (and a few iam/s3 get calls) print,
so a network engineer can review a VPC without giving infrec credentials. Each
section may be the list itself or the command's whole output (`{"Subnets": [...]}`);
a section that is absent makes the checks that need it SKIP, never pass::

    {"Region": "us-east-1",
     "Subnets": [...], "SecurityGroups": [...], "Vpcs": [...],
     "VpcAttributes": {"vpc-1": {"EnableDnsSupport": true, "EnableDnsHostnames": true}},
     "DhcpOptions": [...], "RouteTables": [...], "InternetGateways": [...], "NatGateways": [...],
     "VpcEndpoints": [...], "PrefixLists": [...], "PrefixListEntries": {"pl-1": [{"Cidr": "..."}]},
     "NetworkAcls": [...],
     "Role": {...get-role output...}, "RolePolicies": [{"PolicyName": "...", "PolicyDocument": {...}}],
     "AttachedPolicies": [{"PolicyArn": "...", "Document": {...}}],
     "PermissionsBoundary": {"PolicyArn": "...", "Document": {...}},
     "BucketPolicies": {"bucket": {...policy...}}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infrec.vpc import iam, parse
from infrec.vpc.aws_loader import ObjectRef, parse_s3_url
from infrec.vpc.model import NamedPolicy, NetworkModel, Role, S3Object


class FileFormatError(ValueError):
    """The offline document is not readable JSON of the expected shape; the message says where."""


def read_document(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise FileFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FileFormatError(f"{path} must hold a JSON object with sections such as \"Subnets\"")
    return doc


def _section(doc: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    value = doc.get(key)
    if isinstance(value, dict) and key in value:
        value = value[key]
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FileFormatError(f"section {key!r} must be a list of objects (or the output of the describe command)")
    return value


def _flag(v: Any) -> bool | None:
    if isinstance(v, dict):
        v = v.get("Value")
    return None if v is None else bool(v)


def load_document(doc: dict[str, Any], region: str | None, subnet_ids: list[str], sg_ids: list[str],
                  role_arn: str, objects: list[ObjectRef]) -> NetworkModel:
    """Build the model from an offline document; raises FileFormatError for malformed sections."""
    region = region or doc.get("Region") or "us-east-1"
    model = NetworkModel(region=str(region), subnet_ids=list(subnet_ids), security_group_ids=list(sg_ids))
    missing = "not in the offline document, so this was not checked."
    try:
        _fill(doc, model, missing, role_arn, objects)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FileFormatError):
            raise
        raise FileFormatError(f"the offline document has an unexpected shape: {exc!r}") from exc
    return model


def _fill(doc: dict[str, Any], model: NetworkModel, missing: str, role_arn: str, objects: list[ObjectRef]) -> None:
    subnets = _section(doc, "Subnets")
    if subnets is None:
        model.unavailable["subnets"] = "Subnets " + missing
    else:
        by_id = {d["SubnetId"]: d for d in subnets}
        model.subnets = {i: parse.subnet(by_id[i]) for i in dict.fromkeys(model.subnet_ids) if i in by_id}
        model.missing_subnets = [i for i in dict.fromkeys(model.subnet_ids) if i not in by_id]
    groups = _section(doc, "SecurityGroups")
    if groups is None:
        model.unavailable["security_groups"] = "SecurityGroups " + missing
    else:
        by_id = {d["GroupId"]: d for d in groups}
        model.security_groups = {i: parse.security_group(by_id[i]) for i in dict.fromkeys(model.security_group_ids)
                                 if i in by_id}
        model.missing_security_groups = [i for i in dict.fromkeys(model.security_group_ids) if i not in by_id]
    vpcs = _section(doc, "Vpcs")
    if vpcs is None:
        model.unavailable["dns"] = "Vpcs " + missing
        model.unavailable["dhcp"] = "Vpcs " + missing
    else:
        attrs = doc.get("VpcAttributes") or {}
        for d in vpcs:
            v = parse.vpc(d)
            a = attrs.get(v.id) or d
            v.dns_support = _flag(a.get("EnableDnsSupport"))
            v.dns_hostnames = _flag(a.get("EnableDnsHostnames"))
            model.vpcs[v.id] = v
    dhcp = _section(doc, "DhcpOptions")
    if dhcp is not None:
        model.dhcp_options = {d["DhcpOptionsId"]: parse.dhcp_options(d) for d in dhcp}
    rts = _section(doc, "RouteTables")
    if rts is None:
        model.unavailable["routes"] = "RouteTables " + missing
    else:
        model.route_tables = [parse.route_table(d) for d in rts]
    model.internet_gateways = [parse.internet_gateway(d) for d in _section(doc, "InternetGateways") or []]
    model.nat_gateways = {d["NatGatewayId"]: parse.nat_gateway(d) for d in _section(doc, "NatGateways") or []}
    eps = _section(doc, "VpcEndpoints")
    if eps is None:
        model.unavailable["endpoints"] = "VpcEndpoints " + missing
    else:
        model.endpoints = [parse.vpc_endpoint(d) for d in eps]
    pls = _section(doc, "PrefixLists")
    if pls is None:
        model.unavailable["prefix_lists"] = "PrefixLists " + missing
    else:
        entries = doc.get("PrefixListEntries") or {}
        for d in pls:
            e = entries.get(d["PrefixListId"])
            if isinstance(e, dict):
                e = e.get("Entries")
            model.prefix_lists[d["PrefixListId"]] = parse.prefix_list(d, e)
    nacls = _section(doc, "NetworkAcls")
    if nacls is None:
        model.unavailable["nacls"] = "NetworkAcls " + missing
    else:
        model.network_acls = [parse.network_acl(d) for d in nacls]
    _fill_role(doc, model, missing, role_arn)
    _fill_objects(doc, model, missing, objects)


def _fill_role(doc: dict[str, Any], model: NetworkModel, missing: str, role_arn: str) -> None:
    role_doc = doc.get("Role")
    if isinstance(role_doc, dict) and "Role" in role_doc:
        role_doc = role_doc["Role"]
    if not isinstance(role_doc, dict):
        model.unavailable["iam"] = "Role " + missing
        return
    if role_doc.get("Arn") and role_doc["Arn"] != role_arn:
        model.unavailable["iam"] = f"the document describes role {role_doc['Arn']}, not {role_arn}; not checked."
        return
    trust = role_doc.get("AssumeRolePolicyDocument")
    role = Role(arn=role_arn, trust_policy=iam.parse_document(trust) if trust else None)
    if "RolePolicies" not in doc and "AttachedPolicies" not in doc:
        role.policies_error = "RolePolicies/AttachedPolicies " + missing
    for p in doc.get("RolePolicies") or []:
        role.policies.append(NamedPolicy(f"inline policy {p['PolicyName']}", iam.parse_document(p["PolicyDocument"])))
    for p in doc.get("AttachedPolicies") or []:
        role.policies.append(NamedPolicy(f"managed policy {p['PolicyArn']}", iam.parse_document(p["Document"])))
    b = doc.get("PermissionsBoundary")
    if isinstance(b, dict):
        role.boundary = NamedPolicy(f"permissions boundary {b['PolicyArn']}", iam.parse_document(b["Document"]))
    model.role = role


def _fill_objects(doc: dict[str, Any], model: NetworkModel, missing: str, objects: list[ObjectRef]) -> None:
    if objects:
        model.unavailable["s3"] = "object existence is not checked in offline review."
    policies = doc.get("BucketPolicies")
    for ref in objects:
        bucket, key = parse_s3_url(ref.url)
        obj = S3Object(url=ref.url, bucket=bucket, key=key, purpose=ref.purpose)
        if not isinstance(policies, dict) or bucket not in policies:
            obj.policy_error = f"BucketPolicies[{bucket!r}] {missing}"
        elif policies[bucket]:
            obj.bucket_policy = iam.parse_document(policies[bucket])
        model.objects.append(obj)
