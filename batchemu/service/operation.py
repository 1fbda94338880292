"""What every handler takes and returns: RequestContext, Request, Result and the Handler signature.
Below both dispatch.py (which builds the operation table) and the handler modules, so neither imports
the other's side; imports clock, domain.store and stdlib only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.clock import Clock, to_millis
from batchemu.domain.store import Backend

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
