"""Multi-node parallel jobs: the parent spawns nodes `<id>#<n>` once its dependencies are met, the main
node runs first and the others once it is RUNNING, and the parent follows the main node; when the main
node ends, the other nodes are stopped. A main node that fails under the parent's retryStrategy retries
the whole job: once every node has ended, each node goes back to PENDING (keeping its attempts) and the
parent to RUNNABLE."""

from __future__ import annotations

from collections.abc import Callable

from batchemu.domain import arrays, params, retry
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent, JobStatus
from batchemu.domain.store import Backend

MAIN_NODE_EXITED = "Main node exited"


def spawn_nodes(backend: Backend, parent: Job, now: int) -> None:
    """Nodes start in PENDING: the main node becomes RUNNABLE at once, the others after it runs."""
    assert parent.num_nodes is not None and parent.node_properties is not None
    for index in range(parent.num_nodes):
        node = arrays.new_child(parent, f"#{index}", now)
        node.node_index = index
        node.depends_on = []
        node.retry_strategy = None  # the whole job is retried on a main-node failure (_retry_whole_job)
        group = params.node_group(parent.node_properties, index)
        node.container = group.get("container")
        # a range of ecsProperties or eksProperties runs its task or pod on each node (runners/tasks.py)
        node.ecs_properties = group.get("ecs_properties")
        node.eks_properties = group.get("eks_properties")
        backend.add_job(node)
        parent.child_ids.append(node.id)
    backend.work.multinode_parents[parent.id] = parent


def node_may_start(backend: Backend, node: Job) -> bool:
    if node.is_main_node:
        return True
    main = backend.jobs.get(f"{node.parent_id}#{node.main_node}")
    return main is not None and main.status == JobStatus.RUNNING


def advance_parents(backend: Backend, now: int, move: Callable[..., None]) -> bool:
    changed = False
    for parent in list(backend.work.multinode_parents.values()):  # live parents with nodes, a few
        if parent.status in ("RUNNABLE", "STARTING", "RUNNING") and parent.child_ids:
            changed |= _follow_main_node(backend, parent, now, move)
    return changed


def _follow_main_node(backend: Backend, parent: Job, now: int, move: Callable[..., None]) -> bool:
    main = backend.jobs.get(f"{parent.id}#{parent.main_node}")
    if main is None:
        return False
    if (
        parent.status == "RUNNABLE"
        and (main.status != "RUNNABLE" and main.status != "PENDING")
        and (main.current_attempt is not None or main.attempts)
    ):
        move(parent, JobEvent.MAIN_NODE_PLACED, now)
        return True
    if main.status in ("RUNNING", "SUCCEEDED", "FAILED") and parent.status == "STARTING" and main.started_at:
        move(parent, JobEvent.MAIN_NODE_STARTED, now)
        return True
    if main.status in ("SUCCEEDED", "FAILED"):
        return _finish(backend, parent, main, now, move)
    return False


def _finish(backend: Backend, parent: Job, main: Job, now: int, move: Callable[..., None]) -> bool:
    if _retries_whole_job(parent, main):
        return _retry_whole_job(backend, parent, main, now, move)
    if parent.status == "RUNNING":
        event = JobEvent.EXITED_SUCCESS if main.status == "SUCCEEDED" else JobEvent.EXITED_FAILURE
    elif parent.status == "STARTING":
        event = JobEvent.START_FAILED
    else:
        event = JobEvent.CANCELLED
    if main.is_terminated and parent.status in ("STARTING", "RUNNING"):
        event = JobEvent.TERMINATED
    move(parent, event, now, reason=main.status_reason)
    _stop_other_nodes(backend, parent, now, move)
    return True


def _retries_whole_job(parent: Job, main: Job) -> bool:
    """A main node that failed on its own (not terminated or cancelled) while the parent is live, with an
    attempt left in the parent's retryStrategy whose evaluateOnExit rules say RETRY."""
    if main.status != "FAILED" or main.is_terminated or main.is_cancelled or not main.attempts:
        return False
    if parent.status not in ("STARTING", "RUNNING") or parent.pending_stop_reason is not None:
        return False
    last = main.attempts[-1]
    return retry.should_retry(
        parent.retry_strategy,
        len(main.attempts),
        main.status_reason,
        last.container.reason,
        last.container.exit_code,
    )


def _retry_whole_job(backend: Backend, parent: Job, main: Job, now: int, move: Callable[..., None]) -> bool:
    """Stops the other nodes; once every node has ended, moves them back to PENDING and the parent to
    RUNNABLE. Returns whether anything changed."""
    changed = _stop_other_nodes(backend, parent, now, move)
    nodes = [backend.jobs[node_id] for node_id in parent.child_ids]
    if any(node.status not in ("SUCCEEDED", "FAILED") for node in nodes):
        return changed
    for node in nodes:
        node.pending_stop_reason = None
        move(node, JobEvent.NODE_RETRY, now, reason=None)
    event = JobEvent.EXITED_RETRY if parent.status == "RUNNING" else JobEvent.START_FAILED_RETRY
    move(parent, event, now, reason=main.status_reason)
    return True


def _stop_other_nodes(backend: Backend, parent: Job, now: int, move: Callable[..., None]) -> bool:
    changed = False
    for node_id in parent.child_ids:
        node = backend.jobs[node_id]
        if node.status in ("SUBMITTED", "PENDING", "RUNNABLE"):
            move(node, JobEvent.CANCELLED, now, reason=MAIN_NODE_EXITED)
            changed = True
        elif node.status in ("STARTING", "RUNNING") and node.pending_stop_reason is None:
            node.pending_stop_reason = MAIN_NODE_EXITED
            backend.touch(node)
            changed = True
    return changed
