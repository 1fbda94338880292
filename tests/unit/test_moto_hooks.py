"""What the moto adapters share: the registry of live parties (newest live wins, held weakly) and the hook
installer that leaves moto alone when a hook point is missing."""

from __future__ import annotations

import gc
import logging

import pytest

from batchemu.integrations.moto_hooks import Registry, hook_methods


class Party:
    pass


def test_the_newest_live_party_wins_and_a_dropped_one_is_forgotten() -> None:
    registry: Registry[Party] = Registry()
    first, second = Party(), Party()
    registry.add(first)
    registry.add(second)
    assert registry.newest() is second
    registry.remove(second)
    assert registry.newest() is first
    del first
    gc.collect()
    assert registry.newest() is None and registry.live() == []


def test_hook_methods_replaces_every_method_or_none(caplog: pytest.LogCaptureFixture) -> None:
    class Backend:
        def put(self) -> str:
            return "put"

        def delete(self) -> str:
            return "delete"

    assert hook_methods("f", Backend, "Backend", ("put", "delete"), lambda original, name: lambda self: name.upper())
    assert Backend().put() == "PUT" and Backend().delete() == "DELETE"

    class Older:
        def put(self) -> str:
            return "put"

    with caplog.at_level(logging.WARNING):
        assert not hook_methods("rules stay as moto has them", Older, "Older", ("put", "gone"), lambda o, n: None)
    assert Older().put() == "put"
    assert "Older.gone" in caplog.text and "rules stay as moto has them" in caplog.text
