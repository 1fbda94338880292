"""The moto Step Functions adapter's pure parts, and that the moto it runs with is the one it was ported from."""

from __future__ import annotations

from batchemu.integrations import moto_sfn_batch, moto_sfn_runtime, moto_sfn_time


def test_the_account_comes_from_the_roles_arn_or_the_default() -> None:
    assert moto_sfn_runtime.account_of("arn:aws:iam::111122223333:role/r") == "111122223333"
    assert moto_sfn_runtime.account_of("arn:aws:iam::ak:role/r") == "123456789012"
    assert moto_sfn_runtime.account_of(None, "444455556666") == "444455556666"


def test_the_functions_ported_from_moto_still_match_its_source() -> None:
    assert moto_sfn_time.ported_sources_match() == {name: True for name in moto_sfn_time.PORTED}


def test_submit_job_members_are_named_as_step_functions_names_them() -> None:
    members = moto_sfn_batch.submit_job_members()
    assert {"JobName", "JobQueue", "JobDefinition", "PropagateTags", "ShareIdentifier", "EcsPropertiesOverride"} <= members
    assert "jobName" not in members
