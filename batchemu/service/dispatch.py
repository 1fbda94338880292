"""The table from operation name to handler, built from the handler modules, and dispatch() over it.
Handlers never import this module: the types they share with it live in service/operation.py."""

from __future__ import annotations

from batchemu.errors import ClientException
from batchemu.service import extras, jobs, resources
from batchemu.service.operation import Handler, Request, RequestContext, Result


class NotImplementedOperation(ClientException):
    pass


def operation_table() -> dict[str, Handler]:
    """Operation name -> handler, for every operation some service module implements."""
    table: dict[str, Handler] = {}
    for module in (resources, jobs, extras):
        table.update(module.HANDLERS)
    return table


def dispatch(table: dict[str, Handler], operation: str, ctx: RequestContext, request: Request) -> Result:
    handler = table.get(operation)
    if handler is None:
        raise NotImplementedOperation(f"The operation {operation} is not supported by batchemu yet")
    return handler(ctx, request)
