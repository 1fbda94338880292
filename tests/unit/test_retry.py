"""retryStrategy decisions."""

from __future__ import annotations

from batchemu.domain.retry import should_retry


def test_no_strategy_means_a_single_attempt() -> None:
    assert not should_retry(None, 1, "Essential container in task exited", None, 1)


def test_attempts_left_and_no_rules_means_retry() -> None:
    assert should_retry({"attempts": 3}, 1, "x", None, 1)
    assert not should_retry({"attempts": 3}, 3, "x", None, 1)


def test_first_matching_rule_wins() -> None:
    rules = [{"on_exit_code": "1*", "action": "EXIT"}, {"on_exit_code": "*", "action": "RETRY"}]
    assert not should_retry({"attempts": 5, "evaluate_on_exit": rules}, 1, "x", None, 11)
    assert should_retry({"attempts": 5, "evaluate_on_exit": rules}, 1, "x", None, 2)


def test_all_conditions_of_a_rule_must_match() -> None:
    rules = [{"on_exit_code": "137", "on_reason": "OutOfMemory*", "action": "EXIT"}]
    strategy = {"attempts": 5, "evaluate_on_exit": rules}
    assert should_retry(strategy, 1, "x", "Something else", 137)
    assert not should_retry(strategy, 1, "x", "OutOfMemoryError: Container killed", 137)


def test_action_is_case_insensitive() -> None:
    rules = [{"on_status_reason": "Host EC2*", "action": "exit"}]
    assert not should_retry(
        {"attempts": 5, "evaluate_on_exit": rules}, 1, "Host EC2 (instance i-1) terminated.", None, None
    )
