"""The RetryPolicy of EventBridge rule targets and EventBridge Scheduler targets: which failures are retried,
after how long on the emulator's clock, and when to give up (then the dead-letter queue). Imports botocore's
exceptions only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError

DEFAULT_ATTEMPTS = 185  # both services' documented defaults
DEFAULT_AGE_SECONDS = 86_400
MAX_DELAY_SECONDS = 300.0

Later = Callable[[float, Callable[[], None]], None]  # run a task this many seconds later on the clock


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    age_seconds: float = DEFAULT_AGE_SECONDS

    @classmethod
    def of(cls, target: dict[str, Any]) -> RetryPolicy:
        given = target.get("RetryPolicy") or {}
        return cls(
            int(given.get("MaximumRetryAttempts", DEFAULT_ATTEMPTS)),
            float(given.get("MaximumEventAgeInSeconds", DEFAULT_AGE_SECONDS)),
        )

    def next_delay(self, retries_so_far: int, age_seconds: float) -> float | None:
        """Seconds until the next try, or None to give up: attempts spent, or the event too old by then."""
        if retries_so_far >= self.attempts:
            return None
        delay = min(float(2**retries_so_far), MAX_DELAY_SECONDS)
        return delay if age_seconds + delay <= self.age_seconds else None


def is_retried(error: BaseException) -> bool:
    """Throttling, a server error or an unreachable service are retried; a client error (a missing resource,
    a refused request, no permission) goes to the dead-letter queue at once, as both services document."""
    if isinstance(error, (EndpointConnectionError, ConnectionError, TimeoutError, ConnectionRefusedError)):
        return True
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(error.response.get("Error", {}).get("Code", ""))
        return status >= 500 or status == 429 or "Throttl" in code or code in ("ServiceUnavailable", "TooManyRequestsException")
    return False
