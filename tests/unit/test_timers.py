"""The timer queue on the injected clock."""

from __future__ import annotations

from batchemu.clock import FakeClock
from batchemu.timers import Timers


def test_a_timer_runs_only_once_the_clock_reaches_its_time() -> None:
    clock = FakeClock(start=1000.0)
    timers = Timers(clock)
    fired: list[str] = []
    timers.call_at(1010.0, lambda: fired.append("a"))
    assert timers.run_due() == 0 and fired == []
    clock.advance(10)
    assert timers.run_due() == 1 and fired == ["a"]
    assert timers.run_due() == 0 and len(timers) == 0


def test_timers_run_earliest_first_and_cancelled_ones_never() -> None:
    clock = FakeClock(start=0.0)
    timers = Timers(clock)
    fired: list[int] = []
    timers.call_later(5, lambda: fired.append(5))
    timers.call_later(1, lambda: fired.append(1))
    timers.call_later(3, lambda: fired.append(3)).cancel()
    assert timers.next_due() == 1
    clock.advance(60)
    timers.run_due()
    assert fired == [1, 5]


def test_a_callback_that_fails_does_not_stop_the_others() -> None:
    clock = FakeClock(start=0.0)
    timers = Timers(clock)
    fired: list[str] = []
    timers.call_at(0, lambda: 1 / 0)
    timers.call_at(0, lambda: fired.append("after"))
    assert timers.run_due() == 2 and fired == ["after"]


def test_an_earlier_timer_wakes_the_loop() -> None:
    woken: list[bool] = []
    timers = Timers(FakeClock(start=0.0), wake=lambda: woken.append(True))
    timers.call_at(10, lambda: None)
    timers.call_at(20, lambda: None)
    timers.call_at(5, lambda: None)
    assert len(woken) == 2


def test_the_emulator_runs_due_timers_when_it_steps() -> None:
    from batchemu import Emulator

    emulator = Emulator.for_tests()
    fired: list[bool] = []
    emulator.timers.call_later(3600, lambda: fired.append(True))
    emulator.run_until_idle()
    assert fired == []
    emulator.advance(3600)
    emulator.run_until_idle()
    assert fired == [True]
