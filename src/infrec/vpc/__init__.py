"""infrec.vpc: the VPC preflight for RecommendationJobVpcConfig.

Call `preflight(...)`; it returns a `PreflightReport` (`ok`, `failures`, `to_dict()`,
`failure_reason()`). The model, rules and IAM evaluation are pure; only `aws_loader`
talks to AWS.
"""

from infrec.vpc.preflight import preflight
from infrec.vpc.report import LOCAL_EXECUTOR_NOTE, PreflightReport
from infrec.vpc.result import CheckResult

__all__ = ["LOCAL_EXECUTOR_NOTE", "CheckResult", "PreflightReport", "preflight"]
