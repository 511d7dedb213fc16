"""infrec's own IAM evaluation: Allow/Deny, wildcards, NotAction, Resource, conditions, boundaries."""

from __future__ import annotations

import json
import urllib.parse

from infrec.vpc import iam
from infrec.vpc.model import NamedPolicy


def pol(*statements: dict, name: str = "p") -> NamedPolicy:
    return NamedPolicy(name, {"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_DESCRIBE = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}


def test_wildcards_and_case() -> None:
    assert iam.evaluate([pol(ALLOW_DESCRIBE)], "ec2:DescribeVpcs").decision == iam.ALLOWED
    assert iam.evaluate([pol(ALLOW_DESCRIBE)], "EC2:describevpcs").decision == iam.ALLOWED
    assert iam.evaluate([pol(ALLOW_DESCRIBE)], "ec2:CreateNetworkInterface").decision == iam.IMPLICIT_DENY
    q = pol({"Effect": "Allow", "Action": "ec2:Create?etworkInterface", "Resource": "*"})
    assert iam.evaluate([q], "ec2:CreateNetworkInterface").allowed
    assert not iam.evaluate([q], "ec2:CreateNetworkInterfacePermission").allowed


def test_not_action() -> None:
    p = pol({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
    assert iam.evaluate([p], "ec2:CreateNetworkInterface").allowed
    assert iam.evaluate([p], "iam:PassRole").decision == iam.IMPLICIT_DENY
    deny_all_but = pol({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
    assert iam.evaluate([pol(ALLOW_DESCRIBE), deny_all_but], "ec2:DescribeVpcs").decision == iam.EXPLICIT_DENY


def test_explicit_deny_wins_and_names_statement() -> None:
    d = iam.evaluate([pol({"Effect": "Allow", "Action": "*", "Resource": "*"}, name="admin"),
                      pol({"Sid": "NoEni", "Effect": "Deny", "Action": "ec2:CreateNetworkInterface*",
                           "Resource": "*"}, name="guard")], "ec2:CreateNetworkInterfacePermission")
    assert d.decision == iam.EXPLICIT_DENY and d.matched == ["guard statement 'NoEni'"]


def test_resource_matching() -> None:
    subnet_only = pol({"Effect": "Allow", "Action": "ec2:CreateNetworkInterface",
                       "Resource": "arn:aws:ec2:*:*:subnet/*"})
    assert iam.evaluate([subnet_only], "ec2:CreateNetworkInterface", "*").decision == iam.IMPLICIT_DENY
    assert iam.evaluate([subnet_only], "ec2:CreateNetworkInterface",
                        "arn:aws:ec2:us-east-1:123:subnet/subnet-1").allowed
    not_res = pol({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})
    assert iam.evaluate([not_res], "s3:GetObject", "arn:aws:s3:::data/x").allowed
    assert not iam.evaluate([not_res], "s3:GetObject", "arn:aws:s3:::secret/x").allowed


def test_conditions_are_warnings_never_silent_passes() -> None:
    cond = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}
    d = iam.evaluate([pol(cond)], "ec2:CreateNetworkInterface")
    assert d.decision == iam.CONDITIONAL and "aws:RequestedRegion" in d.conditions[0]
    cond_deny = {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
                 "Condition": {"Bool": {"aws:ViaAWSService": "false"}}}
    d = iam.evaluate([pol(ALLOW_DESCRIBE, cond_deny)], "ec2:DescribeVpcs")
    assert d.decision == iam.CONDITIONAL and "Deny" in d.note


def test_permissions_boundary_must_also_allow() -> None:
    admin = pol({"Effect": "Allow", "Action": "*", "Resource": "*"})
    boundary = NamedPolicy("boundary-x", {"Statement": [ALLOW_DESCRIBE]})
    assert iam.evaluate([admin], "ec2:DescribeVpcs", boundary=boundary).allowed
    d = iam.evaluate([admin], "ec2:CreateNetworkInterface", boundary=boundary)
    assert d.decision == iam.IMPLICIT_DENY and "boundary-x" in d.note


def test_documents_in_every_wire_form() -> None:
    doc = {"Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}}  # single statement, not a list
    assert iam.parse_document(json.dumps(doc)) == doc
    assert iam.parse_document(urllib.parse.quote(json.dumps(doc))) == doc
    assert iam.evaluate([NamedPolicy("p", doc)], "ec2:DescribeVpcs").allowed


def test_resource_policy_principals() -> None:
    role = "arn:aws:iam::123456789012:role/SM"
    p = pol({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:*",
             "Resource": "*"})
    assert not iam.evaluate([p], "s3:GetObject", "arn:aws:s3:::b/k", principal_arn=role).allowed
    p2 = pol({"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "s3:*", "Resource": "*"})
    assert iam.evaluate([p2], "s3:GetObject", "arn:aws:s3:::b/k", principal_arn=role).allowed
