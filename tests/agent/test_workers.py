"""The shared worker pool's ``run_all``: several objects can share one pool, each within its window."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from git_hf_agent.agent.workers import run_all


class Gate:
    """Items that block until released, recording how many ran at once and in which order they started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.peak = 0
        self.started: list[int] = []
        self.release = threading.Event()

    def __call__(self, item: int) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append(item)
        try:
            if item == 99:
                raise RuntimeError("item 99 failed")
            assert self.release.wait(10)
        finally:
            with self.lock:
                self.running -= 1


def test_window_bounds_the_items_running_and_keeps_their_order():
    pool = cf.ThreadPoolExecutor(max_workers=8)
    gate = Gate()
    threading.Timer(0.3, gate.release.set).start()
    run_all(pool, gate, range(20), threading.Event(), (), window=3)
    pool.shutdown()
    assert gate.peak == 3                      # never more than the window, though 8 workers were free
    assert gate.started == list(range(20))     # handed over in order (the in-order sha256 relies on it)


def test_two_objects_share_one_pool_side_by_side():
    """Two callers with a window of 2 on a pool of 4: both make progress at once (neither queues behind the other)."""
    pool = cf.ThreadPoolExecutor(max_workers=4)
    gates = [Gate(), Gate()]
    both = threading.Barrier(3)

    def first_item_waits_for_the_other(gate: Gate):
        def fn(item: int) -> None:
            if item == 0:
                both.wait(10)   # breaks (and fails the test) if the other object never starts
            gate(item)
        return fn

    threads = [threading.Thread(target=run_all, args=(pool, first_item_waits_for_the_other(g), range(6),
                                                      threading.Event(), ()), kwargs={"window": 2}) for g in gates]
    for t in threads:
        t.start()
    both.wait(10)
    for g in gates:
        g.release.set()
    for t in threads:
        t.join(10)
    pool.shutdown()
    assert [sorted(g.started) for g in gates] == [list(range(6))] * 2
    assert all(g.peak <= 2 for g in gates)


@pytest.mark.parametrize("window", [None, 2])
def test_a_failure_cancels_the_rest_and_is_raised(window):
    pool = cf.ThreadPoolExecutor(max_workers=4)
    gate = Gate()
    gate.release.set()
    cancel = threading.Event()
    with pytest.raises(RuntimeError, match="item 99 failed"):
        run_all(pool, gate, [0, 1, 99, *range(2, 40)], cancel, (), window=window)
    pool.shutdown()
    assert cancel.is_set()
    if window is not None:
        assert len(gate.started) < 43        # items after the failure were never handed over
