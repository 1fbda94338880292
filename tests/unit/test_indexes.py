"""The queue index lists a queue's jobs newest first from any point, per status, without scanning."""

from __future__ import annotations

from batchemu.domain.indexes import QueueIndex, SequenceIndex
from batchemu.domain.models import Job


def job(sequence: int, status: str = "SUCCEEDED", queue: str = "q", index: int | None = None) -> Job:
    made = Job(
        id=f"j{sequence}", arn="a", name="n", job_queue_arn=queue, job_definition_arn="d", created_at=0
    )
    made.sequence, made.status, made.array_index = sequence, status, index
    return made


def test_newest_first_from_a_point() -> None:
    index = SequenceIndex()
    for sequence in (1, 2, 3, 5, 4):
        index.add(job(sequence))
    assert [j.sequence for j in index.newest_first()] == [5, 4, 3, 2, 1]
    assert [j.sequence for j in index.newest_first(before=4)] == [3, 2, 1]


def test_moving_between_statuses_keeps_submission_order() -> None:
    queues = QueueIndex()
    jobs = [job(n, "RUNNING") for n in range(1, 6)]
    for item in jobs:
        queues.add(item)
    for item in (jobs[3], jobs[0]):
        item.status = "SUCCEEDED"
        queues.moved(item, "RUNNING")
    assert [j.sequence for j in queues.newest_first("q", "SUCCEEDED", None)] == [4, 1]
    assert [j.sequence for j in queues.newest_first("q", "RUNNING", None)] == [5, 3, 2]
    assert [j.sequence for j in queues.newest_first("q", None, None)] == [5, 4, 3, 2, 1]


def test_array_children_are_not_queue_entries() -> None:
    queues = QueueIndex()
    queues.add(job(1))
    queues.add(job(2, index=0))
    assert [j.sequence for j in queues.newest_first("q", None, None)] == [1]


def test_a_page_says_whether_more_follow() -> None:
    queues = QueueIndex()
    for n in range(1, 8):
        queues.add(job(n))
    page, more = queues.page("q", "SUCCEEDED", None, 3, lambda j: j.sequence % 2 == 1)
    assert ([j.sequence for j in page], more) == ([7, 5, 3], True)
    page, more = queues.page("q", "SUCCEEDED", 3, 3, lambda j: j.sequence % 2 == 1)
    assert ([j.sequence for j in page], more) == ([1], False)
