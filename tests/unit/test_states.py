"""The job state table: every (status, event) pair either moves as TRANSITIONS says or raises
IllegalTransition, and transition() records what AWS records (times, reasons, attempts)."""

from __future__ import annotations

import itertools

import pytest

from batchemu.domain.models import Attempt, Job
from batchemu.domain.states import (
    TRANSITIONS,
    JobEvent,
    JobStatus,
    next_status,
    transition,
)
from batchemu.errors import IllegalTransition

S, E = JobStatus, JobEvent
T0 = 1_700_000_000_000
NOW = T0 + 5_000
LIVE = (S.STARTING, S.RUNNING)
ALL_PAIRS = list(itertools.product(JobStatus, JobEvent))
ATTEMPT_ENDING = (
    E.START_FAILED_RETRY,
    E.START_FAILED,
    E.EXITED_SUCCESS,
    E.EXITED_RETRY,
    E.EXITED_FAILURE,
    E.TIMED_OUT,
    E.TERMINATED,
)


def make_job(status: JobStatus = S.SUBMITTED) -> Job:
    """A job in `status`, holding a live attempt when the status has one."""
    job = Job(
        id="job-1",
        arn="arn:aws:batch:us-east-1:123456789012:job/job-1",
        name="j",
        job_queue_arn="arn:aws:batch:us-east-1:123456789012:job-queue/q",
        job_definition_arn="arn:aws:batch:us-east-1:123456789012:job-definition/d:1",
        created_at=T0,
        status=status.value,
        status_changed_at=T0,
    )
    if status in LIVE:
        job.current_attempt = make_attempt()
        job.current_attempt.placed_at = T0
        if status is S.RUNNING:
            job.current_attempt.started_at = T0
            job.started_at = T0
    return job


def make_attempt(number: int = 1) -> Attempt:
    return Attempt(
        number=number, compute_environment_arn="arn:aws:batch:us-east-1:123456789012:compute-environment/ce"
    )


def fire(job: Job, event: JobEvent, now: int = NOW, **kwargs: object) -> JobStatus:
    if event is E.PLACED and "attempt" not in kwargs:
        kwargs["attempt"] = make_attempt(job.attempt_count + 1)
    return transition(job, event, now, **kwargs)  # type: ignore[arg-type]


def _pair_id(pair: tuple[JobStatus, JobEvent]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


# -- the table -----------------------------------------------------------------------------------------
def test_the_table_mentions_only_known_statuses_and_events() -> None:
    for (status, event), target in TRANSITIONS.items():
        assert isinstance(status, JobStatus) and isinstance(event, JobEvent) and isinstance(target, JobStatus)


def test_finished_jobs_have_no_way_out_but_a_multi_node_jobs_whole_job_retry() -> None:
    ways_out = [pair for pair in TRANSITIONS if pair[0] in (S.SUCCEEDED, S.FAILED)]
    assert ways_out == [(S.SUCCEEDED, E.NODE_RETRY), (S.FAILED, E.NODE_RETRY)]


def test_a_retried_node_runs_again_with_its_attempts_and_its_end_forgotten() -> None:
    node = Job(id="j#1", arn="arn", name="n", job_queue_arn="q", job_definition_arn="d", created_at=0)
    node.status, node.stopped_at, node.is_terminated = "FAILED", 5, True
    node.attempts.append(Attempt(number=1, compute_environment_arn="ce"))
    assert transition(node, E.NODE_RETRY, 10) == S.PENDING
    assert (node.stopped_at, node.is_terminated, len(node.attempts)) == (None, False, 1)


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_every_pair_moves_as_the_table_says_or_is_illegal(pair: tuple[JobStatus, JobEvent]) -> None:
    status, event = pair
    job = make_job(status)
    if pair in TRANSITIONS:
        assert fire(job, event) is TRANSITIONS[pair]
        assert job.status == TRANSITIONS[pair]
    else:
        with pytest.raises(IllegalTransition) as raised:
            fire(job, event)
        assert (raised.value.status, raised.value.event) == (status, event)
        assert job.status == status
        assert job.status_changed_at == T0


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_next_status_agrees_with_the_table(pair: tuple[JobStatus, JobEvent]) -> None:
    if pair in TRANSITIONS:
        assert next_status(pair[0].value, pair[1]) is TRANSITIONS[pair]
    else:
        with pytest.raises(IllegalTransition):
            next_status(pair[0].value, pair[1])


def test_an_unknown_status_is_an_illegal_transition() -> None:
    with pytest.raises(IllegalTransition):
        next_status("EXPLODED", E.READY)


@pytest.mark.parametrize(
    ("status", "event", "target"),
    [
        (S.SUBMITTED, E.WAIT_FOR_DEPENDENCIES, S.PENDING),
        (S.SUBMITTED, E.READY, S.RUNNABLE),
        (S.PENDING, E.READY, S.RUNNABLE),
        (S.PENDING, E.DEPENDENCY_FAILED, S.FAILED),
        (S.RUNNABLE, E.PLACED, S.STARTING),
        (S.STARTING, E.CONTAINER_STARTED, S.RUNNING),
        (S.STARTING, E.START_FAILED_RETRY, S.RUNNABLE),
        (S.RUNNING, E.EXITED_SUCCESS, S.SUCCEEDED),
        (S.RUNNING, E.EXITED_RETRY, S.RUNNABLE),
        (S.RUNNING, E.EXITED_FAILURE, S.FAILED),
        (S.RUNNING, E.TERMINATED, S.FAILED),
        (S.RUNNING, E.TIMED_OUT, S.FAILED),
        (S.SUBMITTED, E.CANCELLED, S.FAILED),
        (S.PENDING, E.CANCELLED, S.FAILED),
        (S.RUNNABLE, E.CANCELLED, S.FAILED),
        (S.PENDING, E.CHILDREN_SUCCEEDED, S.SUCCEEDED),
        (S.PENDING, E.CHILD_FAILED, S.FAILED),
    ],
)
def test_documented_lifecycle_moves(status: JobStatus, event: JobEvent, target: JobStatus) -> None:
    assert TRANSITIONS[(status, event)] is target


@pytest.mark.parametrize("status", [S.STARTING, S.RUNNING, S.SUCCEEDED, S.FAILED])
def test_cancel_is_illegal_once_the_job_is_starting(status: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        fire(make_job(status), E.CANCELLED)


# -- what transition() records -----------------------------------------------------------------------
def test_a_real_move_stamps_status_changed_at() -> None:
    job = make_job(S.SUBMITTED)
    fire(job, E.READY)
    assert job.status_changed_at == NOW


def test_a_blocked_self_loop_keeps_status_changed_at_and_sets_the_reason() -> None:
    job = make_job(S.RUNNABLE)
    reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no compute environment can run this job"
    assert fire(job, E.BLOCKED, reason=reason) is S.RUNNABLE
    assert job.status_changed_at == T0
    assert job.status_reason == reason


def test_placing_a_blocked_job_clears_the_blocked_reason() -> None:
    job = make_job(S.RUNNABLE)
    fire(job, E.BLOCKED, reason="MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - too big")
    fire(job, E.PLACED)
    assert job.status_reason is None


def test_placed_without_an_attempt_is_refused_and_changes_nothing() -> None:
    job = make_job(S.RUNNABLE)
    with pytest.raises(ValueError):
        transition(job, E.PLACED, NOW)
    assert job.status == S.RUNNABLE
    assert job.current_attempt is None
    assert job.status_changed_at == T0


def test_placed_makes_the_attempt_current_and_stamps_placement() -> None:
    job = make_job(S.RUNNABLE)
    attempt = make_attempt()
    fire(job, E.PLACED, attempt=attempt)
    assert job.current_attempt is attempt
    assert attempt.placed_at == NOW
    assert job.scheduled_at == NOW


def test_scheduled_at_keeps_the_first_placement() -> None:
    job = make_job(S.RUNNABLE)
    fire(job, E.PLACED, now=T0 + 1)
    fire(job, E.START_FAILED_RETRY, now=T0 + 2)
    fire(job, E.PLACED, now=T0 + 3)
    assert job.scheduled_at == T0 + 1


def test_container_started_sets_started_at_on_job_and_attempt() -> None:
    job = make_job(S.STARTING)
    fire(job, E.CONTAINER_STARTED)
    assert job.started_at == NOW
    assert job.current_attempt is not None and job.current_attempt.started_at == NOW


def test_container_started_without_a_placed_attempt_is_refused() -> None:
    job = make_job(S.STARTING)
    job.current_attempt = None
    with pytest.raises(ValueError):
        fire(job, E.CONTAINER_STARTED)
    assert job.status == S.STARTING


def test_started_at_follows_the_latest_attempt() -> None:
    job = make_job(S.STARTING)
    fire(job, E.CONTAINER_STARTED, now=T0 + 10)
    fire(job, E.EXITED_RETRY, now=T0 + 20, exit_code=1)
    fire(job, E.PLACED, now=T0 + 30)
    fire(job, E.CONTAINER_STARTED, now=T0 + 40)
    assert job.started_at == T0 + 40
    assert job.attempts[0].started_at == T0 + 10


def test_started_at_is_not_set_before_the_container_starts() -> None:
    job = make_job(S.SUBMITTED)
    fire(job, E.READY)
    fire(job, E.PLACED)
    assert job.started_at is None


FINISHING = [pair for pair, target in TRANSITIONS.items() if target in (S.SUCCEEDED, S.FAILED)]
NOT_FINISHING = [pair for pair, target in TRANSITIONS.items() if target not in (S.SUCCEEDED, S.FAILED)]


@pytest.mark.parametrize("pair", FINISHING, ids=_pair_id)
def test_finishing_sets_stopped_at(pair: tuple[JobStatus, JobEvent]) -> None:
    job = make_job(pair[0])
    fire(job, pair[1])
    assert job.stopped_at == NOW


@pytest.mark.parametrize("pair", NOT_FINISHING, ids=_pair_id)
def test_moves_that_do_not_finish_leave_stopped_at_unset(pair: tuple[JobStatus, JobEvent]) -> None:
    job = make_job(pair[0])
    fire(job, pair[1])
    assert job.stopped_at is None


@pytest.mark.parametrize("status", [S.SUBMITTED, S.PENDING, S.RUNNABLE])
def test_cancelled_marks_is_cancelled(status: JobStatus) -> None:
    job = make_job(status)
    fire(job, E.CANCELLED, reason="cancelled by user")
    assert (job.is_cancelled, job.is_terminated) == (True, False)
    assert job.status_reason == "cancelled by user"


@pytest.mark.parametrize("status", [status for status, event in TRANSITIONS if event is E.TERMINATED])
def test_terminated_marks_is_terminated(status: JobStatus) -> None:
    job = make_job(status)
    fire(job, E.TERMINATED, reason="terminated by user")
    assert (job.is_cancelled, job.is_terminated) == (False, True)


@pytest.mark.parametrize(
    "pair", [pair for pair in FINISHING if pair[1] not in (E.CANCELLED, E.TERMINATED)], ids=_pair_id
)
def test_other_finishing_events_are_neither_cancelled_nor_terminated(
    pair: tuple[JobStatus, JobEvent],
) -> None:
    job = make_job(pair[0])
    fire(job, pair[1])
    assert (job.is_cancelled, job.is_terminated) == (False, False)


LIVE_ENDING_PAIRS = [pair for pair in TRANSITIONS if pair[1] in ATTEMPT_ENDING and pair[0] in LIVE]


def test_every_live_status_has_attempt_ending_events() -> None:
    assert {status for status, _ in LIVE_ENDING_PAIRS} == set(LIVE)


@pytest.mark.parametrize("pair", LIVE_ENDING_PAIRS, ids=_pair_id)
def test_attempt_ending_event_records_the_attempt(pair: tuple[JobStatus, JobEvent]) -> None:
    job = make_job(pair[0])
    live = job.current_attempt
    assert live is not None
    handle = object()
    live.run_handle = handle
    fire(job, pair[1], reason="Essential container in task exited", exit_code=3, container_reason="boom")
    assert job.attempts == [live]
    assert job.current_attempt is None
    assert live.stopped_at == NOW
    assert live.status_reason == "Essential container in task exited"
    assert (live.container.exit_code, live.container.reason) == (3, "boom")
    assert live.run_handle is handle  # kept for the log shipper, which releases it


def test_a_success_records_exit_code_zero() -> None:
    job = make_job(S.RUNNING)
    fire(job, E.EXITED_SUCCESS, reason="Essential container in task exited", exit_code=0)
    assert job.attempts[0].container.exit_code == 0
    assert job.status_reason == "Essential container in task exited"


def test_a_retry_keeps_the_job_and_its_attempt_history() -> None:
    job = make_job(S.RUNNING)
    fire(job, E.EXITED_RETRY, exit_code=1)
    fire(job, E.PLACED)
    fire(job, E.CONTAINER_STARTED)
    fire(job, E.EXITED_SUCCESS, exit_code=0)
    assert [attempt.container.exit_code for attempt in job.attempts] == [1, 0]
    assert [attempt.number for attempt in job.attempts] == [1, 2]
    assert job.status == S.SUCCEEDED


QUEUED_TERMINATIONS = [
    status for status in (S.SUBMITTED, S.PENDING, S.RUNNABLE) if (status, E.TERMINATED) in TRANSITIONS
]


@pytest.mark.parametrize("status", QUEUED_TERMINATIONS)
def test_terminating_a_job_that_never_started_records_no_attempt(status: JobStatus) -> None:
    job = make_job(status)
    fire(job, E.TERMINATED, reason="terminated by user")
    assert (job.status, job.attempts, job.current_attempt) == (S.FAILED, [], None)


@pytest.mark.parametrize("event", [E.READY, E.WAIT_FOR_DEPENDENCIES, E.CANCELLED, E.DEPENDENCY_FAILED])
def test_events_outside_an_attempt_record_no_attempt(event: JobEvent) -> None:
    job = make_job(S.PENDING if event is E.DEPENDENCY_FAILED else S.SUBMITTED)
    fire(job, event)
    assert job.attempts == []


def test_dependency_failure_keeps_its_reason() -> None:
    job = make_job(S.PENDING)
    fire(job, E.DEPENDENCY_FAILED, reason="Dependent Job failed")
    assert (job.status, job.status_reason) == (S.FAILED, "Dependent Job failed")


def test_ready_clears_a_previous_reason() -> None:
    job = make_job(S.PENDING)
    job.status_reason = "waiting"
    fire(job, E.READY)
    assert job.status_reason is None
