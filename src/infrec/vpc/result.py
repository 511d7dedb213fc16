"""What a check returns: an id, a verdict, the resources involved, what is wrong and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"

_RANK = {PASS: 0, SKIP: 1, WARN: 2, FAIL: 3}


@dataclass
class CheckResult:
    id: str
    title: str
    status: str
    message: str
    resources: list[str] = field(default_factory=list)
    remedy: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "resources": list(self.resources),
                "message": self.message, "remedy": self.remedy}

    def line(self) -> str:
        """`[ID] FAIL message Fix: remedy` — the one-line form used in FailureReason and logs."""
        fix = f" Fix: {self.remedy}" if self.remedy and self.status in (FAIL, WARN) else ""
        return f"[{self.id}] {self.status.upper()} {self.message}{fix}"


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s]) if statuses else PASS


@dataclass
class Finding:
    """One problem found by a check, merged into the check's single result."""

    status: str
    message: str
    resources: list[str] = field(default_factory=list)
    remedy: str = ""


def merge(check_id: str, title: str, findings: list[Finding], ok_message: str,
          ok_resources: list[str] | None = None) -> CheckResult:
    """Fold a check's findings into one result: the worst status wins; messages and fixes are joined."""
    bad = [f for f in findings if f.status in (FAIL, WARN)]
    if not bad:
        skips = [f for f in findings if f.status == SKIP]
        if skips:
            return CheckResult(check_id, title, SKIP, " ".join(f.message for f in skips),
                               _uniq(r for f in skips for r in f.resources))
        return CheckResult(check_id, title, PASS, ok_message, list(ok_resources or []))
    status = worst([f.status for f in bad])
    ordered = sorted(bad, key=lambda f: -_RANK[f.status])
    message = " ".join(f.message if f.status == status else f"(warning) {f.message}" for f in ordered)
    remedies = _uniq(f.remedy for f in ordered if f.remedy)
    return CheckResult(check_id, title, status, message, _uniq(r for f in ordered for r in f.resources),
                       " ".join(remedies))


def _uniq(items: Any) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out
