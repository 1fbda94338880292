"""The composition root: wires settings, clock, store, runner and scheduler, and runs the scheduler loop
(one thread, woken after mutating requests, else every tick interval)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from batchemu.clock import Clock, FakeClock, SystemClock, to_millis
from batchemu.config import Settings
from batchemu.domain.host_access import HostAccessPolicy
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend, Store
from batchemu.errors import ConfigurationError
from batchemu.integrations import cloudformation, eventbridge, moto_lambda, stepfunctions
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.cloudwatch_logs import IDLE_BATCH, LogShipper, followed, transition_listener
from batchemu.integrations.ecs_clusters import EcsClusters
from batchemu.integrations.lambda_destinations import LambdaDestinations
from batchemu.integrations.log_sinks import MotoLogSink, choose_sink, moto_mock_active
from batchemu.integrations.origins import Origins
from batchemu.integrations.outbox import Outbox
from batchemu.integrations.schedules import ScheduleTimers
from batchemu.moto_saver import MotoSaver
from batchemu.persistence import StateDir
from batchemu.runners.base import Runner
from batchemu.runners.simulated import SimulatedRunner
from batchemu.runners.tasks import TaskRunner
from batchemu.scheduler.core import REALISTIC_DWELL_SECONDS, Scheduler
from batchemu.scheduler.recovery import reconcile
from batchemu.scheduler.specs import Launch, saved_task_spec
from batchemu.service.extras import settle_extras
from batchemu.timers import Timers

log = logging.getLogger("batchemu")


_SAID_AT_INFO = ("RUNNING", "SUCCEEDED", "FAILED")


def _log_transition(job: Job, old_status: str) -> None:
    """One line per transition: INFO when a job starts running, ends, or stays where it is with a reason
    (blocked); DEBUG for the steps between (SUBMITTED -> RUNNABLE -> STARTING: /_batchemu/jobs/<id>/history
    and the dashboard keep them), and for every step of an array child (10,000 of them would bury the rest
    of the log; the parent's lines and its statusSummary speak for them)."""
    status = job.status
    child = job.array_index is not None and job.parent_id is not None
    if (status in _SAID_AT_INFO or status == old_status) and not child:
        level = logging.INFO
    else:
        level = logging.DEBUG
    if log.isEnabledFor(level):
        log.log(level, "job %s (%s) %s -> %s", job.id, job.name, old_status, status)


def make_runner(
    settings: Settings, clock: Clock, wake: Callable[[], None] | None = None, state_id: str | None = None
) -> Runner:
    """The runner settings ask for; with none asked, Docker when an engine answers, else simulated.
    `state_id` labels Docker containers that the state directory may re-attach after a restart."""
    placeholder = f"http://127.0.0.1:{settings.port}"  # replaced by bind_endpoint once listening
    runner = settings.runner
    if runner is None:
        runner = "docker" if docker_engine_answers() else "simulated"
        if runner == "simulated":
            log.warning("no Docker engine answers; jobs run on the simulated runner (see --runner)")
    if runner == "simulated":
        return SimulatedRunner(clock)
    if runner == "process":
        from batchemu.runners.process import ProcessRunner

        return ProcessRunner(placeholder)
    if runner == "docker":
        from batchemu.runners.docker import DockerRunner

        try:
            return DockerRunner(
                placeholder,
                network=settings.docker_network,
                keep_containers=settings.keep_containers,
                on_change=wake,
                state_id=state_id,
                state_path=settings.state_dir,
            )
        except Exception as error:
            raise ConfigurationError(
                f"--runner docker needs a Docker engine, and none answers ({error}). Start one (for example "
                "`scripts/docker-setup`, or `sudo systemctl start docker`), or use --runner process or simulated"
            ) from None
    if runner == "swarm":
        return _swarm_runner(settings, placeholder, wake)
    raise ConfigurationError(f"Unknown runner {runner!r}; choose one of docker, process, simulated, swarm")


def _swarm_runner(settings: Settings, placeholder: str, wake: Callable[[], None] | None) -> Runner:
    from batchemu.runners.swarm import SwarmRunner

    try:
        return SwarmRunner(
            placeholder,
            docker_host=settings.docker_host,
            job_endpoint=settings.job_endpoint,
            network=settings.docker_network,
            keep_services=settings.keep_containers,
            on_change=wake,
        )
    except Exception as error:
        raise ConfigurationError(
            f"--runner swarm needs a Docker Swarm manager at --docker-host / DOCKER_HOST ({error}); "
            "for one on this machine see `scripts/local-swarm up 3`"
        ) from None


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _handle(job: Job) -> object | None:
    attempt = job.current_attempt
    return attempt.run_handle if attempt is not None else None


class Emulator:
    def __init__(
        self, settings: Settings | None = None, clock: Clock | None = None, runner: Runner | None = None
    ):
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        self._moves = 0  # job transitions so far (the loop's measure of a burst of submissions)
        self.store = Store(listeners=[self._on_move])
        self._wakeup = threading.Event()
        self.timers = Timers(self.clock, self.wake)
        self.origins = Origins()  # which execution, rule or schedule started a job (the dashboard's links)
        self.state: StateDir | None = StateDir(self.settings.state_dir) if self.settings.state_dir else None
        state_id = self.state.identity if self.state is not None else None
        # Every runner runs multi-container jobs through TaskRunner (runners/tasks.py).
        self.runner: Runner = TaskRunner(
            runner or make_runner(self.settings, self.clock, self.wake, state_id)
        )
        dwell = REALISTIC_DWELL_SECONDS if self.settings.pace == "realistic" else None
        launch = Launch(
            job_secret=self.settings.internal_secret,
            host_access=HostAccessPolicy(self.settings.allow_privileged, self.settings.allowed_host_paths),
        )
        self.scheduler = Scheduler(self.store, self.runner, dwell, settlers=[settle_extras], launch=launch)
        # moto's services are saved with Batch's state, unless another endpoint (--aws-endpoint) serves them
        self.moto_saver: MotoSaver | None = None
        if self.state is not None:
            now = to_millis(self.clock.now())
            self.state.attach(self.store, self.scheduler.placer.fleets, now)
            launch = self.scheduler.placer.launch
            reconcile(self.store, self.runner, now, lambda backend, job: saved_task_spec(backend, job, launch))
            if not self.settings.aws_endpoint:
                self.moto_saver = MotoSaver(self.state)
                self.moto_saver.load()
            self.save()
        remove_orphans = getattr(self.runner, "remove_orphans", None)
        if remove_orphans is not None and runner is None:  # after reconcile: re-attached ones are ours
            try:
                remove_orphans()
            except Exception as error:  # never a reason not to start
                log.warning("could not look for containers of servers that are gone: %s", error)
        self.endpoint: str | None = None
        self._integrations: list[LogShipper | EcsClusters] = []
        self._clusters: EcsClusters | None = None
        self._shipper: LogShipper | None = None
        self._events: eventbridge.JobStateEvents | None = None
        self._stepfunctions: stepfunctions.StepFunctionsDriver | None = None
        self._stacks: cloudformation.BatchResources | None = None  # AWS::Batch::* in CloudFormation stacks
        self.schedules: ScheduleTimers | None = None  # scheduled rules and Scheduler schedules
        self._lambda: moto_lambda.LambdaContainers | None = None
        self.outbox = Outbox()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepting = True  # False from the start of shutdown(): Batch requests are refused

    @classmethod
    def for_tests(cls, **settings: object) -> Emulator:
        """A simulated-runner emulator on a FakeClock; drive it with step() / run_until_idle()."""
        return cls(Settings(runner="simulated", **settings), clock=FakeClock())  # type: ignore[arg-type]

    def bind_endpoint(self, endpoint: str) -> None:
        """Called once the server listens: job containers reach the emulator there, and the emulator's
        own writes to other services (logs, ECS clusters) go there, or to --aws-endpoint."""
        if self.endpoint is not None:
            return
        self.endpoint = endpoint
        set_endpoint = getattr(self.runner, "set_endpoint", None)
        if set_endpoint is not None:
            set_endpoint(self.settings.job_endpoint or endpoint)
        clients = AwsClients(self.settings.aws_endpoint or endpoint, self.settings.internal_secret)
        saver = self.moto_saver
        on_write = (lambda: saver.touch("logs")) if saver is not None else None
        sink = choose_sink(clients, in_process_moto=not self.settings.aws_endpoint, on_write=on_write)
        # Lines in this process's moto are read only through this server (unless moto's own mock_aws
        # intercepts the reads): their writing may wait for a read or an idle moment.
        defer = (lambda: not moto_mock_active()) if isinstance(sink, MotoLogSink) else (lambda: False)
        shipper = LogShipper(self.runner, sink, defer_final=defer, between_ticks=self.store.lock)
        self._shipper = shipper
        self.store.listeners.append(transition_listener(shipper))
        hook_moto = not self.settings.aws_endpoint
        events = eventbridge.connect(
            self.store, clients, endpoint, self.outbox, hook_moto=hook_moto, origins=self.origins
        )
        self._events = events
        self.store.listeners.append(events.on_transition)
        if hook_moto:  # with --aws-endpoint executions, rules, schedules and functions are the other emulator's
            self._stepfunctions = stepfunctions.connect(
                self.store, self.clock, self.timers, endpoint, self.settings.internal_secret, self.origins
            )
            self.schedules = ScheduleTimers.connect(self.clock, self.timers, self.outbox, clients, self.origins)
            # Lambda functions run in containers that reach this endpoint as job containers do.
            job_endpoint = self.settings.job_endpoint or endpoint
            destinations = LambdaDestinations(clients)
            timers, outbox = self.timers, self.outbox
            lambda_hooks = moto_lambda.AsyncHooks(
                now=self.clock.now,
                later=lambda seconds, task: timers.call_later(seconds, lambda: outbox.put(task)),
                deliver=destinations.deliver,
            )
            self._lambda = moto_lambda.connect(
                job_endpoint, self.settings.internal_secret, self.settings.docker_network, lambda_hooks
            )
            self._stacks = cloudformation.BatchResources(
                self.store, self.clock, self.settings, lambda: self.scheduler.settlers, self._changed
            )
            cloudformation.connect(self._stacks)
        self.outbox.every_interval(shipper.ship)
        with self.store.lock:  # work re-attached after a restart keeps its logs flowing
            for backend in self.store.backends():
                for job in backend.jobs_by_status["RUNNING"].values():
                    attempt = job.current_attempt
                    if attempt is not None and attempt.run_handle is not None:
                        for group, stream, handle in followed(job, attempt):
                            shipper.track(backend.account, backend.region, group, stream, handle)
        # Clusters in this process's moto, read only through this server, are made when ECS is first asked.
        lazy = (lambda: not moto_mock_active()) if hook_moto else (lambda: False)
        clusters = EcsClusters(clients, self.outbox, lazy=lazy)
        self.scheduler.settlers.insert(0, clusters.sync)  # else the cluster exists before the CE is VALID
        self._clusters = clusters
        self._integrations = [shipper, clusters]

    def flush(self) -> None:
        """Finishes pending writes to other services now (log lines, ECS clusters); for tests."""
        self.flush_logs()
        self.outbox.flush()

    def flush_logs(self, stream: tuple[str, str] | None = None) -> None:
        """Writes the last log lines of ended attempts that wait for a read (integrations/cloudwatch_logs):
        of one (log group, stream), or all; called before every CloudWatch Logs request this server answers."""
        if self._shipper is not None and self._shipper.waiting:
            self._shipper.flush_finished(stream)

    def before_ecs(self) -> None:
        """Called before every ECS request this server answers: the compute environments' clusters not
        made yet are made now (integrations/ecs_clusters)."""
        if self._clusters is not None:
            self._clusters.materialise()

    def _idle_writes_due(self) -> bool:
        """Last lines wait and idle moments write them: not while moto's logs backend is not loaded (nothing
        can have read logs through this server yet; loading it would stall the requests of that moment,
        and any read, flush or the bound on waiting lines still writes them)."""
        shipper = self._shipper
        if shipper is None or not shipper.waiting:
            return False
        return not isinstance(shipper.sink, MotoLogSink) or shipper.sink.loaded()

    def _write_some_waiting_logs(self) -> None:
        """The scheduler is idle: IDLE_BATCH of the waiting last lines are written now."""
        if self._shipper is not None and self._idle_writes_due():
            self._shipper.flush_finished(limit=IDLE_BATCH)

    # -- the loop --------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="batchemu-scheduler", daemon=True)
            self._thread.start()
            self.outbox.start()
        return self

    def stop(self) -> None:
        self._stop_loop()
        self._close_integrations()
        # Waiting last lines are written when moto's logs backend is loaded; else nothing in this process
        # has read logs, and loading it (a second) to write lines no one can read through us is skipped.
        if self._idle_writes_due():
            self.flush_logs()
        self.outbox.stop()
        self.runner.close()
        if self.state is not None:
            self.save()
        if self.moto_saver is not None:
            self.moto_saver.flush()

    def shutdown(self, why: str, leave_running: bool = False, seconds: float = 3.0) -> str:
        """The graceful end of a server (SIGTERM, SIGINT), within about `seconds`: the scheduler stops;
        every live attempt is stopped and its job fails with a reason naming `why`, unless a state
        directory will re-attach it (`leave_running`, on a runner that can); logs and events are flushed;
        state is saved. Returns one line saying what was done."""
        deadline = time.monotonic() + seconds
        self.accepting = False
        self._stop_loop()
        self._close_integrations()
        leave = leave_running and self.state is not None and hasattr(self.runner, "find_running")
        with self.store.lock:
            live = [
                (backend, job)
                for backend in self.store.backends()
                for status in ("STARTING", "RUNNING")
                for job in backend.jobs_by_status[status].values()
            ]
        took = [time.monotonic()]
        if live and not leave:
            handles = [handle for _, job in live if (handle := _handle(job)) is not None]
            self.runner.halt(handles, timeout=max(0.5, (deadline - time.monotonic()) * 0.5))
            self._fail_live(live, f"batchemu shut down ({why}) and stopped the job's container")
        took.append(time.monotonic())
        # Last lines still waiting for a reader are not written: they wait only when the logs live in this
        # process's moto, which ends with it (up to 100,000 of them would cost seconds for nobody).
        self.outbox.stop(deadline_seconds=max(0.5, deadline - time.monotonic() - 0.5))
        took.append(time.monotonic())
        self.runner.close(leave_running=leave)
        took.append(time.monotonic())
        if self.state is not None:
            self.save()
        if self.moto_saver is not None:
            self.moto_saver.flush()
        log.debug(
            "shutdown: jobs stopped in %.2f s, outbox in %.2f s, runner closed in %.2f s",
            *(b - a for a, b in zip(took, took[1:], strict=False)),
        )
        jobs = f"{len(live)} running job{'s' if len(live) != 1 else ''}"
        if not live:
            done = "no job was running"
        elif leave:
            done = f"left {jobs} for the next start to re-attach"
        else:
            done = f"stopped {jobs} and failed {'them' if len(live) != 1 else 'it'}"
        dropped = f", {self.outbox.dropped} writes dropped" if self.outbox.dropped else ""
        return f"{done}; logs flushed{dropped}"

    def _close_integrations(self) -> None:
        """Rules, schedules, executions and functions stop reaching this emulator (another may serve the same ARNs)."""
        if self._events is not None:
            self._events.close()
        if self.schedules is not None:
            self.schedules.close()
        if self._stepfunctions is not None:
            self._stepfunctions.close()
        if self._lambda is not None:
            moto_lambda.disconnect(self._lambda)
            self._lambda = None
        if self._stacks is not None:
            cloudformation.disconnect(self._stacks)

    def _fail_live(self, live: list[tuple[Backend, Job]], reason: str) -> None:
        now = to_millis(self.clock.now())
        with self.store.lock:
            for backend, job in live:
                if job.status not in ("STARTING", "RUNNING"):
                    continue
                handle = _handle(job)
                state = self.runner.poll(handle) if handle is not None else None
                exit_code = state.exit_code if state is not None else None
                container_reason = state.reason if state is not None else None
                backend.move(
                    job,
                    JobEvent.TERMINATED,
                    now,
                    reason=reason,
                    exit_code=exit_code,
                    container_reason=container_reason,
                )

    def _stop_loop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        if not self._wakeup.is_set():  # set already: the loop will tick (Event.set takes a lock and notifies)
            self._wakeup.set()

    def _on_move(self, backend: Backend, job: Job, old_status: str) -> None:
        """Every transition: counted (the loop's measure of a burst) and logged."""
        self._moves += 1
        _log_transition(job, old_status)

    def _changed(self) -> None:
        """Resources changed outside a Batch request (a CloudFormation stack): saved, and the loop woken."""
        self.save()
        self.wake()

    def _loop(self) -> None:
        burst = False  # requests woke the loop while it was ticking
        jobs_moved_at: float | None = None  # when the last round that moved jobs ended
        coalesce = self.settings.wake_coalesce_seconds
        moving = False  # the last round ended with jobs still moving: the next one starts at once
        while not self._stopping.is_set():
            logs_wait = self._idle_writes_due()  # then idle ticks write them
            if self._wakeup.wait(0 if logs_wait or moving else self._sleep_seconds()):
                # Requests wake the loop once answered. When they came while it ticked (a burst), or
                # soon after a round that moved jobs (jobs being submitted), a short pause lets more
                # of them share the next round instead of each paying for its own (the threads share
                # one GIL); otherwise (a resource created, a lone job) the change moves at once.
                since = time.monotonic() - jobs_moved_at if jobs_moved_at is not None else coalesce
                pause = coalesce if burst else coalesce - since
                if pause > 0:
                    self._stopping.wait(pause)
            self._wakeup.clear()
            moves = self._moves
            moving = False
            try:
                # Keep stepping while things move, so a job flows through its states promptly.
                for _ in range(100):
                    if self._stopping.is_set():
                        break
                    if not self.step():
                        self._write_some_waiting_logs()
                        break
                    # Let go of the interpreter between ticks: a request waiting for the store lock
                    # gets it now, instead of after however many ticks this loop can take in a row.
                    time.sleep(0)
                else:  # a hundred ticks that each moved something: more to do, not a tick interval away
                    moving = True
            except Exception:
                log.exception("scheduler tick failed")
            if self.moto_saver is not None:
                self.moto_saver.flush_due()
            burst = self._wakeup.is_set()
            if self._moves != moves:
                jobs_moved_at = time.monotonic()

    def _sleep_seconds(self) -> float:
        """Until the next tick, or sooner when a timer is due sooner (on the system clock)."""
        due = self.timers.next_due()
        if due is None or self.clock.is_fake:
            return self.settings.tick_interval
        return max(0.0, min(self.settings.tick_interval, due - self.clock.now()))

    # -- for tests and tools ---------------------------------------------------------------------
    def step(self) -> bool:
        fired = self.timers.run_due()
        changed = self.scheduler.tick(self.clock.now()) or fired > 0
        if changed:
            self.save()
        return changed

    def save(self, resources: bool = True) -> None:
        """Writes what changed to the state directory, when there is one."""
        if self.state is not None:
            self.state.save(self.store, resources, self.scheduler.placer.fleets)

    def run_until_idle(self, max_ticks: int = 10_000) -> int:
        """Tick until nothing changes; returns the ticks taken."""
        for count in range(1, max_ticks + 1):
            if not self.step():
                return count
        raise RuntimeError(f"still changing after {max_ticks} ticks")

    def advance(self, seconds: float) -> None:
        if not isinstance(self.clock, FakeClock):
            raise ConfigurationError("the clock can only be advanced when it is fake")
        self.clock.advance(seconds)
        self.wake()

    def reset(self) -> None:
        """Clears every resource and job (and what the integrations remember of them)."""
        with self.store.lock:
            self.store.reset()
            self.scheduler.placer.reset()
            if self.state is not None:
                self.state.clear()
            if isinstance(self.clock, FakeClock):
                self.clock.restart()
            for integration in self._integrations:
                integration.reset()
            self.origins.reset()
        if self._stepfunctions is not None:  # before the timers go: their waits end with their executions
            self._stepfunctions.reset()
        self.timers.clear()  # times on the old clock mean nothing now
        if self.schedules is not None:
            self.schedules.reset()

    def after_import(self) -> None:
        """A snapshot replaced the state: lost work is failed or retried, timers re-armed from moto, and
        the state directory (when there is one) holds the new state."""
        with self.store.lock:
            for backend in self.store.backends():
                backend.changed_jobs = set() if self.store.tracks_changes else None
        reconcile(self.store, self.runner, to_millis(self.clock.now()))
        if self.schedules is not None:
            self.schedules.reset()
        if self.state is not None:
            self.state.save_all(self.store, self.scheduler.placer.fleets)
        if self.moto_saver is not None:
            self.moto_saver.save_everything()
        self.wake()

    def instances(self) -> list[dict[str, Any]]:
        """Every container instance of every MANAGED EC2/SPOT compute environment, with its jobs."""
        with self.store.lock:
            return [
                {"account": backend.account, "region": backend.region, **row}
                for backend in self.store.backends()
                for row in self.scheduler.placer.fleets.describe(backend)
            ]

    def terminate_instances(
        self, instance_id: str | None = None, compute_environment: str | None = None, spot_only: bool = False
    ) -> list[str]:
        """Ends instances on purpose: one by id, or all (all Spot ones with `spot_only`) of a compute
        environment (name or ARN). Their jobs fail with `Host EC2 (instance i-...) terminated.` and are
        retried by their retry strategy. Returns the ids of the jobs that were on them."""
        fleets = self.scheduler.placer.fleets
        hit: list[str] = []
        with self.store.lock:
            now = to_millis(self.clock.now())
            for backend in self.store.backends():
                environment = (
                    backend.find_compute_environment(compute_environment) if compute_environment else None
                )
                for fleet in list(fleets.fleets.values()):
                    for instance in list(fleet.instances.values()):
                        chosen = instance.instance_id == instance_id or (
                            environment is not None
                            and instance.compute_environment_arn == environment.arn
                            and (instance.spot or not spot_only)
                        )
                        if (
                            chosen
                            and f":{backend.region}:{backend.account}:" in instance.compute_environment_arn
                        ):
                            jobs = fleets.terminate(backend, instance, now, self.scheduler.stop_attempt)
                            hit.extend(job.id for job in jobs)
        self.save()
        self.wake()
        return hit

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
