"""retryStrategy decisions: attempts left, and evaluateOnExit rules (globs; first match wins; no match
means retry)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from batchemu.domain.models import Spec


def max_attempts(retry_strategy: Spec | None) -> int:
    return int((retry_strategy or {}).get("attempts") or 1)


def _matches(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    return fnmatchcase(value or "", pattern)


def should_retry(
    retry_strategy: Spec | None,
    attempts_made: int,
    status_reason: str | None,
    container_reason: str | None,
    exit_code: int | None,
) -> bool:
    """Whether a failed attempt goes back to RUNNABLE."""
    if attempts_made >= max_attempts(retry_strategy):
        return False
    exit_text = str(exit_code) if exit_code is not None else None
    for rule in (retry_strategy or {}).get("evaluate_on_exit") or []:
        if (
            _matches(rule.get("on_status_reason"), status_reason)
            and _matches(rule.get("on_reason"), container_reason)
            and _matches(rule.get("on_exit_code"), exit_text)
        ):
            return str(rule.get("action", "")).upper() == "RETRY"
    return True
