"""IAM policy evaluation, done by infrec itself (pure, no I/O).

Why our own evaluator: iam:SimulatePrincipalPolicy is often not granted to the
person running the preflight, and moto does not implement it. We evaluate the
identity policies we *can* read the way IAM does for one account: an explicit
Deny wins, otherwise some Allow must match, and a permissions boundary must
also allow. Conditions are not evaluated (we do not know the request context),
so a match that depends on one is reported as "conditional" — the caller turns
that into a warning, never a silent pass.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from infrec.vpc.model import NamedPolicy

ALLOWED = "allowed"
CONDITIONAL = "conditional"
EXPLICIT_DENY = "explicitDeny"
IMPLICIT_DENY = "implicitDeny"


def parse_document(doc: Any) -> dict[str, Any]:
    """A policy document as a dict; accepts dicts, JSON strings and URL-encoded JSON (IAM's wire form)."""
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, str):
        text = doc.strip()
        if not text.startswith("{"):
            text = urllib.parse.unquote(text)
        loaded = json.loads(text)
        if isinstance(loaded, dict):
            return loaded
    raise ValueError("policy document is not a JSON object")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("^" + "".join(parts) + "$", (re.IGNORECASE if case_insensitive else 0) | re.DOTALL)


def glob_match(pattern: str, value: str, case_insensitive: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters, `?` one character."""
    return bool(_glob(pattern, case_insensitive).match(value))


def action_matches(stmt: dict[str, Any], action: str) -> bool:
    """Action names compare case-insensitively; NotAction matches every action it does not list."""
    if "NotAction" in stmt:
        return not any(glob_match(p, action, True) for p in as_list(stmt["NotAction"]))
    return any(glob_match(p, action, True) for p in as_list(stmt.get("Action")))


def resource_matches(stmt: dict[str, Any], resource: str) -> bool:
    """ARNs compare case-sensitively; a statement without Resource/NotResource applies to everything."""
    if "NotResource" in stmt:
        return not any(glob_match(p, resource) for p in as_list(stmt["NotResource"]))
    if "Resource" not in stmt:
        return True
    return any(glob_match(p, resource) for p in as_list(stmt["Resource"]))


def principal_matches(stmt: dict[str, Any], principal_arn: str | None) -> bool:
    """For resource policies: does the statement's Principal/NotPrincipal cover this principal?

    With `principal_arn=None` (identity policies) the principal is implied and always matches.
    """
    if principal_arn is None:
        return True
    if "NotPrincipal" in stmt:
        return not _principal_listed(stmt["NotPrincipal"], principal_arn)
    if "Principal" not in stmt:
        return True
    return _principal_listed(stmt["Principal"], principal_arn)


def _principal_listed(principal: Any, arn: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = as_list(principal.get("AWS"))
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        for v in values:
            if v == "*" or glob_match(str(v), arn) or str(v) in (account, f"arn:aws:iam::{account}:root"):
                return True
    return False


def condition_summary(stmt: dict[str, Any]) -> str:
    """A short human text of a statement's Condition block, e.g. `StringEquals aws:SourceVpce=vpce-1`."""
    parts = []
    for op, block in (stmt.get("Condition") or {}).items():
        if isinstance(block, dict):
            for key, vals in block.items():
                parts.append(f"{op} {key}={','.join(str(v) for v in as_list(vals))}")
    return "; ".join(parts)


def statement_label(policy: NamedPolicy, stmt: dict[str, Any], index: int) -> str:
    sid = stmt.get("Sid")
    return f"{policy.name} statement {sid!r}" if sid else f"{policy.name} statement #{index + 1}"


@dataclass
class Decision:
    """The outcome for one action: `decision` plus the statements that decided it."""

    action: str
    decision: str
    matched: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def _evaluate_set(policies: list[NamedPolicy], action: str, resource: str,
                  principal_arn: str | None) -> Decision:
    allow: list[str] = []
    cond_allow: list[str] = []
    deny: list[str] = []
    cond_deny: list[str] = []
    conditions: list[str] = []
    for pol in policies:
        for i, stmt in enumerate(statements(pol.document)):
            if not (action_matches(stmt, action) and resource_matches(stmt, resource)
                    and principal_matches(stmt, principal_arn)):
                continue
            label = statement_label(pol, stmt, i)
            has_cond = bool(stmt.get("Condition"))
            effect = str(stmt.get("Effect", "")).lower()
            if has_cond:
                conditions.append(f"{label}: {condition_summary(stmt)}")
            if effect == "deny":
                (cond_deny if has_cond else deny).append(label)
            elif effect == "allow":
                (cond_allow if has_cond else allow).append(label)
    if deny:
        return Decision(action, EXPLICIT_DENY, deny)
    if allow and not cond_deny:
        return Decision(action, ALLOWED, allow)
    if allow or cond_allow:
        note = ("a Deny with conditions infrec cannot evaluate may apply" if cond_deny
                else "only Allow statements with conditions infrec cannot evaluate match")
        return Decision(action, CONDITIONAL, allow + cond_allow + cond_deny, conditions, note)
    return Decision(action, IMPLICIT_DENY, [])


def evaluate(policies: list[NamedPolicy], action: str, resource: str = "*",
             boundary: NamedPolicy | None = None, principal_arn: str | None = None) -> Decision:
    """Evaluate one action against identity (or resource) policies and an optional permissions boundary."""
    result = _evaluate_set(policies, action, resource, principal_arn)
    if boundary is None or result.decision in (EXPLICIT_DENY, IMPLICIT_DENY):
        return result
    bound = _evaluate_set([boundary], action, resource, principal_arn)
    if bound.decision == ALLOWED:
        return result
    if bound.decision == CONDITIONAL:
        return Decision(action, CONDITIONAL, result.matched + bound.matched,
                        result.conditions + bound.conditions, "the permissions boundary allows it only conditionally")
    return Decision(action, bound.decision if bound.decision == EXPLICIT_DENY else IMPLICIT_DENY,
                    bound.matched, [], f"not allowed by permissions boundary {boundary.name}")
