"""boto3 clients for the emulator's own writes to other AWS services, aimed at this server (moto behind
it) or at the endpoint given by --aws-endpoint; one client per (service, account, region)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# For readers that must not hang on a slow or absent service (the dashboard): one try, a few seconds.
QUICK = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1})


class AwsClients:
    def __init__(self, endpoint: str, secret_key: str = "batchemu", config: Config | None = None) -> None:
        self.endpoint = endpoint
        self.secret_key = secret_key
        self.config = config or Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30)
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None  # made at the first client (~70 ms)

    def client(self, service: str, account: str, region: str) -> Any:
        key = (service, account, region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                found = self._session.client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=region,
                    # The access key names the account, as moto and batchemu both read it.
                    aws_access_key_id=account,
                    aws_secret_access_key=self.secret_key,
                    config=self.config,
                )
                self._clients[key] = found
            return found
