"""The network checks of the VPC preflight (pure functions over a `NetworkModel`).

Each function returns one `CheckResult`; `run_checks` runs them all, including the
IAM and S3 checks from `access_checks`. Messages name the resource ids at fault
and the fix in the words of the AWS CLI, because that is what the person reading
a failed job will type next.
"""

from __future__ import annotations

import re

from infrec.vpc import routing
from infrec.vpc.access_checks import (
    check_bucket_region,
    check_endpoint_policy,
    check_iam_eni,
    check_iam_trust,
    check_objects,
    check_vpc_restricted,
)
from infrec.vpc.model import NetworkModel, SgRule, Subnet
from infrec.vpc.result import FAIL, PASS, SKIP, WARN, CheckResult, Finding, merge

MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
_SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SG_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")


def _skip(check_id: str, title: str, why: str, resources: list[str] | None = None) -> CheckResult:
    return CheckResult(check_id, title, SKIP, why, list(resources or []))


def check_config(model: NetworkModel) -> CheckResult:
    title = "VpcConfig shape"
    f: list[Finding] = []
    for kind, ids, hi, pat in (("Subnets", model.subnet_ids, MAX_SUBNETS, _SUBNET_RE),
                               ("SecurityGroupIds", model.security_group_ids, MAX_SECURITY_GROUPS, _SG_RE)):
        if not 1 <= len(ids) <= hi:
            f.append(Finding(FAIL, f"VpcConfig.{kind} has {len(ids)} entries ({', '.join(ids) or 'none'}); "
                                   f"the API allows 1–{hi}.",
                             list(ids), f"give between 1 and {hi} {kind}."))
        dups = sorted({i for i in ids if ids.count(i) > 1})
        if dups:
            f.append(Finding(WARN, f"VpcConfig.{kind} lists {', '.join(dups)} more than once.", dups,
                             "remove the duplicates."))
        odd = [i for i in ids if not pat.match(i)]
        if odd:
            f.append(Finding(WARN, f"VpcConfig.{kind} entries {', '.join(odd)} do not look like AWS ids.", odd,
                             "check the ids (subnet-… / sg-…)."))
    return merge("VPC-CONFIG", title, f, "1–16 subnets and 1–5 security groups, no duplicates.")


def check_exist(model: NetworkModel) -> CheckResult:
    title = "Subnets and security groups exist in one VPC"
    for area in ("subnets", "security_groups"):
        if area in model.unavailable:
            return _skip("VPC-EXIST", title, model.unavailable[area])
    f: list[Finding] = []
    for sid in model.missing_subnets:
        f.append(Finding(FAIL, f"subnet {sid} does not exist in {model.region}.", [sid],
                         f"use subnet ids from `aws ec2 describe-subnets --region {model.region}`."))
    for gid in model.missing_security_groups:
        f.append(Finding(FAIL, f"security group {gid} does not exist in {model.region}.", [gid],
                         f"use group ids from `aws ec2 describe-security-groups --region {model.region}`."))
    vpcs = model.vpc_ids()
    if len(vpcs) > 1:
        parts = [f"{s.id} in {s.vpc_id}" for s in model.subnets.values()]
        f.append(Finding(FAIL, f"the subnets belong to {len(vpcs)} VPCs ({', '.join(parts)}); "
                               "all subnets of a job must be in one VPC.",
                         [*vpcs, *model.subnets], "choose subnets from a single VPC."))
    elif vpcs:
        for sg in model.security_groups.values():
            if sg.vpc_id != vpcs[0]:
                f.append(Finding(FAIL, f"security group {sg.id} belongs to {sg.vpc_id} but the subnets belong to "
                                       f"{vpcs[0]}; every security group must be in the subnets' VPC.",
                                 [sg.id, sg.vpc_id, vpcs[0]],
                                 f"use security groups of {vpcs[0]} (aws ec2 describe-security-groups "
                                 f"--filters Name=vpc-id,Values={vpcs[0]})."))
    for s in model.subnets.values():
        if s.state.lower() != "available":
            f.append(Finding(FAIL, f"subnet {s.id} is {s.state}, not available.", [s.id],
                             "wait until it is available or use another subnet."))
    ok = [*model.subnets, *model.security_groups, *vpcs]
    return merge("VPC-EXIST", title, f, f"all subnets and security groups exist in {', '.join(vpcs) or '-'}.", ok)


def check_az(model: NetworkModel) -> CheckResult:
    title = "Availability Zone spread"
    if not model.subnets:
        return _skip("VPC-AZ", title, "no job subnet could be read.")
    zones = sorted({s.az_id or s.az for s in model.subnets.values()})
    if len(zones) < 2:
        return CheckResult("VPC-AZ", title, WARN,
                           f"all job subnets ({', '.join(model.subnets)}) are in {zones[0] if zones else '?'}; "
                           "SageMaker hosting asks for subnets in at least two Availability Zones.",
                           list(model.subnets), "add a subnet in a second Availability Zone.")
    return CheckResult("VPC-AZ", title, PASS, f"subnets span {', '.join(zones)}.", list(model.subnets))


def check_ip_capacity(model: NetworkModel, instances_at_once: int) -> CheckResult:
    title = "Free private IP addresses"
    if not model.subnets:
        return _skip("VPC-IP", title, "no job subnet could be read.")
    need = 2 * max(0, instances_at_once)
    avail = {s.id: max(0, s.available_ips) for s in model.subnets.values()}
    total = sum(avail.values())
    listing = ", ".join(f"{k} ({v} free)" for k, v in avail.items())
    how = (f"2 per instance × {instances_at_once} instances at once (parallel tests × instances per endpoint)")
    subs = list(avail)
    if total < need:
        return CheckResult("VPC-IP", title, FAIL,
                           f"the job needs {need} free private IPs ({how}) but subnets {listing} have {total} "
                           "in total.", subs,
                           "add subnets with free addresses to VpcConfig.Subnets, release unused network "
                           f"interfaces, or lower ResourceLimit.MaxParallelOfTests to {max(1, total // 2)} or less.")
    f: list[Finding] = []
    if avail and max(avail.values()) < need:
        f.append(Finding(WARN, f"no single subnet can hold all {instances_at_once} instances ({need} IPs): {listing}; "
                               "the job relies on SageMaker spreading them.", subs,
                         "add free addresses to one subnet or keep the subnets balanced."))
    small = [k for k, v in avail.items() if v < 2]
    if small:
        f.append(Finding(WARN, f"subnets {', '.join(small)} have fewer than 2 free IPs and cannot host an instance.",
                         small, "free addresses in them or drop them from the job."))
    return merge("VPC-IP", title, f, f"{total} free IPs ({listing}) for the {need} needed ({how}).", subs)


def check_s3_path(model: NetworkModel) -> CheckResult:
    title = "Outbound path to S3 from every subnet"
    if not model.subnets:
        return _skip("VPC-S3", title, "no job subnet could be read.")
    for area in ("routes", "endpoints"):
        if area in model.unavailable:
            return _skip("VPC-S3", title, model.unavailable[area])
    f: list[Finding] = []
    ok_parts: list[str] = []
    blocked: dict[tuple[str, str, str, str], list[Subnet]] = {}
    svc = model.s3_service_name
    for s in model.subnets.values():
        rt, how = routing.effective_route_table(model, s)
        where = f"subnet {s.id} ({s.az_id or s.az}) uses {rt.id if rt else 'no route table'} ({how})"
        gws = routing.s3_gateway_endpoints(model, rt)
        good = [e for e in gws if e.state.lower() == "available"]
        if good:
            ok_parts.append(f"{s.id} via {good[0].id}")
            continue
        egress = routing.classify_egress(model, rt)
        if egress.kind == routing.INTERNET:
            ok_parts.append(f"{s.id} via NAT ({egress.detail})")
            continue
        vpc = model.vpcs.get(s.vpc_id)
        ifaces = [e for e in routing.s3_interface_endpoints(model, s.vpc_id)
                  if e.state.lower() == "available" and e.private_dns]
        if ifaces:
            if vpc is not None and vpc.dns_support is not False and vpc.dns_hostnames is not False:
                ok_parts.append(f"{s.id} via interface endpoint {ifaces[0].id} (private DNS)")
            else:
                f.append(Finding(WARN, f"{where}; its only S3 path is interface endpoint {ifaces[0].id}, whose "
                                       f"private DNS needs enableDnsSupport and enableDnsHostnames on {s.vpc_id}.",
                                 [s.id, ifaces[0].id, s.vpc_id],
                                 f"aws ec2 modify-vpc-attribute --vpc-id {s.vpc_id} --enable-dns-hostnames "
                                 "'{\"Value\":true}' (and --enable-dns-support)."))
            continue
        if egress.kind == routing.UNKNOWN:
            f.append(Finding(WARN, f"{where}; {egress.detail} and it has no S3 gateway endpoint.",
                             [s.id, rt.id if rt else s.id],
                             f"attach an S3 gateway endpoint ({svc}) to {rt.id if rt else 'its route table'}."))
            continue
        rt_id = rt.id if rt else "<route-table-id>"
        res = [s.id, rt_id]
        pending = [e for e in gws if e.state.lower() != "available"]
        if pending:
            f.append(Finding(FAIL, f"{where}; its S3 gateway endpoint {pending[0].id} is {pending[0].state}, "
                                   f"not available, and there is no working internet path ({egress.detail}).",
                             [*res, pending[0].id], f"wait for {pending[0].id} to be available or recreate it."))
            continue
        blocked.setdefault((rt_id, how, egress.detail, s.vpc_id), []).append(s)
    for (rt_id, how, detail, vpc_id), subs in blocked.items():
        others = [e.id for e in model.endpoints if routing.is_s3_endpoint(model, e) and e.vpc_id == vpc_id
                  and e.type.lower() == "gateway"]
        elsewhere = (f" S3 gateway endpoint {', '.join(others)} exists in {vpc_id} but is not attached to "
                     f"{rt_id}." if others else "")
        fix = (f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {others[0]} --add-route-table-ids {rt_id}"
               if others else
               f"aws ec2 create-vpc-endpoint --vpc-id {vpc_id} --vpc-endpoint-type Gateway "
               f"--service-name {svc} --route-table-ids {rt_id}")
        names = ", ".join(f"{x.id} ({x.az_id or x.az})" for x in subs)
        f.append(Finding(FAIL, f"subnet{'s' if len(subs) > 1 else ''} {names} use{'' if len(subs) > 1 else 's'} "
                               f"{rt_id} ({how}), which has no route to an S3 gateway endpoint ({svc}) and no "
                               f"working internet path ({detail}).{elsewhere} SageMaker would fail to download "
                               "the model data and payload.", [*(x.id for x in subs), rt_id, *others],
                         f"{fix} (or route 0.0.0.0/0 of {rt_id} to a public NAT gateway)."))
    return merge("VPC-S3", title, f, "; ".join(ok_parts) + ".", list(model.subnets))


def check_dns(model: NetworkModel) -> CheckResult:
    title = "VPC DNS resolution"
    vpc = model.job_vpc()
    if vpc is None or "dns" in model.unavailable:
        return _skip("VPC-DNS", title, model.unavailable.get("dns", "the job's VPC could not be determined."))
    if vpc.dns_support is None:
        return _skip("VPC-DNS", title, f"the DNS attributes of {vpc.id} could not be read.", [vpc.id])
    f: list[Finding] = []
    if vpc.dns_support is False:
        dhcp = model.dhcp_options.get(vpc.dhcp_options_id or "")
        servers = dhcp.config.get("domain-name-servers", []) if dhcp else []
        custom = bool(servers) and "AmazonProvidedDNS" not in servers
        f.append(Finding(WARN if custom else FAIL,
                         f"{vpc.id} has enableDnsSupport=false; instances cannot resolve S3 endpoint names"
                         + (" unless the custom DNS servers in the DHCP options resolve amazonaws.com." if custom
                            else "."), [vpc.id],
                         f"aws ec2 modify-vpc-attribute --vpc-id {vpc.id} --enable-dns-support '{{\"Value\":true}}'."))
    if vpc.dns_hostnames is False:
        relied = [e.id for e in routing.s3_interface_endpoints(model, vpc.id) if e.private_dns]
        if relied:
            f.append(Finding(WARN, f"{vpc.id} has enableDnsHostnames=false, so the private DNS of S3 interface "
                                   f"endpoint {', '.join(relied)} does not apply.", [vpc.id, *relied],
                             f"aws ec2 modify-vpc-attribute --vpc-id {vpc.id} "
                             "--enable-dns-hostnames '{\"Value\":true}'."))
    return merge("VPC-DNS", title, f, f"{vpc.id} has enableDnsSupport on.", [vpc.id])


def check_dhcp(model: NetworkModel) -> CheckResult:
    title = "DHCP options"
    vpc = model.job_vpc()
    if vpc is None or "dhcp" in model.unavailable or vpc.dhcp_options_id is None:
        return _skip("VPC-DHCP", title, model.unavailable.get("dhcp", "the VPC's DHCP options could not be read."))
    fix = (f"aws ec2 create-dhcp-options --dhcp-configurations Key=domain-name-servers,Values=AmazonProvidedDNS "
           f"Key=domain-name,Values={'ec2.internal' if model.region == 'us-east-1' else model.region + '.compute.internal'}"
           f" and aws ec2 associate-dhcp-options --vpc-id {vpc.id} --dhcp-options-id <new id>.")
    if vpc.dhcp_options_id == "default":
        return CheckResult("VPC-DHCP", title, WARN, f"{vpc.id} has no DHCP options set (\"default\"); instances get "
                           "no DNS servers or domain name from DHCP.", [vpc.id], fix)
    dhcp = model.dhcp_options.get(vpc.dhcp_options_id)
    if dhcp is None:
        return CheckResult("VPC-DHCP", title, WARN, f"DHCP options {vpc.dhcp_options_id} of {vpc.id} were not found.",
                           [vpc.id, vpc.dhcp_options_id], fix)
    f: list[Finding] = []
    res = [vpc.id, dhcp.id]
    servers = dhcp.config.get("domain-name-servers")
    if not servers:
        f.append(Finding(WARN, f"DHCP options {dhcp.id} of {vpc.id} set no domain-name-servers.", res, fix))
    elif "AmazonProvidedDNS" not in servers:
        f.append(Finding(WARN, f"DHCP options {dhcp.id} of {vpc.id} use custom DNS servers {', '.join(servers)}; "
                               "they must resolve (forward) amazonaws.com or S3 names will not resolve.", res,
                         "make the DNS servers forward amazonaws.com to the VPC resolver, or use AmazonProvidedDNS."))
    if not dhcp.config.get("domain-name"):
        f.append(Finding(WARN, f"DHCP options {dhcp.id} of {vpc.id} set no domain-name; SageMaker jobs are known "
                               "to fail with 'expected DHCP options to include keys domain-name-servers and "
                               "domain-name'.", res, fix))
    return merge("VPC-DHCP", title, f, f"{vpc.id} uses {dhcp.id} with AmazonProvidedDNS.", res)


def _rule_allows_port(rule: SgRule, port: int) -> bool:
    proto = rule.protocol.lower()
    if proto in ("-1", "all"):
        return True
    if proto in ("tcp", "6"):
        lo = rule.from_port if rule.from_port is not None else 0
        hi = rule.to_port if rule.to_port is not None else 65535
        return lo <= port <= hi
    return False


def _rule_all_traffic(rule: SgRule) -> bool:
    proto = rule.protocol.lower()
    if proto in ("-1", "all"):
        return True
    return proto in ("tcp", "6") and (rule.from_port or 0) <= 0 and (rule.to_port or 0) >= 65535


def _job_sgs(model: NetworkModel) -> list[str]:
    return [g for g in model.security_group_ids if g in model.security_groups]


def check_sg_s3(model: NetworkModel) -> CheckResult:
    title = "Security-group egress to S3 (TCP 443)"
    sgs = _job_sgs(model)
    if not sgs:
        return _skip("VPC-SG-S3", title, model.unavailable.get("security_groups", "no job security group could be read."))
    rules = [r for g in sgs for r in model.security_groups[g].egress if _rule_allows_port(r, 443)]
    pl = model.s3_prefix_list()
    pl_txt = f"the S3 prefix list {pl.id} ({model.s3_service_name})" if pl else f"the S3 prefix list ({model.s3_service_name})"
    names = ", ".join(sgs)
    if any(pl and pl.id in r.prefix_list_ids for r in rules):
        return CheckResult("VPC-SG-S3", title, PASS, f"{names} allow TCP 443 to {pl_txt}.", sgs)
    if any(c.endswith("/0") and ":" not in c for r in rules for c in r.cidrs):
        return CheckResult("VPC-SG-S3", title, PASS, f"{names} allow TCP 443 to 0.0.0.0/0.", sgs)
    fix = (f"aws ec2 authorize-security-group-egress --group-id {sgs[0]} --ip-permissions "
           f"'IpProtocol=tcp,FromPort=443,ToPort=443,PrefixListIds=[{{PrefixListId={pl.id if pl else '<s3 prefix list id>'}}}]'.")
    cidrs = [c for r in rules for c in r.cidrs]
    for r in rules:
        for pid in r.prefix_list_ids:
            other = model.prefix_lists.get(pid)
            if other is not None:
                cidrs.extend(other.cidrs)
    if pl is not None and cidrs and pl.cidrs:
        hit = [c for c in pl.cidrs if routing.covered(c, cidrs)]
        if len(hit) == len(pl.cidrs):
            return CheckResult("VPC-SG-S3", title, WARN, f"{names} allow TCP 443 to CIDRs that cover today's S3 ranges "
                               f"of {pl.id}, but AWS adds ranges over time.", sgs,
                               "allow the prefix list instead of CIDRs: " + fix)
        if hit:
            miss = [c for c in pl.cidrs if c not in hit]
            return CheckResult("VPC-SG-S3", title, WARN, f"{names} allow TCP 443 to only part of {pl_txt}; not "
                               f"covered: {', '.join(miss)}.", [*sgs, pl.id], fix)
    if pl is None and "prefix_lists" in model.unavailable:
        return CheckResult("VPC-SG-S3", title, WARN, f"{names} allow no TCP 443 to 0.0.0.0/0 and the S3 prefix list "
                           f"could not be read ({model.unavailable['prefix_lists']}), so egress to S3 is unverified.",
                           sgs, fix)
    return CheckResult("VPC-SG-S3", title, FAIL, f"none of {names} allow outbound TCP 443 to {pl_txt} or 0.0.0.0/0; "
                       "the job's instances cannot reach S3.", [*sgs, *([pl.id] if pl else [])], fix)


def check_sg_subnets(model: NetworkModel) -> CheckResult:
    title = "Security-group egress to the job subnets"
    sgs = _job_sgs(model)
    if not sgs or not model.subnets:
        return _skip("VPC-SG-SUBNET", title, "no job security group or subnet could be read.")
    egress = [r for g in sgs for r in model.security_groups[g].egress]
    full = [r for r in egress if _rule_all_traffic(r)]
    cidrs = {s.id: s.cidr for s in model.subnets.values()}
    full_cidrs = [c for r in full for c in r.cidrs]
    for r in full:
        for pid in r.prefix_list_ids:
            if pid in model.prefix_lists:
                full_cidrs.extend(model.prefix_lists[pid].cidrs)
    missing = {k: v for k, v in cidrs.items() if not routing.covered(v, full_cidrs)}
    names = ", ".join(sgs)
    if not missing:
        return CheckResult("VPC-SG-SUBNET", title, PASS, f"{names} allow all outbound traffic to the job subnets "
                           f"{', '.join(cidrs.values())}.", sgs)
    if any(set(r.group_ids) & set(sgs) for r in full):
        return CheckResult("VPC-SG-SUBNET", title, PASS, f"{names} allow all outbound traffic to the job's own "
                           "security group (covers the job's network interfaces only).", sgs)
    listing = ", ".join(f"{k} {v}" for k, v in missing.items())
    fix = (f"aws ec2 authorize-security-group-egress --group-id {sgs[0]} --ip-permissions "
           + " ".join(f"'IpProtocol=-1,IpRanges=[{{CidrIp={c}}}]'" for c in missing.values())
           + f" (or all traffic to {sgs[0]} itself).")
    part = [r for r in egress if not _rule_all_traffic(r)
            and all(routing.covered(c, r.cidrs) for c in missing.values())]
    if part:
        return CheckResult("VPC-SG-SUBNET", title, WARN, f"{names} allow only some ports to job subnets {listing}; "
                           "instances of the job may not reach each other.", [*sgs, *missing], fix)
    refs = sorted({g for r in egress for g in r.group_ids} - set(sgs))
    extra = (f" (egress goes only to referenced group {', '.join(refs)}, which is not a job security group)"
             if refs else "")
    return CheckResult("VPC-SG-SUBNET", title, FAIL, f"{names} have no outbound rule to job subnets {listing}{extra}; "
                       "instances of the job cannot reach each other.", [*sgs, *missing, *refs], fix)


def _nacl_allows(entries: list, egress: bool, port: int, cidr: str) -> tuple[bool, str]:
    """First matching entry by rule number decides; the implicit `*` rule denies."""
    for e in sorted(entries, key=lambda e: e.rule_number):
        if e.egress != egress:
            continue
        proto = e.protocol.lower()
        if proto not in ("-1", "all", "6", "tcp"):
            continue
        if proto in ("6", "tcp") and not ((e.from_port or 0) <= port <= (e.to_port if e.to_port is not None else 65535)):
            continue
        if not routing.cidr_within(cidr, e.cidr):
            continue
        return e.allow, f"rule {e.rule_number} ({'allow' if e.allow else 'deny'} {e.cidr})"
    return False, "the implicit deny (*)"


def check_nacls(model: NetworkModel) -> CheckResult:
    title = "Network ACLs (outbound and return traffic)"
    if not model.subnets:
        return _skip("VPC-NACL", title, "no job subnet could be read.")
    if "nacls" in model.unavailable:
        return _skip("VPC-NACL", title, model.unavailable["nacls"])
    pl = model.s3_prefix_list()
    s3_cidrs = pl.cidrs if pl and pl.cidrs else ["0.0.0.0/0"]
    job_cidrs = [s.cidr for s in model.subnets.values()]
    f: list[Finding] = []
    for s in model.subnets.values():
        acl = routing.network_acl_for(model, s)
        if acl is None:
            f.append(Finding(SKIP, f"no network ACL was found for subnet {s.id}; not checked.", [s.id]))
            continue
        probs: list[str] = []
        for c in s3_cidrs:
            ok, why = _nacl_allows(acl.entries, True, 443, c)
            if not ok:
                probs.append(f"outbound TCP 443 to S3 {c} is denied by {why}")
            for port in (1024, 65535):
                ok, why = _nacl_allows(acl.entries, False, port, c)
                if not ok:
                    probs.append(f"return traffic from S3 {c} on TCP {port} is denied by {why}")
                    break
        for c in job_cidrs:
            for egress in (True, False):
                ok, why = _nacl_allows(acl.entries, egress, 443, c)
                if not ok:
                    probs.append(f"{'outbound' if egress else 'inbound'} traffic "
                                 f"{'to' if egress else 'from'} job subnet {c} is denied by {why}")
        if probs:
            f.append(Finding(WARN, f"network ACL {acl.id} of subnet {s.id}: {'; '.join(probs[:4])}"
                                   f"{' …' if len(probs) > 4 else ''} (network ACLs are stateless; infrec checks "
                                   "sample ports).", [acl.id, s.id],
                             f"add allow entries to {acl.id}: outbound TCP 443 to the S3 ranges, inbound TCP "
                             "1024-65535 from them, and all traffic to/from the job subnets "
                             "(aws ec2 create-network-acl-entry …)."))
    return merge("VPC-NACL", title, f, "network ACLs allow TCP 443 to S3, its return traffic and traffic between "
                 "the job subnets.", list(model.subnets))


def run_checks(model: NetworkModel, role_arn: str, instances_at_once: int) -> list[CheckResult]:
    """All preflight checks in the order a reader fixes them: shape, network, DNS, security, IAM, S3."""
    if model.load_error:
        return [check_config(model), CheckResult(
            "AWS-READ", "The network could be read from AWS", FAIL,
            f"{model.load_error} None of the VPC checks could run (region {model.region}).", [model.region],
            "check the AWS credentials, region and endpoint (AWS_ENDPOINT_URL) of the machine running infrec.")]
    return [
        check_config(model),
        check_exist(model),
        check_az(model),
        check_ip_capacity(model, instances_at_once),
        check_s3_path(model),
        check_endpoint_policy(model, role_arn),
        check_dns(model),
        check_dhcp(model),
        check_sg_s3(model),
        check_sg_subnets(model),
        check_nacls(model),
        check_iam_trust(model, role_arn),
        check_iam_eni(model, role_arn),
        check_objects(model),
        check_vpc_restricted(model),
        check_bucket_region(model),
    ]
