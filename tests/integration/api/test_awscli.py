"""The AWS CLI, unchanged, against `infrec serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import InfrecServer

AWS = str(Path(sys.executable).parent / "aws")


def aws(server: InfrecServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run([AWS, "sagemaker", *args, "--endpoint-url", server.url, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=60, check=check)


def test_aws_cli_registry_round_trip(server: InfrecServer, tmp_path: Path) -> None:
    for name in ("a-group", "b-group", "c-group"):
        out = json.loads(aws(server, "create-model-package-group", "--model-package-group-name", name).stdout)
        assert out["ModelPackageGroupArn"].endswith(f"model-package-group/{name}")
    # The CLI follows NextToken itself when --page-size is smaller than the result.
    listed = json.loads(aws(server, "list-model-package-groups", "--page-size", "1",
                            "--sort-by", "Name", "--sort-order", "Ascending").stdout)
    assert [g["ModelPackageGroupName"] for g in listed["ModelPackageGroupSummaryList"]] == \
        ["a-group", "b-group", "c-group"]
    one = json.loads(aws(server, "list-model-package-groups", "--max-items", "1").stdout)
    assert len(one["ModelPackageGroupSummaryList"]) == 1 and "NextToken" in one

    spec = {"Containers": [{"Image": "infrec/synthetic"}], "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"]}
    out = json.loads(aws(server, "create-model-package", "--model-package-group-name", "a-group",
                         "--inference-specification", json.dumps(spec)).stdout)
    arn = out["ModelPackageArn"]
    assert arn.endswith("model-package/a-group/1")
    desc = json.loads(aws(server, "describe-model-package", "--model-package-name", arn).stdout)
    assert desc["ModelPackageVersion"] == 1

    aws(server, "create-model", "--model-name", "cli-model", "--primary-container", "Image=infrec/synthetic")
    assert json.loads(aws(server, "describe-model", "--model-name", "cli-model").stdout)["ModelName"] == "cli-model"

    failed = aws(server, "delete-model-package-group", "--model-package-group-name", "a-group", check=False)
    assert failed.returncode != 0 and "ConflictException" in failed.stderr
    aws(server, "delete-model-package", "--model-package-name", arn)
    aws(server, "delete-model-package-group", "--model-package-group-name", "a-group")
    aws(server, "delete-model", "--model-name", "cli-model")
    assert json.loads(aws(server, "list-models").stdout)["Models"] == []
    bad = aws(server, "create-model-package-group", "--model-package-group-name", "bad_name!", check=False)
    assert bad.returncode != 0 and "ValidationException" in bad.stderr
