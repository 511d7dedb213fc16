"""The report: verdict, dict/JSON form, and a FailureReason that fits 1024 characters yet names
every failed check, its resources and the start of its fix."""

from __future__ import annotations

import json

import pytest

from infrec.vpc import LOCAL_EXECUTOR_NOTE, preflight
from infrec.vpc.report import PreflightReport, render_text
from infrec.vpc.result import CheckResult


def report(*checks: CheckResult) -> PreflightReport:
    return PreflightReport("us-east-1", ["subnet-1"], ["sg-1"], "arn:aws:iam::123456789012:role/r", 1, list(checks))


def test_warnings_do_not_fail_and_dict_is_json() -> None:
    r = report(CheckResult("VPC-AZ", "az", "warn", "one AZ", ["subnet-1"], "add a subnet"),
               CheckResult("VPC-S3", "s3", "pass", "ok", ["subnet-1"]))
    assert r.ok and r.failures == [] and r.failure_reason() == ""
    d = json.loads(r.to_json())
    assert d["ok"] is True and d["counts"] == {"pass": 1, "warn": 1, "fail": 0, "skip": 0}
    assert LOCAL_EXECUTOR_NOTE in d["notes"] and "not inside the AWS VPC" in LOCAL_EXECUTOR_NOTE
    assert "[VPC-AZ] WARN one AZ Fix: add a subnet" in render_text(r)


@pytest.mark.parametrize("n", [1, 3, 12])
def test_failure_reason_fits_and_names_every_failure(n: int) -> None:
    fails = [CheckResult(f"CHECK-{i}", "t", "fail", f"resource res-{i} is broken. " + "detail " * 80, [f"res-{i}"],
                         f"fix res-{i} with this command " + "arg " * 40) for i in range(n)]
    r = report(*fails)
    text = r.failure_reason()
    assert len(text) <= 1024
    for i in range(n):
        assert f"CHECK-{i}" in text
    if n <= 3:
        for i in range(n):
            assert f"res-{i}" in text and f"fix res-{i}" in text
    assert len(r.failure_reason(max_len=200)) <= 200


def test_bad_inputs_become_checks_not_exceptions(tmp_path: object) -> None:
    r = preflight({"Subnets": [], "SecurityGroupIds": ["sg-0123456789abcdef0"]}, "arn:aws:iam::1:role/r",
                  ["s3://", "file:///tmp/x"], 1, document={"Region": "us-east-1"})
    ids = {c.id: c.status for c in r.checks}
    assert ids["VPC-CONFIG"] == "fail" and ids["S3-URL"] == "fail"
    assert any("file:///tmp/x" in n for n in r.notes)
    bad = preflight({"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]},
                    "arn:aws:iam::1:role/r", [], 1, document={"Subnets": "nope"})
    assert not bad.ok and bad.failures[0].id == "INPUT" and "Subnets" in bad.failures[0].message
