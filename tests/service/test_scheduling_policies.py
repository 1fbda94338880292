"""Scheduling policies through boto3: create, describe, list, update, delete, and the fair-share rules."""

from __future__ import annotations

from typing import Any

import pytest

REGION, ACCOUNT = "us-east-1", "123456789012"
FAIRSHARE = {
    "shareDecaySeconds": 3600,
    "computeReservation": 25,
    "shareDistribution": [
        {"shareIdentifier": "teamA*", "weightFactor": 0.5},
        {"shareIdentifier": "teamB", "weightFactor": 2.0},
    ],
}


def create(batch: Any, name: str = "fair", **fields: Any) -> str:
    fields.setdefault("fairsharePolicy", FAIRSHARE)
    return batch.create_scheduling_policy(name=name, **fields)["arn"]


def describe(batch: Any, *arns: str) -> list[dict[str, Any]]:
    return batch.describe_scheduling_policies(arns=list(arns))["schedulingPolicies"]


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=message)


def fair_share_queue(batch: Any, policy_arn: str) -> None:
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=4)
    batch.create_job_queue(
        jobQueueName="q",
        priority=1,
        schedulingPolicyArn=policy_arn,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
    )


def test_create_returns_name_and_arn(batch: Any) -> None:
    response = batch.create_scheduling_policy(name="fair", fairsharePolicy=FAIRSHARE)
    assert response["name"] == "fair"
    assert response["arn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/fair"


def test_describe_echoes_the_policy(batch: Any) -> None:
    arn = create(batch, tags={"team": "a"})
    [found] = describe(batch, arn)
    assert (found["name"], found["arn"], found["tags"]) == ("fair", arn, {"team": "a"})
    assert found["fairsharePolicy"] == FAIRSHARE


def test_describe_leaves_out_unknown_arns(batch: Any) -> None:
    arn = create(batch)
    unknown = f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/nope"
    assert [p["name"] for p in describe(batch, unknown, arn)] == ["fair"]


def test_list_returns_arns_only(batch: Any) -> None:
    arn = create(batch)
    assert batch.list_scheduling_policies()["schedulingPolicies"] == [{"arn": arn}]


def test_list_pages_with_max_results(batch: Any) -> None:
    arns = [create(batch, f"p{index}") for index in range(5)]
    first = batch.list_scheduling_policies(maxResults=2)
    assert [p["arn"] for p in first["schedulingPolicies"]] == arns[:2]
    pages = batch.get_paginator("list_scheduling_policies").paginate(PaginationConfig={"PageSize": 2})
    assert [p["arn"] for page in pages for p in page["schedulingPolicies"]] == arns


def test_update_replaces_the_fairshare_policy(batch: Any) -> None:
    arn = create(batch)
    batch.update_scheduling_policy(arn=arn, fairsharePolicy={"shareDecaySeconds": 60})
    assert describe(batch, arn)[0]["fairsharePolicy"] == {"shareDecaySeconds": 60}


def test_update_of_unknown_policy_is_refused(batch: Any) -> None:
    unknown = f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/nope"
    with refused(batch, f"Scheduling policy {unknown} does not exist"):
        batch.update_scheduling_policy(arn=unknown, fairsharePolicy={})


def test_delete_removes_the_policy(batch: Any) -> None:
    arn = create(batch)
    batch.delete_scheduling_policy(arn=arn)
    assert describe(batch, arn) == []


def test_delete_refused_while_a_queue_uses_it(batch: Any) -> None:
    arn = create(batch)
    fair_share_queue(batch, arn)
    with refused(batch, "Cannot delete, scheduling policy fair is used by job queue"):
        batch.delete_scheduling_policy(arn=arn)


def test_delete_of_unknown_policy_is_refused(batch: Any) -> None:
    with refused(batch, "does not exist"):
        batch.delete_scheduling_policy(arn=f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/nope")


def test_duplicate_name_is_refused(batch: Any) -> None:
    create(batch)
    with refused(batch, "Scheduling policy fair already exists"):
        create(batch)


def test_invalid_name_is_refused(batch: Any) -> None:
    with refused(batch, "Scheduling policy name should match valid pattern"):
        create(batch, "not/valid")


def test_share_decay_over_a_week_is_refused(batch: Any) -> None:
    with refused(batch, "shareDecaySeconds must be between 0 and 604800"):
        create(batch, fairsharePolicy={"shareDecaySeconds": 604801})


def test_compute_reservation_over_99_is_refused(batch: Any) -> None:
    with refused(batch, "computeReservation must be between 0 and 99"):
        create(batch, fairsharePolicy={"computeReservation": 100})


def test_weight_factor_out_of_range_is_refused(batch: Any) -> None:
    shares = [{"shareIdentifier": "a", "weightFactor": 1000.0}]
    with refused(batch, "weightFactor must be between 0.0001 and 999.9999"):
        create(batch, fairsharePolicy={"shareDistribution": shares})


def test_share_identifier_with_a_dash_is_refused(batch: Any) -> None:
    with refused(batch, "shareIdentifier team-a must be up to 255 letters and digits"):
        create(batch, fairsharePolicy={"shareDistribution": [{"shareIdentifier": "team-a"}]})


def test_overlapping_prefix_entries_are_refused(batch: Any) -> None:
    shares = [{"shareIdentifier": "UserA*"}, {"shareIdentifier": "UserA1"}]
    with refused(batch, "shareDistribution entries UserA\\* and UserA1 overlap"):
        create(batch, fairsharePolicy={"shareDistribution": shares})


def test_update_applies_the_same_rules(batch: Any) -> None:
    arn = create(batch)
    with refused(batch, "computeReservation must be between 0 and 99"):
        batch.update_scheduling_policy(arn=arn, fairsharePolicy={"computeReservation": 120})
