"""The RequestContext handed to every handler, and the table from operation name to handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.clock import Clock, to_millis
from batchemu.domain.store import Backend
from batchemu.errors import ClientException

Request = dict[str, Any]
Result = dict[str, Any]


@dataclass
class RequestContext:
    account: str
    region: str
    request_id: str
    backend: Backend
    clock: Clock
    # Called after a handler changed state the scheduler should look at.
    wake: Callable[[], None] = field(default=lambda: None)
    # Emulator-wide hooks a handler may need (runner name, limits); read only.
    settings: Any = None

    @property
    def now_ms(self) -> int:
        return to_millis(self.clock.now())


Handler = Callable[[RequestContext, Request], Result]


class NotImplementedOperation(ClientException):
    pass


def operation_table() -> dict[str, Handler]:
    """Operation name -> handler, for every operation some service module implements."""
    from batchemu.service import extras, jobs, resources

    table: dict[str, Handler] = {}
    for module in (resources, jobs, extras):
        table.update(module.HANDLERS)
    return table


def dispatch(table: dict[str, Handler], operation: str, ctx: RequestContext, request: Request) -> Result:
    handler = table.get(operation)
    if handler is None:
        raise NotImplementedOperation(f"The operation {operation} is not supported by batchemu yet")
    return handler(ctx, request)
