"""Scheduler.tick(now): resources settle (CREATING -> VALID...), jobs leave SUBMITTED, wait on
dependencies, get placed on compute environments with capacity, and live attempts are polled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from batchemu.clock import to_millis
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend, Store
from batchemu.runners.base import Runner
from batchemu.scheduler import arrays, dependencies, lifecycle, multinode, resources, time_limits
from batchemu.scheduler.placement import Placer

log = logging.getLogger("batchemu.scheduler")

# Seconds a job dwells in a status before the scheduler moves it on, with `--pace realistic`: enough for
# code that polls every second or so to see every state, as it would on AWS.
REALISTIC_DWELL_SECONDS = {"SUBMITTED": 1.0, "PENDING": 0.0, "RUNNABLE": 1.0, "STARTING": 2.0}


Settler = Callable[[Backend, float], bool]


class Scheduler:
    def __init__(
        self,
        store: Store,
        runner: Runner,
        dwell_seconds: dict[str, float] | None = None,
        settlers: list[Settler] | None = None,
        launch: lifecycle.Launch | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        # Other resources that settle on the tick (CREATING -> VALID...), given by the composition root.
        self.settlers: list[Settler] = [resources.settle, *(settlers or [])]
        self.dwell_seconds = dict(dwell_seconds or {})
        self.placer = Placer(runner, self.dwell_ms, launch)

    def stop_attempt(self, job: Job) -> None:
        """Stops the runner's work for the job's live attempt (its host went away)."""
        lifecycle.stop_now(self.runner, job)

    def dwell_ms(self, status: str) -> int:
        return int(self.dwell_seconds.get(status, 0.0) * 1000)

    def tick(self, now: float) -> bool:
        """One step for everything; True when anything changed (so the caller may tick again soon)."""
        changed = False
        with self.store.lock:
            for backend in self.store.backends():
                for settle in self.settlers:
                    changed |= settle(backend, now)
                changed |= self._tick_backend(backend, to_millis(now))
        return changed

    def _tick_backend(self, backend: Backend, now: int) -> bool:
        """Each step looks only at what changed since the last tick (backend.work), never at every job
        that waits, so a tick costs the same with 20,000 RUNNABLE jobs as with none."""
        if backend.work.stale:
            backend.work.rebuild(backend.jobs_by_status)
        move = backend.move
        changed = arrays.advance_parents(backend, now, move)
        changed |= multinode.advance_parents(backend, now, move)
        changed |= self._leave_submitted(backend, now, move)
        changed |= dependencies.advance_pending(backend, now, move)
        changed |= lifecycle.advance_live(backend, now, self.runner, move, self.dwell_ms("STARTING"))
        changed |= self.placer.place_runnable(backend, now)
        changed |= time_limits.apply(backend, now)
        return changed

    def _leave_submitted(self, backend: Backend, now: int, move: Callable[..., None]) -> bool:
        dwell = self.dwell_ms("SUBMITTED")
        submitted = [
            j for j in backend.jobs_by_status["SUBMITTED"].values() if now - j.status_changed_at >= dwell
        ]
        for job in submitted:
            if job.is_array_parent:
                arrays.spawn_children(backend, job, now, move)
            elif dependencies.unmet(backend, job):
                move(job, JobEvent.WAIT_FOR_DEPENDENCIES, now)
            else:
                if job.is_multi_node_parent:
                    multinode.spawn_nodes(backend, job, now)
                move(job, JobEvent.READY, now)
        return bool(submitted)
