"""Override merging, Ref:: substitution, resource needs and the AWS_BATCH_* environment."""

from __future__ import annotations

from batchemu.domain import params
from batchemu.domain.models import Job


def test_whole_ref_elements_are_substituted() -> None:
    assert params.substitute_refs(["cp", "Ref::src", "Ref::dst"], {"src": "a", "dst": "b"}) == [
        "cp",
        "a",
        "b",
    ]


def test_unknown_and_partial_refs_stay_literal() -> None:
    assert params.substitute_refs(["Ref::nope", "--x=Ref::src"], {"src": "a"}) == [
        "Ref::nope",
        "--x=Ref::src",
    ]


def test_override_environment_replaces_by_name_and_drops_reserved() -> None:
    merged = params.merge_environment(
        [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        [{"name": "A", "value": "9"}, {"name": "AWS_BATCH_JOB_ID", "value": "x"}],
    )
    assert merged == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]


def test_resource_requirements_override_by_type() -> None:
    merged = params.merge_resource_requirements(
        [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}], [{"type": "VCPU", "value": "4"}]
    )
    assert params.requirements({"resource_requirements": merged}) == params.Requirements(4.0, 512, 0)


def test_legacy_vcpus_and_memory_are_used_without_requirements() -> None:
    assert params.requirements({"vcpus": 2, "memory": 1024}) == params.Requirements(2.0, 1024, 0)


def test_resolve_container_applies_command_override_then_refs() -> None:
    container = params.resolve_container(
        {"image": "busybox", "command": ["echo", "x"]}, {"command": ["echo", "Ref::word"]}, {"word": "hi"}
    )
    assert container["command"] == ["echo", "hi"]
    assert container["volumes"] == [] and container["mount_points"] == [] and container["ulimits"] == []


def test_batch_environment_for_an_array_child() -> None:
    job = Job(id="p:3", arn="a", name="n", job_queue_arn="q", job_definition_arn="d", created_at=0)
    job.array_index, job.array_size = 3, 10
    env = params.batch_environment(job, attempt=2, queue_name="q", compute_environment_name="ce")
    assert env == {
        "AWS_BATCH_JOB_ID": "p:3",
        "AWS_BATCH_JQ_NAME": "q",
        "AWS_BATCH_CE_NAME": "ce",
        "AWS_BATCH_JOB_ATTEMPT": "2",
        "AWS_BATCH_JOB_ARRAY_INDEX": "3",
        "AWS_BATCH_JOB_ARRAY_SIZE": "10",
    }


def test_multi_node_variables_and_the_main_node_address_only_on_other_nodes() -> None:
    main = Job(id="p#0", arn="a", name="n", job_queue_arn="q", job_definition_arn="d", created_at=0)
    main.num_nodes, main.main_node, main.node_index = 3, 0, 0
    other = Job(id="p#2", arn="a", name="n", job_queue_arn="q", job_definition_arn="d", created_at=0)
    other.num_nodes, other.main_node, other.node_index = 3, 0, 2
    main_env = params.batch_environment(main, 1, "q", "ce")
    other_env = params.batch_environment(other, 1, "q", "ce")
    assert (main_env["AWS_BATCH_JOB_NODE_INDEX"], main_env["AWS_BATCH_JOB_NUM_NODES"]) == ("0", "3")
    assert main_env["AWS_BATCH_JOB_MAIN_NODE_INDEX"] == "0"
    assert "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in main_env
    assert other_env["AWS_BATCH_JOB_NODE_INDEX"] == "2"
    assert other_env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] == "127.0.0.1"


def test_node_container_is_the_narrowest_range_holding_the_node() -> None:
    nodes = {
        "num_nodes": 4,
        "node_range_properties": [
            {"target_nodes": "0:", "container": {"image": "wide"}},
            {"target_nodes": "2:2", "container": {"image": "narrow"}},
        ],
    }
    assert [params.node_container(nodes, i)["image"] for i in range(4)] == ["wide", "wide", "narrow", "wide"]


def test_an_agent_token_is_the_keyed_blake2b_mac_of_the_attempt_for_short_and_long_secrets() -> None:
    import hashlib

    from batchemu.domain import params

    assert params.agent_token("sekret", "abc:1", 2) == (
        hashlib.blake2b(b"abc:1/2", key=b"sekret", digest_size=32).hexdigest()
    )
    long = "x" * 100  # longer than BLAKE2b's key: its SHA-256 is the key
    assert params.agent_token(long, "j", 1) == (
        hashlib.blake2b(b"j/1", key=hashlib.sha256(long.encode()).digest(), digest_size=32).hexdigest()
    )
    assert params.agent_token("sekret", "abc:1", 2) != params.agent_token("sekret", "abc:1", 3)
