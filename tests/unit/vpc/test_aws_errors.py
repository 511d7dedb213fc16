"""How AWS errors become verdicts: the caller's missing permission is a SKIP with the permission
named; bad credentials or no connection make AWS unreachable (a FAIL), never an exception."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from infrec.vpc.aws_loader import Unreachable, _explain, parse_s3_url


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "whatever AWS says"}}, "DescribeSubnets")


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "403"])
def test_caller_permission_errors_name_the_permission(code: str) -> None:
    why = _explain(client_error(code), "ec2:DescribeSubnets")
    assert "lacks permission for ec2:DescribeSubnets" in why and code in why


@pytest.mark.parametrize("exc", [client_error("AuthFailure"), client_error("InvalidClientTokenId"),
                                 NoCredentialsError(), EndpointConnectionError(endpoint_url="http://127.0.0.1:1")])
def test_unreachable_aws(exc: Exception) -> None:
    with pytest.raises(Unreachable):
        _explain(exc, "ec2:DescribeSubnets")


def test_s3_urls() -> None:
    assert parse_s3_url("s3://bkt/a/b.csv") == ("bkt", "a/b.csv")
    with pytest.raises(ValueError, match="not an s3://bucket/key URL"):
        parse_s3_url("https://bkt/a")
