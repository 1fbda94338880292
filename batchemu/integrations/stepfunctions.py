"""Step Functions acting on batchemu: the emulator's side of moto's ASL interpreter (hooked in
moto_stepfunctions): its clients reach this endpoint, its waits run on the emulator's clock and timer queue,
and `.sync` Batch tasks wake on their job's terminal transition (a store listener), not by polling."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.config import Config

from batchemu.clock import Clock
from batchemu.domain.models import Job
from batchemu.domain.store import Backend, Store
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.moto_stepfunctions import (
    register_driver,
    stop_running_executions,
    unregister_driver,
)
from batchemu.integrations.origins import Origin, Origins
from batchemu.timers import Timer, Timers

TERMINAL = ("SUCCEEDED", "FAILED")
# A task may call a Lambda function that runs for up to 15 minutes; the service validates what is sent
# (a refused SubmitJob is the task's Batch.ClientException, not a client-side ParamValidationError).
TASK_CLIENT_CONFIG = Config(
    parameter_validation=False,
    retries={"max_attempts": 0, "total_max_attempts": 1},
    connect_timeout=10,
    read_timeout=960,
)

JobKey = tuple[str, str, str]  # account, region, job id


class _Registration:
    def __init__(self, waiters: JobWaiters, key: JobKey, callback: Callable[[], None]) -> None:
        self._waiters = waiters
        self._key = key
        self._callback = callback

    def cancel(self) -> None:
        self._waiters.forget(self._key, self._callback)


class JobWaiters:
    """Callbacks waiting for a job to reach SUCCEEDED or FAILED; `on_transition` is a store listener."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: dict[JobKey, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def on_job_end(
        self, account: str, region: str, job_id: str, callback: Callable[[], None]
    ) -> _Registration:
        """Calls `callback` once the job has ended (at once when it already has, or is unknown: the caller's
        DescribeJobs then says what there is)."""
        key = (account, region, job_id)
        with self.store.lock:  # no transition slips between the look and the registration
            job = self.store.backend(account, region).jobs.get(job_id)
            if job is not None and job.status not in TERMINAL:
                with self._lock:
                    self._waiting.setdefault(key, []).append(callback)
                return _Registration(self, key, callback)
        callback()
        return _Registration(self, key, callback)

    def forget(self, key: JobKey, callback: Callable[[], None]) -> None:
        with self._lock:
            callbacks = self._waiting.get(key)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._waiting[key]

    def on_transition(self, backend: Backend, job: Job, old_status: str) -> None:
        if job.status not in TERMINAL or not self._waiting:
            return
        with self._lock:
            callbacks = self._waiting.pop((backend.account, backend.region, job.id), [])
        for callback in callbacks:
            callback()

    def reset(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for callbacks in waiting.values():  # their jobs are gone: the waits wake and find nothing
            for callback in callbacks:
                callback()


class StepFunctionsDriver:
    """What moto's interpreter is given (moto_stepfunctions.Driver)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        timers: Timers,
        endpoint: str,
        secret_key: str,
        origins: Origins | None = None,
    ) -> None:
        self.clock = clock
        self.timers = timers
        self.clients = AwsClients(endpoint, secret_key, TASK_CLIENT_CONFIG)
        self.jobs = JobWaiters(store)
        self.origins = origins

    def now(self) -> float:
        return self.clock.now()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return self.timers.call_at(when, callback)

    def client(self, service: str, region: str, account: str) -> Any:
        return self.clients.client(service, account, region)

    def on_job_end(
        self, account: str, region: str, job_id: str, callback: Callable[[], None]
    ) -> _Registration:
        return self.jobs.on_job_end(account, region, job_id, callback)

    def job_submitted(self, job_id: str, execution_arn: str) -> None:
        if self.origins is not None and execution_arn:
            self.origins.note(job_id, Origin("execution", execution_arn, execution_arn.split(":")[-1]))

    def reset(self) -> None:
        """Running executions are stopped (their jobs and timers are going) and job waits released."""
        stop_running_executions("batchemu was reset")
        self.jobs.reset()

    def close(self) -> None:
        unregister_driver(self)
        self.jobs.reset()


def connect(
    store: Store, clock: Clock, timers: Timers, endpoint: str, secret_key: str, origins: Origins | None = None
) -> StepFunctionsDriver:
    """Hooks moto's interpreter to this emulator; the driver's job waiters listen to the store."""
    driver = StepFunctionsDriver(store, clock, timers, endpoint, secret_key, origins)
    store.listeners.append(driver.jobs.on_transition)
    register_driver(driver)
    return driver
