"""moto_log_streams.TrackedStreams: which streams changed, by any thread, until drained."""

from __future__ import annotations

import pickle

from batchemu.moto_log_streams import TrackedStreams


def test_every_way_of_changing_the_streams_names_the_stream() -> None:
    streams = TrackedStreams()
    streams["a"] = 1
    streams["b"] = 2
    streams["c"] = 3
    assert streams.drain() == {"a", "b", "c"}
    assert streams.drain() == set()
    del streams["a"]
    streams.pop("b")
    streams.pop("missing", None)
    streams.setdefault("d", 4)
    streams.update({"e": 5})
    assert streams.drain() == {"a", "b", "missing", "d", "c", "e"}
    streams.mark("c")
    streams.clear()
    assert streams.drain() == {"c", "d", "e"}


def test_made_from_a_dict_it_names_what_it_holds_and_pickles_by_value() -> None:
    streams = TrackedStreams({"a": 1})
    copy = pickle.loads(pickle.dumps(streams))
    assert type(copy) is TrackedStreams and dict(copy) == {"a": 1}
    assert copy.drain() == {"a"}
