"""ARNs in SageMaker's spelling, so clients that parse them keep working."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArnBuilder:
    region: str
    account_id: str

    def sagemaker(self, resource_type: str, name: str) -> str:
        # SageMaker lower-cases resource names inside ARNs.
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource_type}/{name.lower()}"

    def model_package(self, group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:model-package/{group.lower()}/{version}"


def resource_name(arn_or_name: str) -> str:
    """The trailing name of an ARN, or the value itself when it is a plain name."""
    if arn_or_name.startswith("arn:"):
        return arn_or_name.split(":", 5)[5].split("/", 1)[-1]
    return arn_or_name
