"""Reads who is calling from the SigV4 Authorization header: access key, region and service."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    region: str | None
    service: str | None

    def account(self, default: str) -> str:
        """The access key is the account when it is 12 digits (as in moto); else the default account."""
        if self.access_key and _ACCOUNT.match(self.access_key):
            return self.access_key
        return default


def caller_from(authorization: str | None, query_credential: str | None = None) -> Caller:
    """From the Authorization header, or a presigned URL's X-Amz-Credential."""
    text = authorization or ""
    match = _CREDENTIAL.search(text)
    if match:
        return Caller(match.group(1), match.group(3), match.group(4))
    if query_credential:
        parts = query_credential.split("/")
        if len(parts) == 5:
            return Caller(parts[0], parts[2], parts[3])
    return Caller(None, None, None)


CALLER_KEY = "batchemu.caller"


def caller_of(environ: dict[str, object]) -> Caller:
    """The caller of a WSGI request, read once and kept in the environ for whoever asks next."""
    found = environ.get(CALLER_KEY)
    if isinstance(found, Caller):
        return found
    query = str(environ.get("QUERY_STRING", ""))
    credential: str | None = None
    if "X-Amz-Credential" in query:
        credential = next(iter(urllib.parse.parse_qs(query).get("X-Amz-Credential", [])), None)
    authorization = environ.get("HTTP_AUTHORIZATION")
    caller = caller_from(authorization if isinstance(authorization, str) else None, credential)
    environ[CALLER_KEY] = caller
    return caller
