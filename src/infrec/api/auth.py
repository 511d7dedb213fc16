"""SigV4 verification of incoming requests, and the same keys for the web pages.

Every AWS client signs its requests; when keys are configured the server recomputes the signature
with botocore's own signer over exactly the headers the client says it signed, so a wrong secret, a
tampered body or a replay outside the allowed clock skew is refused. Because the client chooses which
headers it signs, the server insists on the ones that say what the request does and where it goes
(`host`, `x-amz-target`): a signature over `x-amz-date` alone would let anyone who sees one request
send any operation under it. The body is always covered: SigV4 hashes the payload into the canonical
request (or signs X-Amz-Content-SHA256, which is then held to the body).

Browsers cannot sign requests, so the web pages take the same key pair by HTTP Basic authentication
(user name = access key id, password = secret access key); see `check_basic`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_SKEW = timedelta(minutes=15)
# Headers a signature must cover: without them a captured signature could be replayed against
# another operation (X-Amz-Target) or another server (Host).
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-target")


class AuthError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KeyStore:
    """Access key id → secret access key."""

    keys: dict[str, str]

    @classmethod
    def from_file(cls, path: Path) -> KeyStore:
        """Reads `{"AKID": "secret", ...}` or `[{"AccessKeyId": ..., "SecretAccessKey": ...}]`."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read auth keys from {path}: {exc}") from exc
        if isinstance(data, list):
            keys = {str(k["AccessKeyId"]): str(k["SecretAccessKey"]) for k in data}
        elif isinstance(data, dict):
            keys = {str(k): str(v) for k, v in data.items()}
        else:
            raise ValueError(f"{path}: expected a JSON object of access key id to secret")
        if not keys:
            raise ValueError(f"{path}: no keys")
        return cls(keys)


def _parse_authorization(header: str) -> dict[str, str]:
    if not header.startswith("AWS4-HMAC-SHA256 "):
        raise AuthError("IncompleteSignature", "Authorization header is not AWS4-HMAC-SHA256")
    parts: dict[str, str] = {}
    for item in header[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(k):
            raise AuthError("IncompleteSignature", f"Authorization header lacks {k}")
    return parts


def verify(keys: KeyStore, method: str, url: str, headers: dict[str, str], body: bytes,
           now: datetime | None = None, required: tuple[str, ...] = REQUIRED_SIGNED_HEADERS,
           service: str | None = None) -> str:
    """Raise AuthError unless the request is signed by a configured key; return the access key id.
    `service`: the signing name the credential scope must carry (`sagemaker`, `logs`): one server
    answers several APIs, and a signature is only good for the API it was made for, as in AWS."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization")
    if not auth:
        raise AuthError("MissingAuthenticationToken", "Request is missing Authentication Token")
    parts = _parse_authorization(auth)
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        raise AuthError("IncompleteSignature", "Credential scope is malformed")
    akid, _date, region, scoped, _term = scope
    if service is not None and scoped != service:
        raise AuthError("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'.")
    secret = keys.keys.get(akid)
    if secret is None:
        raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid")
    amz_date = lower.get("x-amz-date", "")
    try:
        stamp = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise AuthError("IncompleteSignature", "X-Amz-Date is missing or malformed") from exc
    if abs((now or datetime.now(UTC)) - stamp) > MAX_SKEW:
        raise AuthError("InvalidSignatureException", "Signature expired: request time is too far from server time")
    # The signature covers X-Amz-Content-SHA256 when sent, not the body itself: hold the header to
    # the body, or a captured request could be replayed with another body.
    declared = lower.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise AuthError("InvalidSignatureException", "X-Amz-Content-SHA256 does not match the request body")
    signed = [h.strip().lower() for h in parts["SignedHeaders"].split(";")]
    missing = [h for h in required if h not in signed]
    if missing:
        raise AuthError("IncompleteSignature",
                        f"SignedHeaders must include {' and '.join(required)}; "
                        f"this signature does not cover {', '.join(missing)}")
    request = AWSRequest(method=method, url=url, data=body,
                         headers={h: lower.get(h, "") for h in signed})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(akid, secret, lower.get("x-amz-security-token")), scoped, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, parts["Signature"]):
        raise AuthError("InvalidSignatureException",
                        "The request signature we calculated does not match the signature you provided")
    return akid


def check_basic(keys: KeyStore, header: str | None) -> str:
    """Raise AuthError unless `header` is HTTP Basic credentials of a configured key (user name =
    access key id, password = its secret); return the access key id. The secret is compared in
    constant time."""
    if not header or not header[:6].lower() == "basic ":
        raise AuthError("MissingAuthenticationToken", "The web pages need the access key id as user name "
                                                      "and the secret access key as password")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("IncompleteSignature", "Authorization header is not valid Basic credentials") from None
    akid, sep, secret = decoded.partition(":")
    expected = keys.keys.get(akid)
    # Compare against something even for an unknown key id, so timing does not tell which ids exist.
    if not sep or not hmac.compare_digest((expected or "\0").encode(), secret.encode()) or expected is None:
        raise AuthError("UnrecognizedClientException", "Access key id or secret is not valid")
    return akid
