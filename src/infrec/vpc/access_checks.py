"""The access checks of the VPC preflight (pure): the job role's trust and ec2 permissions,
the S3 endpoint policy, and the payload/model objects (exist, not VPC-restricted).
"""

from __future__ import annotations

from infrec.vpc import iam, routing
from infrec.vpc.model import NamedPolicy, NetworkModel
from infrec.vpc.result import FAIL, PASS, SKIP, WARN, CheckResult, Finding, merge

# The eleven actions the reference document lists for jobs in a VPC.
ENI_ACTIONS = (
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:CreateNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
)

# Listed by the reference, yet AWS's own AmazonSageMakerFullAccess (which the reference says is enough)
# does not grant it (checked against moto's copy, edited 2026-02-12): its absence is a warning, not a failure.
SOFT_ACTIONS = {"ec2:ModifyNetworkInterfaceAttribute"}

VPC_KEYS = {"aws:sourcevpc", "aws:sourcevpce", "aws:vpcsourceip", "aws:sourcevpcarn"}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike",
            "notipaddress"}

ENI_POLICY_FIX = ("attach an inline policy allowing these ec2 actions on \"*\": aws iam put-role-policy "
                  "--role-name {role} --policy-name infrec-vpc-eni --policy-document "
                  "'{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[{actions}],"
                  "\"Resource\":\"*\"}}]}}'.")


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def _missing_role(cid: str, title: str, role_arn: str) -> CheckResult:
    """Every check of the job role fails the same way when the role does not exist."""
    return CheckResult(cid, title, FAIL, f"role {role_arn} does not exist.", [role_arn],
                       "create the role or pass an existing RoleArn.")


def check_iam_trust(model: NetworkModel, role_arn: str) -> CheckResult:
    title = "Job role trusts SageMaker"
    cid = "IAM-TRUST"
    if model.role_missing:
        return _missing_role(cid, title, role_arn)
    if model.role is None or model.role.trust_policy is None:
        return CheckResult(cid, title, SKIP, model.unavailable.get("iam", f"the trust policy of {role_arn} could "
                           "not be read."), [role_arn])
    for stmt in iam.statements(model.role.trust_policy):
        if str(stmt.get("Effect", "")).lower() != "allow" or not iam.action_matches(stmt, "sts:AssumeRole"):
            continue
        principal = stmt.get("Principal")
        services = iam.as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if principal == "*" or "sagemaker.amazonaws.com" in services:
            return CheckResult(cid, title, PASS, f"{role_arn} can be assumed by sagemaker.amazonaws.com.", [role_arn])
    return CheckResult(cid, title, FAIL, f"role {role_arn} does not trust sagemaker.amazonaws.com, so SageMaker "
                       "cannot assume it.", [role_arn],
                       f"aws iam update-assume-role-policy --role-name {_role_name(role_arn)} --policy-document "
                       "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
                       "{\"Service\":\"sagemaker.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}'.")


def _simulated(model: NetworkModel) -> list[iam.Decision]:
    assert model.role is not None and model.role.simulation is not None
    out = []
    for action in ENI_ACTIONS:
        res = model.role.simulation.get(action.lower()) or model.role.simulation.get(action) or {}
        decision = str(res.get("EvalDecision", iam.IMPLICIT_DENY))
        matched = [str(m.get("SourcePolicyId", "")) for m in res.get("MatchedStatements") or []]
        d = iam.Decision(action, decision, matched)
        pb = res.get("PermissionsBoundaryDecisionDetail") or {}
        org = res.get("OrganizationsDecisionDetail") or {}
        if decision == iam.IMPLICIT_DENY and pb.get("AllowedByPermissionsBoundary") is False:
            d.note = "not allowed by the permissions boundary"
        elif decision == iam.IMPLICIT_DENY and org.get("AllowedByOrganizations") is False:
            d = iam.Decision(action, iam.CONDITIONAL, matched, [], "an SCP may block this")
        if decision == iam.ALLOWED and res.get("MissingContextValues"):
            d = iam.Decision(action, iam.CONDITIONAL, matched, list(res["MissingContextValues"]),
                             "depends on context values that were not supplied")
        out.append(d)
    return out


def check_iam_eni(model: NetworkModel, role_arn: str) -> CheckResult:
    title = "Job role may manage network interfaces"
    cid = "IAM-ENI"
    if model.role_missing:
        return _missing_role(cid, title, role_arn)
    role = model.role
    if role is None:
        return CheckResult(cid, title, SKIP, model.unavailable.get("iam", f"the policies of {role_arn} could not be "
                           "read."), [role_arn])
    if role.simulation is None and role.policies_error:
        return CheckResult(cid, title, SKIP, role.policies_error, [role_arn])
    if role.simulation is not None:
        decisions, source = _simulated(model), "iam:SimulatePrincipalPolicy"
    else:
        decisions = [iam.evaluate(role.policies, a, "*", role.boundary) for a in ENI_ACTIONS]
        source = "identity policies only — SCPs/RCPs not evaluated"
    refused = [d for d in decisions if d.decision in (iam.EXPLICIT_DENY, iam.IMPLICIT_DENY)]
    denied = [d for d in refused if d.action not in SOFT_ACTIONS or d.decision == iam.EXPLICIT_DENY]
    soft = [d for d in refused if d not in denied]
    cond = [d for d in decisions if d.decision == iam.CONDITIONAL]
    fix = ENI_POLICY_FIX.format(role=_role_name(role_arn),
                                actions=",".join(f'"{d.action}"' for d in (denied or soft or cond)))
    f: list[Finding] = []
    groups: dict[str, list[str]] = {}
    for d in denied:
        why = d.decision + (f" by {', '.join(d.matched)}" if d.matched else "") + (f"; {d.note}" if d.note else "")
        groups.setdefault(why, []).append(d.action)
    for why, actions in groups.items():
        f.append(Finding(FAIL, f"role {role_arn} is not allowed {', '.join(actions)} ({why}).", [role_arn]))
    for d in soft:
        f.append(Finding(WARN, f"role {role_arn} is not allowed {d.action} ({d.decision}); the reference lists it, "
                               "though AWS's AmazonSageMakerFullAccess does not grant it either.", [role_arn]))
    for d in cond:
        f.append(Finding(WARN, f"role {role_arn} is allowed {d.action} only under conditions infrec cannot "
                               f"evaluate ({d.note}; {'; '.join(d.conditions) or 'see the policy'}).", [role_arn]))
    if f:
        f[-1].remedy = fix
        if denied:
            f.append(Finding(FAIL, "SageMaker needs these actions to attach network interfaces in your VPC "
                                   f"({source}).", [role_arn], fix))
    return merge(cid, title, f, f"{role_arn} is allowed all {len(ENI_ACTIONS)} ec2 network-interface actions "
                 f"({source}).", [role_arn])


def check_endpoint_policy(model: NetworkModel, role_arn: str) -> CheckResult:
    """A gateway endpoint's policy filters every S3 request routed through it."""
    title = "S3 endpoint policy allows the job's objects"
    cid = "VPC-S3-POLICY"
    eps = []
    for s in model.subnets.values():
        rt, _ = routing.effective_route_table(model, s)
        for e in routing.s3_gateway_endpoints(model, rt):
            if e not in eps:
                eps.append(e)
    if not eps or not model.objects:
        return CheckResult(cid, title, SKIP, "no S3 gateway endpoint serves the job subnets, or no object to check.")
    f: list[Finding] = []
    for e in eps:
        if e.policy is None:
            continue
        pol = NamedPolicy(f"policy of {e.id}", e.policy)
        for o in model.objects:
            arn = f"arn:aws:s3:::{o.bucket}/{o.key}"
            d = iam.evaluate([pol], "s3:GetObject", arn, principal_arn=role_arn)
            fix = f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {e.id} --reset-policy (or allow s3:GetObject on {arn})."
            if d.decision in (iam.EXPLICIT_DENY, iam.IMPLICIT_DENY):
                f.append(Finding(FAIL, f"the policy on {e.id} does not allow s3:GetObject on {arn} ({o.url}) for {role_arn} "
                                       f"({d.decision}); requests routed through this endpoint will be denied.",
                                 [e.id, o.url], fix))
            elif d.decision == iam.CONDITIONAL:
                f.append(Finding(WARN, f"the policy on {e.id} allows s3:GetObject on {arn} ({o.url}) only under conditions "
                                       f"infrec cannot evaluate ({'; '.join(d.conditions)}).", [e.id, o.url], fix))
    return merge(cid, title, f, f"the policies of {', '.join(e.id for e in eps)} allow reading the job's objects.",
                 [e.id for e in eps])


def check_objects(model: NetworkModel) -> CheckResult:
    title = "Payload and model objects exist"
    cid = "S3-OBJECT"
    if not model.objects:
        return CheckResult(cid, title, SKIP, "no s3:// payload or model data given.")
    if "s3" in model.unavailable:
        return CheckResult(cid, title, SKIP, model.unavailable["s3"], [o.url for o in model.objects])
    f: list[Finding] = []
    for o in model.objects:
        if o.exists is False:
            f.append(Finding(FAIL, f"{o.purpose} {o.url} does not exist ({o.access_error or 'not found'}).", [o.url],
                             f"upload it (aws s3 cp <file> {o.url}) or fix the URL."))
        elif o.exists is None:
            f.append(Finding(WARN, f"{o.purpose} {o.url} could not be read by the caller ({o.access_error}); either "
                                   "the caller lacks s3:GetObject or a bucket policy restricts it (see "
                                   "S3-VPC-RESTRICT).", [o.url],
                             f"check the bucket policy of {o.bucket} and the caller's permissions."))
    return merge(cid, title, f, f"{', '.join(o.url for o in model.objects)} exist.", [o.url for o in model.objects])


def _vpc_condition(stmt: dict) -> tuple[list[str], list[str], bool]:
    """(VPC condition texts, other condition keys, VPC key used with a negated operator)."""
    vpc, other, negated = [], [], False
    for op, block in (stmt.get("Condition") or {}).items():
        if not isinstance(block, dict):
            continue
        base = op.lower().removeprefix("forallvalues:").removeprefix("foranyvalue:").removesuffix("ifexists")
        for key, vals in block.items():
            if key.lower() in VPC_KEYS:
                vpc.append(f"{key} {op} {','.join(str(v) for v in iam.as_list(vals))}")
                negated = negated or base in _NEGATED
            else:
                other.append(key)
    return vpc, other, negated


def check_vpc_restricted(model: NetworkModel) -> CheckResult:
    title = "Payload and model buckets are not VPC-restricted"
    cid = "S3-VPC-RESTRICT"
    if not model.objects:
        return CheckResult(cid, title, SKIP, "no s3:// payload or model data given.")
    f: list[Finding] = []
    for o in model.objects:
        if o.policy_error:
            f.append(Finding(SKIP, f"the policy of bucket {o.bucket} could not be read ({o.policy_error}).",
                             [o.bucket]))
            continue
        if not o.bucket_policy:
            continue
        arn = f"arn:aws:s3:::{o.bucket}/{o.key}"
        for i, stmt in enumerate(iam.statements(o.bucket_policy)):
            if not (iam.action_matches(stmt, "s3:GetObject") and iam.resource_matches(stmt, arn)):
                continue
            vpc, other, negated = _vpc_condition(stmt)
            if not vpc:
                continue
            label = f"statement {stmt['Sid']!r}" if stmt.get("Sid") else f"statement #{i + 1}"
            effect = str(stmt.get("Effect", "")).lower()
            fix = (f"remove or scope {label} of the policy of bucket {o.bucket} (aws s3api get-bucket-policy "
                   f"--bucket {o.bucket}; e.g. exempt the job role via aws:PrincipalArn), or put the {o.purpose} in "
                   "a bucket without a VPC restriction.")
            what = (f"bucket {o.bucket} policy {label} {'denies' if effect == 'deny' else 'allows'} s3:GetObject "
                    f"{'unless' if effect == 'deny' else 'only if'} {'; '.join(vpc)}")
            if effect == "deny" and negated and not other:
                f.append(Finding(FAIL, f"{what}. Inference Recommender reads the {o.purpose} {o.url} from outside "
                                       "your VPC, so the job would fail.", [o.bucket, o.url], fix))
            elif effect == "deny" and negated:
                f.append(Finding(WARN, f"{what} (with other conditions: {', '.join(other)}, which may exempt the job "
                                       "role); the reference requires objects that are not VPC-restricted.",
                                 [o.bucket, o.url], fix))
            elif effect == "allow":
                f.append(Finding(WARN, f"{what}; that restricts only access not granted elsewhere, but the reference "
                                       "requires objects that are not VPC-restricted.", [o.bucket, o.url], fix))
    return merge(cid, title, f, "no bucket policy of the job's objects restricts reads to a VPC (bucket policies only; "
                 "SCPs, RCPs and access points are not visible here).", sorted({o.bucket for o in model.objects}))


def check_bucket_region(model: NetworkModel) -> CheckResult:
    """A gateway endpoint reaches only buckets in the VPC's region; other regions need a NAT path."""
    title = "Buckets reachable through the S3 path"
    cid = "VPC-S3-REGION"
    if not model.objects or not model.subnets:
        return CheckResult(cid, title, SKIP, "no s3:// payload or model data given, or no subnet read.")
    endpoint_only = []
    for s in model.subnets.values():
        rt, _ = routing.effective_route_table(model, s)
        if routing.classify_egress(model, rt).kind != routing.INTERNET:
            endpoint_only.append(s.id)
    f: list[Finding] = []
    for o in model.objects:
        if o.region is None:
            continue
        if o.region != model.region and endpoint_only:
            f.append(Finding(FAIL, f"bucket {o.bucket} ({o.url}) is in {o.region}, but subnets "
                                   f"{', '.join(endpoint_only)} reach S3 only through endpoints of {model.region}, "
                                   "which serve only that region's buckets.", [o.bucket, o.url, *endpoint_only],
                             f"copy the {o.purpose} to a bucket in {model.region} "
                             f"(aws s3 cp {o.url} s3://<bucket-in-{model.region}>/…) or give the subnets a NAT path."))
    return merge(cid, title, f, f"the job's buckets are in {model.region} or reachable through a NAT gateway.",
                 sorted({o.bucket for o in model.objects}))
