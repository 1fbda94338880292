"""SigV4 verification for `--auth sigv4`: recomputes a request's signature from the raw request and the
caller's secret key and answers as AWS does (403: MissingAuthenticationTokenException for an unsigned
request, UnrecognizedClientException for an unknown access key, InvalidSignatureException otherwise)."""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Mapping

from botocore.utils import normalize_url_path

from batchemu.errors import AccessDenied

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
) -> None:
    """Raises AccessDenied unless the request carries a valid SigV4 signature (header or presigned URL)."""
    query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
    authorization = headers.get("authorization", "")
    match = _AUTHORIZATION.search(authorization)
    if match:
        credential, signed, signature = (
            match.group("credential"),
            match.group("signed"),
            match.group("signature"),
        )
        timestamp = headers.get("x-amz-date", "")
        canonical_query = _canonical_query(raw_query, drop=None)
        payload = headers.get("x-amz-content-sha256") or (
            hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        )
    elif "X-Amz-Signature" in query:
        credential = query.get("X-Amz-Credential", [""])[0]
        signed = query.get("X-Amz-SignedHeaders", [""])[0]
        signature = query.get("X-Amz-Signature", [""])[0]
        timestamp = query.get("X-Amz-Date", [""])[0]
        canonical_query = _canonical_query(raw_query, drop="X-Amz-Signature")
        payload = "UNSIGNED-PAYLOAD"
    else:
        raise AccessDenied("Missing Authentication Token", "MissingAuthenticationTokenException")
    access_key, _, scope = credential.partition("/")
    secret = secret_for(access_key)
    if secret is None:
        raise AccessDenied(
            "The security token included in the request is invalid.", "UnrecognizedClientException"
        )
    service = scope.split("/")[2] if scope.count("/") >= 3 else ""
    canonical_request = "\n".join(
        [
            method.upper(),
            raw_path if service == "s3" else urllib.parse.quote(normalize_url_path(raw_path), safe="/~"),
            canonical_query,
            "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed.split(";")),
            signed,
            payload,
        ]
    )
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AccessDenied(SIGNATURE_MISMATCH, "InvalidSignatureException")


def _canonical_query(raw_query: str, drop: str | None) -> str:
    pairs = []
    for pair in raw_query.split("&") if raw_query else []:
        key, _, value = pair.partition("=")
        if key != drop:
            pairs.append((key, value))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))
