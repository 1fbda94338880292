"""The part of the Step Functions adapter the others build on: the `Driver` the emulator gives it (a registry:
the newest live one serves executions), the account an execution acts as, botocore's operation models, and
waits that block an execution's thread until the emulator's clock reads a time, a job ends or the execution
stops. Imports the standard library, botocore and moto (lazily) and moto_hooks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from batchemu.integrations.moto_hooks import Registry


class Cancel(Protocol):
    def cancel(self) -> None: ...


class Driver(Protocol):
    """What the interpreter needs of the emulator."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancel: ...

    def client(self, service: str, region: str, account: str) -> Any: ...

    def on_job_end(self, account: str, region: str, job_id: str, callback: Callable[[], None]) -> Cancel: ...


_drivers: Registry[Any] = Registry()


def add_driver(driver: Driver) -> None:
    _drivers.add(driver)


def remove_driver(driver: Driver) -> None:
    _drivers.remove(driver)


def current_driver() -> Any:
    return _drivers.newest()


def account_of(role_arn: str | None, default: str = "123456789012") -> str:
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() and len(parts[4]) == 12 else default


@cache
def operation_model(service: str, action: str) -> Any:
    """botocore's model of `action` (snake_case, e.g. submit_job) of `service`, or None."""
    import botocore.session
    from botocore import xform_name

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:
        return None
    for name in model.operation_names:
        if xform_name(name) == action or name == action:
            return model.operation_model(name)
    return None



# -- waiting on the emulator's clock and on jobs -----------------------------------------------------------
def hook_environment() -> None:
    """Every change of an execution's program state (ended, failed, stopped, timed out) also wakes the
    waits registered on that environment, so a wait never polls for a stop."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    for name in ("set_ended", "set_error", "set_timed_out", "set_stop"):
        original = getattr(Environment, name)

        def wrapper(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            try:
                return __original(self, *args, **kwargs)
            finally:
                for woken in list(getattr(self, "_batchemu_wakers", ())):
                    woken.set()

        setattr(Environment, name, wrapper)


def wait_until(env: Any, when: float, also: Callable[[Callable[[], None]], Cancel] | None = None) -> bool:
    """Blocks the calling execution thread until the emulator's clock reads `when`, the execution (or its
    frame) stops running, or `also` (given the waker) fires; True when it woke on time or by `also`."""
    driver = current_driver()
    woken = threading.Event()
    wakers: set[threading.Event] = env.__dict__.setdefault("_batchemu_wakers", set())
    wakers.add(woken)
    handles: list[Cancel] = []
    try:
        if driver is not None and when != float("inf"):
            handles.append(driver.call_at(when, woken.set))
        if also is not None:
            handles.append(also(woken.set))
        while env.is_running() and not woken.is_set():
            woken.wait(5.0)  # the timer or a state change sets it; the timeout is only a safety net
        return woken.is_set() and env.is_running()
    finally:
        wakers.discard(woken)
        for handle in handles:
            handle.cancel()


def now() -> float:
    driver = current_driver()
    if driver is None:
        import time

        return time.time()
    return float(driver.now())


class _NoTimer:
    def cancel(self) -> None:
        pass


def call_at(when: float, callback: Callable[[], None]) -> Cancel:
    driver = current_driver()
    if driver is None or when == float("inf"):
        return _NoTimer()
    return driver.call_at(when, callback)  # type: ignore[no-any-return]



