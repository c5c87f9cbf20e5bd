"""tuned_collector(): the collector set for long work inside, as found outside, whoever
leaves last (nested uses, threads)."""

from __future__ import annotations

import gc
import threading

from ledger_collect.runtime.collector import YOUNGEST, tuned_collector


def test_inside_the_collector_is_tuned_and_outside_as_found() -> None:
    found, frozen = gc.get_threshold(), gc.get_freeze_count()
    with tuned_collector():
        assert gc.get_threshold() == (YOUNGEST, *found[1:])
        assert gc.get_freeze_count() > frozen  # what was alive at entry
        with tuned_collector():  # nested: nothing changes, nor when it leaves
            assert gc.get_threshold() == (YOUNGEST, *found[1:])
        assert gc.get_threshold() == (YOUNGEST, *found[1:])
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == found
    assert gc.get_freeze_count() == frozen


def test_the_last_to_leave_restores_it_whichever_thread() -> None:
    found = gc.get_threshold()
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with tuned_collector():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(10)
    with tuned_collector():
        pass
    assert gc.get_threshold() == (YOUNGEST, *found[1:])  # the thread is still inside
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == found


def test_a_cycle_made_inside_is_still_collected() -> None:
    class Node:
        pass

    with tuned_collector():
        node = Node()
        node.me = node  # type: ignore[attr-defined]
        del node
        assert gc.collect() >= 1
