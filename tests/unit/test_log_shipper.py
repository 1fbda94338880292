"""LogShipper: the last lines of an ended attempt, written at once or kept until flush_finished."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu.integrations import cloudwatch_logs
from batchemu.integrations.cloudwatch_logs import LogShipper
from batchemu.runners.base import LogEvent


class Lines:
    """A runner whose attempts are lists of lines; it remembers what it released."""

    def __init__(self) -> None:
        self.released: list[Any] = []

    def logs(self, handle: list[str], since: int) -> list[LogEvent]:
        return [LogEvent(1_000 + index, line) for index, line in enumerate(handle)][since:]

    def release(self, handle: list[str]) -> None:
        self.released.append(handle)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def create_group(self, account: str, region: str, group: str) -> None:
        self.calls.append(("group", group))

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None:
        self.calls.append(("stream", stream))

    def put(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self.calls.append(("put", stream, [event["message"] for event in events]))


def shipper(defer: bool) -> tuple[LogShipper, Lines, Recorder]:
    runner, sink = Lines(), Recorder()
    return LogShipper(runner, sink, defer_final=lambda: defer), runner, sink  # type: ignore[arg-type]


def test_without_deferral_the_last_lines_are_written_before_finish_returns() -> None:
    ship, runner, sink = shipper(defer=False)
    handle = ["a", "b"]
    ship.track("1", "r", "/g", "s1", handle)
    ship.finish(handle)
    assert sink.calls == [("group", "/g"), ("stream", "s1"), ("put", "s1", ["a", "b"])]
    assert runner.released == [handle]


def test_deferred_lines_are_taken_at_finish_and_written_in_order_by_flush_finished() -> None:
    ship, runner, sink = shipper(defer=True)
    first, second = ["a"], ["b", "c"]
    for stream, handle in (("s1", first), ("s2", second)):
        ship.track("1", "r", "/g", stream, handle)
    ship.ship()  # a round of the outbox while they run: the lines so far go out
    first.append("a2")  # written after that round, before the attempt ended
    ship.finish(first)
    ship.finish(second)
    assert runner.released == [first, second]  # the runner may drop them: the lines were taken
    assert ship.waiting == 2
    before = len(sink.calls)
    ship.flush_finished()
    assert sink.calls[before:] == [("put", "s1", ["a2"])]  # s2 had nothing new since the round
    assert ship.waiting == 0


def test_waiting_attempts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudwatch_logs, "MAX_FINISHED", 3)
    ship, _, sink = shipper(defer=True)
    handles = [[f"line {index}"] for index in range(3)]
    for index, handle in enumerate(handles):
        ship.track("1", "r", "/g", f"s{index}", handle)
        ship.finish(handle)
    assert ship.waiting == 2  # the third reached the bound: the oldest was written then
    assert [call for call in sink.calls if call[0] == "put"] == [("put", "s0", ["line 0"])]


def test_reset_drops_waiting_lines() -> None:
    ship, _, sink = shipper(defer=True)
    handle = ["a"]
    ship.track("1", "r", "/g", "s", handle)
    ship.finish(handle)
    ship.reset()
    ship.flush_finished()
    assert sink.calls == []


@pytest.mark.parametrize("defer", [True, False])
def test_a_round_that_listed_an_attempt_before_it_ended_sends_nothing_for_it(
    defer: bool, caplog: pytest.LogCaptureFixture
) -> None:
    ship, runner, sink = shipper(defer=defer)
    handle = ["a"]
    ship.track("1", "r", "/g", "s1", handle)
    listed = list(ship._tracked.values())  # what an outbox round took before the attempt ended
    ship.finish(handle)
    before = list(sink.calls)
    for shipment in listed:
        ship._send(shipment)
    assert sink.calls == before
    assert "could not ship logs" not in caplog.text


def test_a_round_lists_attempts_between_ticks_so_one_that_starts_and_ends_in_a_tick_is_taken_whole() -> None:
    import threading

    runner, sink = Lines(), Recorder()
    tick = threading.RLock()
    ship = LogShipper(runner, sink, defer_final=lambda: True, between_ticks=tick)  # type: ignore[arg-type]
    handle = ["a", "b"]
    with tick:  # the scheduler's tick: the attempt starts, a round comes, the attempt ends
        ship.track("1", "r", "/g", "s1", handle)
        round_ = threading.Thread(target=ship.ship)
        round_.start()
        round_.join(timeout=0.05)
        assert round_.is_alive()  # waits for the tick to end
        ship.finish(handle)
    round_.join()
    assert sink.calls == []  # nothing half-shipped: the lines wait whole for a read
    ship.flush_finished()
    assert sink.calls == [("group", "/g"), ("stream", "s1"), ("put", "s1", ["a", "b"])]


def test_a_round_lists_anyway_when_a_tick_holds_the_lock_too_long(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    from batchemu.integrations import cloudwatch_logs

    monkeypatch.setattr(cloudwatch_logs, "LISTING_WAIT_SECONDS", 0.01)
    runner, sink = Lines(), Recorder()
    tick = threading.RLock()
    ship = LogShipper(runner, sink, defer_final=lambda: True, between_ticks=tick)  # type: ignore[arg-type]
    ship.track("1", "r", "/g", "s1", ["a"])
    holder = threading.Thread(target=tick.acquire)
    holder.start()
    holder.join()  # another thread holds it and never lets go
    ship.ship()
    assert sink.calls == [("group", "/g"), ("stream", "s1"), ("put", "s1", ["a"])]
