"""What every moto adapter (integrations/moto_*.py) shares: the moto version they were tested with, the one
warning when another runs, and the process-wide registry of the emulator-side parties they serve (moto keeps
one store per process; several emulators may live in it, and the newest live one wins). Imports the standard
library, and moto lazily."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger("batchemu.integrations")

TESTED_MOTO = "5.2.5"  # pyproject.toml pins moto to >=5.2.5,<5.3 because these adapters hook its internals

Party = TypeVar("Party")
_warned: set[str] = set()


def moto_version(feature: str) -> str | None:
    """moto's version, with one warning per feature when it is not the tested one; None (warned) when moto
    cannot be imported, so the feature stays as moto leaves it."""
    try:
        import moto
    except Exception as error:  # moto missing or broken: Batch itself still works
        log.warning("moto is unavailable (%s); %s will not work", error, feature)
        return None
    version = str(moto.__version__)
    if version != TESTED_MOTO and feature not in _warned:
        _warned.add(feature)
        log.warning("moto %s is untested (tested with %s); hooking %s anyway", version, TESTED_MOTO, feature)
    return version


def hook_point_missing(feature: str, what: str) -> None:
    """The warning when moto lacks what an adapter hooks: the feature is left as moto has it."""
    log.warning("moto %s has no %s (tested with %s); %s", _installed_version(), what, TESTED_MOTO, feature)


def _installed_version() -> str:
    try:
        import moto

        return str(moto.__version__)
    except Exception:
        return "?"


class Registry(Generic[Party]):
    """Parties registered by live emulators, held weakly (a dropped emulator's party goes with it)."""

    def __init__(self) -> None:
        self._refs: list[weakref.ref[Party]] = []
        self._lock = threading.Lock()

    def add(self, party: Party) -> None:
        with self._lock:
            self._refs.append(weakref.ref(party))

    def remove(self, party: Party) -> None:
        with self._lock:
            self._refs[:] = [ref for ref in self._refs if ref() is not None and ref() is not party]

    def live(self) -> list[Party]:
        """Newest first."""
        with self._lock:
            self._refs[:] = [ref for ref in self._refs if ref() is not None]
            found = [ref() for ref in reversed(self._refs)]
        return [party for party in found if party is not None]

    def newest(self) -> Party | None:
        live = self.live()
        return live[0] if live else None


def hook_methods(
    feature: str, owner: Any, owner_name: str, names: tuple[str, ...], wrap: Callable[[Any, str], Any]
) -> bool:
    """Replaces each method `names` of `owner` (a moto class) by `wrap(original, name)`; False, with the
    warning that `feature` stays as moto has it, when `owner` or one of them is missing (nothing replaced)."""
    missing = [name for name in names if not callable(getattr(owner, name, None))]
    if owner is None or missing:
        hook_point_missing(feature, f"{owner_name}.{'/'.join(missing or names)}")
        return False
    for name in names:
        setattr(owner, name, wrap(getattr(owner, name), name))
    return True
