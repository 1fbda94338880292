"""Dataclasses for Batch resources, jobs and attempts. Nested AWS structures that batchemu only stores
and echoes (compute resources, container properties...) are kept as snake_case dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Spec = dict[str, Any]


@dataclass
class ComputeEnvironment:
    name: str
    arn: str
    type: str  # MANAGED | UNMANAGED
    state: str = "ENABLED"
    status: str = "CREATING"
    status_reason: str | None = "Compute environment is being created"
    compute_resources: Spec | None = None
    service_role: str | None = None
    unmanaged_vcpus: int | None = None
    update_policy: Spec | None = None
    eks_configuration: Spec | None = None
    context: str | None = None
    ecs_cluster_arn: str | None = None
    uuid: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    status_changed_at: float = 0.0

    @property
    def platform(self) -> str:
        """EC2 for EC2/SPOT/UNMANAGED, FARGATE for FARGATE/FARGATE_SPOT."""
        kind = (self.compute_resources or {}).get("type", "EC2")
        return "FARGATE" if kind.startswith("FARGATE") else "EC2"

    @property
    def max_vcpus(self) -> float | None:
        if self.compute_resources is not None:
            return self.compute_resources.get("max_vcpus")
        return self.unmanaged_vcpus


@dataclass(frozen=True)
class ComputeEnvironmentOrder:
    order: int
    compute_environment_arn: str


@dataclass
class JobQueue:
    name: str
    arn: str
    priority: int
    compute_environment_order: list[ComputeEnvironmentOrder] = field(default_factory=list)
    state: str = "ENABLED"
    status: str = "CREATING"
    status_reason: str | None = "Job queue is being created"
    scheduling_policy_arn: str | None = None
    job_state_time_limit_actions: list[Spec] = field(default_factory=list)
    service_environment_order: list[Spec] = field(default_factory=list)
    job_queue_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    status_changed_at: float = 0.0

    @property
    def is_fair_share(self) -> bool:
        return self.scheduling_policy_arn is not None


@dataclass
class JobDefinition:
    name: str
    revision: int
    arn: str
    type: str  # container | multinode
    status: str = "ACTIVE"
    parameters: dict[str, str] = field(default_factory=dict)
    retry_strategy: Spec | None = None
    timeout: Spec | None = None
    propagate_tags: bool | None = None
    platform_capabilities: list[str] = field(default_factory=list)
    container_properties: Spec | None = None
    node_properties: Spec | None = None
    ecs_properties: Spec | None = None
    eks_properties: Spec | None = None
    scheduling_priority: int | None = None
    consumable_resource_properties: Spec | None = None
    container_orchestration_type: str = "ECS"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SchedulingPolicy:
    name: str
    arn: str
    fairshare_policy: Spec | None = None
    quota_share_policy: Spec | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ContainerAttempt:
    """What one attempt's container reported (AWS's AttemptContainerDetail)."""

    task_arn: str | None = None
    container_instance_arn: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    log_stream_name: str | None = None


@dataclass(slots=True)
class TaskContainerAttempt:
    """One container of a multi-container (ecsProperties) attempt (AWS's AttemptTaskContainerDetails)."""

    name: str
    log_stream_name: str | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(slots=True)
class Attempt:
    """One try at running a job; recorded in `job.attempts` when it ends."""

    number: int
    compute_environment_arn: str
    container: ContainerAttempt = field(default_factory=ContainerAttempt)
    task_containers: list[TaskContainerAttempt] = field(default_factory=list)  # ecsProperties jobs only
    started_at: int | None = None
    stopped_at: int | None = None
    status_reason: str | None = None
    run_handle: Any = None  # the runner's handle while the attempt is live; never rendered
    stop_requested: bool = False
    start_error: str | None = None  # the runner could not even begin the attempt
    placed_at: int | None = None
    vcpus: float = 0.0
    memory: int = 0
    gpus: int = 0


@dataclass(frozen=True, slots=True)
class Dependency:
    job_id: str | None
    type: str | None  # None | N_TO_N | SEQUENTIAL


@dataclass(slots=True)
class Job:
    id: str
    arn: str
    name: str
    job_queue_arn: str
    job_definition_arn: str
    created_at: int
    status: str = "SUBMITTED"
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    status_changed_at: int = 0
    depends_on: list[Dependency] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    container: Spec | None = None  # resolved container properties (overrides and Ref:: applied)
    node_properties: Spec | None = None
    ecs_properties: Spec | None = None
    eks_properties: Spec | None = None
    retry_strategy: Spec | None = None
    timeout: Spec | None = None
    tags: dict[str, str] = field(default_factory=dict)
    propagate_tags: bool | None = None
    platform_capabilities: list[str] = field(default_factory=list)
    share_identifier: str | None = None
    scheduling_priority: int | None = None
    consumable_resource_properties: Spec | None = None
    attempts: list[Attempt] = field(default_factory=list)
    current_attempt: Attempt | None = None
    is_cancelled: bool = False
    is_terminated: bool = False
    pending_stop_reason: str | None = None  # set by TerminateJob on a live attempt until the runner stops it
    # Arrays: a parent has array_size and child_ids; a child has array_index and parent_id.
    array_size: int | None = None
    array_index: int | None = None
    parent_id: str | None = None
    child_ids: list[str] = field(default_factory=list)
    status_summary_updated_at: int | None = None
    # Multi-node parallel: a parent has num_nodes and child_ids (`<id>#<n>`); a node has node_index.
    num_nodes: int | None = None
    main_node: int = 0
    node_index: int | None = None
    scheduled_at: int | None = None
    reason_changed_at: int = 0
    sequence: int = 0  # submission order within the backend; breaks createdAt ties
    # (epoch ms, status, statusReason) for every transition, oldest first; SUBMITTED is the first entry.
    history: list[tuple[int, str, str | None]] = field(default_factory=list)

    @property
    def is_array_parent(self) -> bool:
        return self.array_size is not None and self.array_index is None

    @property
    def is_multi_node_parent(self) -> bool:
        return self.num_nodes is not None and self.node_index is None

    @property
    def is_main_node(self) -> bool:
        return self.node_index is not None and self.node_index == self.main_node

    @property
    def attempt_count(self) -> int:
        return len(self.attempts) + (1 if self.current_attempt else 0)

    @property
    def is_finished(self) -> bool:
        return self.status in ("SUCCEEDED", "FAILED")
