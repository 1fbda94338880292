"""CloudFormation stacks provision AWS::Batch::* in batchemu's own Batch (beside the IAM, S3 and EventBridge
resources moto serves): create, update, delete, Ref/GetAtt, outputs, resource events, rollback, change sets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, REGION, make_client
from tests.service.test_eventbridge import settle

ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}"


def aws(server: ServerThread, service: str):  # type: ignore[no-untyped-def]
    return make_client(server.endpoint, access_key=ACCOUNT, service=service)


@pytest.fixture
def cfn(server: ServerThread, emulator: Emulator) -> Iterator[Any]:
    """A CloudFormation client; stacks left by a test are deleted after it (moto's state outlives tests)."""
    client = aws(server, "cloudformation")
    yield client
    for stack in client.describe_stacks()["Stacks"]:
        client.delete_stack(StackName=stack["StackId"])


def environment(priority: Any = 1, max_vcpus: Any = "16") -> dict[str, Any]:
    """A compute environment, queue and job definition, as CloudFormation (PascalCase) has them."""
    return {
        "CE": {
            "Type": "AWS::Batch::ComputeEnvironment",
            "Properties": {
                "Type": "MANAGED",
                "ComputeResources": {
                    "Type": "EC2",
                    "MinvCpus": 0,
                    "MaxvCpus": max_vcpus,  # a string, as a template parameter gives it: coerced
                    "InstanceTypes": ["optimal"],
                    "Subnets": ["subnet-0123456789abcdef0"],
                    "SecurityGroupIds": ["sg-0123456789abcdef0"],
                    "InstanceRole": "ecsInstanceRole",
                },
            },
        },
        "Queue": {
            "Type": "AWS::Batch::JobQueue",
            "Properties": {
                "Priority": priority,
                "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": {"Ref": "CE"}}],
                "Tags": {"team": "data"},
            },
        },
        "Definition": {
            "Type": "AWS::Batch::JobDefinition",
            "Properties": {
                "Type": "container",
                "ContainerProperties": {
                    "Image": "busybox",
                    "Command": ["echo", "hello"],
                    "ResourceRequirements": [
                        {"Type": "VCPU", "Value": "1"},
                        {"Type": "MEMORY", "Value": 512},
                    ],
                },
            },
        },
    }


def full_template(priority: Any = 1, max_vcpus: Any = "16") -> dict[str, Any]:
    resources = environment(priority, max_vcpus)
    resources["Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
    }
    resources["Bucket"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    resources["Rule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventPattern": {"source": ["my.app"]},
            "Targets": [
                {
                    "Id": "queue",
                    "Arn": {"Ref": "Queue"},
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "BatchParameters": {"JobDefinition": {"Ref": "Definition"}, "JobName": "from-rule"},
                }
            ],
        },
    }
    outputs = {
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "JobQueueArn"]}},
        "BucketName": {"Value": {"Ref": "Bucket"}},
    }
    return {"Resources": resources, "Outputs": outputs}


def create(cfn: Any, template: dict[str, Any], name: str | None = None) -> tuple[str, dict[str, Any]]:
    name = name or f"s{uuid.uuid4().hex[:8]}"
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))["StackId"]
    return name, cfn.describe_stacks(StackName=stack_id)["Stacks"][0]


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def events(cfn: Any, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason), oldest first."""
    found = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in found[::-1]
    ]


def physical(cfn: Any, stack: str, logical_id: str) -> str:
    resource = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


def test_a_stack_creates_its_queue_in_batchemu_beside_moto_resources_and_jobs_succeed(
    cfn: Any, batch: Any, server: ServerThread, emulator: Emulator
) -> None:
    name, stack = create(cfn, full_template())
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    queue_arn = outputs(stack)["QueueArn"]
    [queue] = batch.describe_job_queues(jobQueues=[queue_arn])["jobQueues"]
    assert (queue["status"], queue["state"], queue["priority"], queue["tags"]) == (
        "VALID",
        "ENABLED",
        1,
        {"team": "data"},
    )
    assert queue["jobQueueName"].startswith(f"{name}-Queue-")
    [ce] = batch.describe_compute_environments()["computeEnvironments"]
    assert (ce["status"], ce["computeResources"]["maxvCpus"]) == ("VALID", 16)
    assert aws(server, "s3").head_bucket(Bucket=outputs(stack)["BucketName"])
    role = physical(cfn, name, "Role")
    assert aws(server, "iam").get_role(RoleName=role)["Role"]["RoleName"] == role
    definition = physical(cfn, name, "Definition")
    job = batch.submit_job(jobName="j", jobQueue=queue_arn, jobDefinition=definition)
    emulator.run_until_idle()
    assert batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["status"] == "SUCCEEDED"


def test_a_rule_made_by_the_stack_submits_to_the_stack_queue(
    cfn: Any, batch: Any, server: ServerThread, emulator: Emulator
) -> None:
    name, stack = create(cfn, full_template())
    queue_arn = outputs(stack)["QueueArn"]
    rule = physical(cfn, name, "Rule")
    events_client = aws(server, "events")
    assert events_client.list_targets_by_rule(Rule=rule)["Targets"][0]["Arn"] == queue_arn
    events_client.put_events(Entries=[{"Source": "my.app", "DetailType": "t", "Detail": "{}"}])
    jobs = settle(
        emulator, lambda: batch.list_jobs(jobQueue=queue_arn, jobStatus="SUCCEEDED")["jobSummaryList"]
    )
    assert [job["jobName"] for job in jobs] == ["from-rule"]


def test_ref_and_getatt_give_the_arns_aws_documents(cfn: Any, batch: Any) -> None:
    resources = environment()
    resources["Policy"] = {
        "Type": "AWS::Batch::SchedulingPolicy",
        "Properties": {"Name": "fair", "FairsharePolicy": {"ShareDecaySeconds": 3600}},
    }
    resources["Licence"] = {
        "Type": "AWS::Batch::ConsumableResource",
        "Properties": {"TotalQuantity": 4, "ResourceType": "REPLENISHABLE"},
    }
    pairs = {
        "CE": "ComputeEnvironmentArn",
        "Queue": "JobQueueArn",
        "Definition": "JobDefinitionArn",
        "Policy": "Arn",
        "Licence": "ConsumableResourceArn",
    }
    template_outputs = {}
    for logical_id, attribute in pairs.items():
        template_outputs[f"{logical_id}Ref"] = {"Value": {"Ref": logical_id}}
        template_outputs[f"{logical_id}Att"] = {"Value": {"Fn::GetAtt": [logical_id, attribute]}}
    name, stack = create(cfn, {"Resources": resources, "Outputs": template_outputs})
    found = outputs(stack)
    for logical_id in pairs:
        assert found[f"{logical_id}Ref"] == found[f"{logical_id}Att"] == physical(cfn, name, logical_id)
    assert found["CERef"].startswith(f"{ARN}:compute-environment/{name}-CE-")
    assert found["DefinitionRef"].startswith(f"{ARN}:job-definition/{name}-Definition-")
    assert found["DefinitionRef"].endswith(":1")
    assert found["PolicyRef"] == f"{ARN}:scheduling-policy/fair"
    assert found["LicenceRef"].startswith(f"{ARN}:consumable-resource/{name}-Licence-")
    policy = batch.describe_scheduling_policies(arns=[found["PolicyRef"]])["schedulingPolicies"][0]
    assert policy["fairsharePolicy"]["shareDecaySeconds"] == 3600


def test_update_changes_priority_and_max_vcpus_in_place(cfn: Any, batch: Any) -> None:
    name, stack = create(cfn, full_template())
    queue_arn = outputs(stack)["QueueArn"]
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(full_template(priority=7, max_vcpus=32)))
    updated = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(updated)["QueueArn"] == queue_arn
    assert batch.describe_job_queues(jobQueues=[queue_arn])["jobQueues"][0]["priority"] == 7
    [ce] = batch.describe_compute_environments()["computeEnvironments"]
    assert ce["computeResources"]["maxvCpus"] == 32
    assert ("Queue", "UPDATE_COMPLETE", "") in events(cfn, name)


def test_update_of_a_replacement_property_replaces_the_resource(cfn: Any, batch: Any) -> None:
    template = {"Resources": environment()}
    name, _ = create(cfn, template)
    old = physical(cfn, name, "Queue")
    template["Resources"]["Queue"]["Properties"]["JobQueueName"] = "renamed"
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(template))
    assert physical(cfn, name, "Queue") == f"{ARN}:job-queue/renamed"
    assert [q["jobQueueArn"] for q in batch.describe_job_queues()["jobQueues"]] == [
        f"{ARN}:job-queue/renamed"
    ]
    assert old != f"{ARN}:job-queue/renamed"


def test_an_update_of_a_job_definition_registers_a_new_revision(cfn: Any, batch: Any) -> None:
    template = {"Resources": environment()}
    name, _ = create(cfn, template)
    first = physical(cfn, name, "Definition")
    template["Resources"]["Definition"]["Properties"]["ContainerProperties"]["Command"] = ["echo", "bye"]
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(template))
    second = physical(cfn, name, "Definition")
    assert second == first[: -len(":1")] + ":2"
    statuses = {
        d["jobDefinitionArn"]: d["status"] for d in batch.describe_job_definitions()["jobDefinitions"]
    }
    assert statuses == {first: "INACTIVE", second: "ACTIVE"}


def test_a_refused_update_rolls_back_and_keeps_the_old_values(cfn: Any, batch: Any) -> None:
    name, stack = create(cfn, full_template())
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(full_template(priority=5000)))
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [reason for logical, status, reason in events(cfn, name) if status == "UPDATE_FAILED"]
    assert len(failed) == 1 and "priority" in failed[0]
    assert batch.describe_job_queues(jobQueues=[outputs(stack)["QueueArn"]])["jobQueues"][0]["priority"] == 1


def test_delete_removes_everything_the_queue_before_its_compute_environment(
    cfn: Any, batch: Any, server: ServerThread
) -> None:
    name, stack = create(cfn, full_template())
    stack_id = stack["StackId"]
    bucket = outputs(stack)["BucketName"]
    cfn.delete_stack(StackName=name)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert batch.describe_job_queues()["jobQueues"] == []
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    assert [d["status"] for d in batch.describe_job_definitions()["jobDefinitions"]] == ["INACTIVE"]
    assert bucket not in [b["Name"] for b in aws(server, "s3").list_buckets()["Buckets"]]
    order = [(logical, status) for logical, status, _ in events(cfn, stack_id) if status.startswith("DELETE")]
    assert order.index(("Queue", "DELETE_COMPLETE")) < order.index(("CE", "DELETE_IN_PROGRESS"))
    assert order.index(("Rule", "DELETE_COMPLETE")) < order.index(("Queue", "DELETE_IN_PROGRESS"))
    assert order[-1] == (name, "DELETE_COMPLETE")


def test_a_refused_property_fails_the_stack_and_rolls_back(cfn: Any, batch: Any) -> None:
    name, stack = create(cfn, full_template(priority=-5))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    seen = events(cfn, name)
    [reason] = [reason for logical, status, reason in seen if (logical, status) == ("Queue", "CREATE_FAILED")]
    assert "priority must be between 0 and 1000" in reason
    assert "(Service: Batch, Status Code: 400" in reason
    statuses = [status for logical, status, _ in seen if logical == name]
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert ("CE", "DELETE_COMPLETE", "") in seen
    assert batch.describe_compute_environments()["computeEnvironments"] == []


def test_an_unknown_property_fails_like_cloudformation_schema_validation(cfn: Any) -> None:
    template = {"Resources": environment()}
    template["Resources"]["CE"]["Properties"]["ComputeResources"]["Colour"] = "blue"
    name, stack = create(cfn, template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    [reason] = [r for logical, status, r in events(cfn, name) if status == "CREATE_FAILED"]
    assert reason == (
        "Properties validation failed for resource CE with message: "
        "#/ComputeResources: extraneous key [Colour] is not permitted"
    )


def test_a_change_set_creates_then_updates_the_stack(cfn: Any, batch: Any) -> None:
    name = f"s{uuid.uuid4().hex[:8]}"
    body = json.dumps({"Resources": environment()})
    assert cfn.validate_template(TemplateBody=body)["Parameters"] == []
    cfn.create_change_set(StackName=name, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body)
    cfn.execute_change_set(ChangeSetName="first", StackName=name)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert len(batch.describe_job_queues()["jobQueues"]) == 1
    body = json.dumps({"Resources": environment(priority=9)})
    cfn.create_change_set(StackName=name, ChangeSetName="second", ChangeSetType="UPDATE", TemplateBody=body)
    changes = cfn.describe_change_set(ChangeSetName="second", StackName=name)["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Queue"]
    cfn.execute_change_set(ChangeSetName="second", StackName=name)
    assert batch.describe_job_queues()["jobQueues"][0]["priority"] == 9


def test_a_failed_change_set_rolls_back(cfn: Any, batch: Any) -> None:
    name = f"s{uuid.uuid4().hex[:8]}"
    body = json.dumps({"Resources": environment(priority=-1)})
    cfn.create_change_set(StackName=name, ChangeSetName="bad", ChangeSetType="CREATE", TemplateBody=body)
    cfn.execute_change_set(ChangeSetName="bad", StackName=name)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert batch.describe_compute_environments()["computeEnvironments"] == []
