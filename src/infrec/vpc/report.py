"""The preflight report: the verdict, the per-check results, and their renderings
(a rich table for people, a dict/JSON for jobs and machines, and a short
FailureReason that fits SageMaker's 1024-character field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from infrec.vpc.result import FAIL, PASS, SKIP, WARN, CheckResult

LOCAL_EXECUTOR_NOTE = ("Endpoints started by infrec's local executor run on this machine, not inside the AWS VPC; "
                       "this preflight checks that the VPC is ready for SageMaker, it does not place local "
                       "endpoints in it.")


@dataclass
class PreflightReport:
    region: str
    subnets: list[str]
    security_group_ids: list[str]
    role_arn: str
    instances_at_once: int
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=lambda: [LOCAL_EXECUTOR_NOTE])
    source: str = "aws"

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips do not block a job)."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == WARN]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "region": self.region,
            "source": self.source,
            "vpcConfig": {"Subnets": list(self.subnets), "SecurityGroupIds": list(self.security_group_ids)},
            "roleArn": self.role_arn,
            "instancesAtOnce": self.instances_at_once,
            "counts": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def failure_reason(self, max_len: int = 1024) -> str:
        """A FailureReason naming every failed check, its resources and its fix, cut to `max_len`.

        Each failure gets a fair share of the space so a long first message cannot hide the others.
        """
        fails = self.failures
        if not fails:
            return ""
        head = f"VPC preflight failed ({len(fails)} check{'s' if len(fails) > 1 else ''}: " \
               f"{', '.join(c.id for c in fails)}). "
        lines = [c.line() for c in fails]
        text = head + " ".join(lines)
        if len(text) <= max_len:
            return text
        # Short failures keep their full line; the space they leave is shared by the long ones.
        room = max_len - len(head)
        budgets: dict[int, int] = {}
        pending = sorted(range(len(fails)), key=lambda i: len(lines[i]))
        while pending:
            share = max(60, room // len(pending) - 1)
            i = pending.pop(0)
            budgets[i] = min(len(lines[i]), share)
            room -= budgets[i] + 1
        parts = [lines[i] if budgets[i] >= len(lines[i]) else _compact(c, budgets[i]) for i, c in enumerate(fails)]
        return _cut(head + " ".join(parts), max_len)


def _compact(c: CheckResult, budget: int) -> str:
    """One failure in `budget` characters: id and resources first, then the finding and the fix, both cut."""
    res = _cut(", ".join(c.resources), budget // 4)
    start = f"[{c.id}] {res}: " if res else f"[{c.id}] "
    fix = _cut(f" Fix: {c.remedy}", (budget - len(start)) // 2) if c.remedy else ""
    msg = _cut(c.message, max(10, budget - len(start) - len(fix)))
    return start + msg + fix


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(0, n - 1)] + "…"


_STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red", SKIP: "dim"}


def render_table(report: PreflightReport) -> Any:
    """A rich Table: one row per check with its verdict, resources, finding and fix."""
    from rich.table import Table

    c = report.counts()
    t = Table(title=f"VPC preflight ({report.region}): {'OK' if report.ok else 'FAILED'} — "
                    f"{c[PASS]} pass, {c[WARN]} warn, {c[FAIL]} fail, {c[SKIP]} skip",
              show_lines=True)
    for col in ("check", "status", "resources", "finding", "fix"):
        t.add_column(col, overflow="fold")
    for r in report.checks:
        t.add_row(r.id, f"[{_STYLE[r.status]}]{r.status.upper()}[/]", ", ".join(r.resources), r.message,
                  r.remedy if r.status in (FAIL, WARN) else "")
    return t


def render_text(report: PreflightReport) -> str:
    """Plain lines, one per check, for logs and job reports."""
    out = [f"VPC preflight ({report.region}): {'OK' if report.ok else 'FAILED'}"]
    out += [c.line() for c in report.checks]
    out += [f"Note: {n}" for n in report.notes]
    return "\n".join(out)
