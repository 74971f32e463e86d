"""vtdlabtool.forked: the exit statuses of children run from several
threads at once through one fork server (how tools/run-tests runs the
tool), against multiprocessing's own start and join on the same server,
which lose some (exit status 255).

The race is a read of a child's status by a thread starting another child
while the child's own thread reads it. Here a thread that waited for a
child to end holds STATUS_READ_DELAY_S before it reads the status, so the
window is wide: without it, 48 children four at a time lost a status only
every other run; with it, 8 children lost one in each of 8 runs here
without the lock, and none with it.
"""
import multiprocessing.connection
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vtdlabtool import forked

THREADS = 4
CHILDREN = 8
STATUS_READ_DELAY_S = 0.02


@pytest.fixture(scope="module")
def server():
    # ForkServer.start() renames the main module (pytest's) for the
    # children; the name comes back after these tests.
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    s = forked.ForkServer()
    s.start()
    yield s
    main.__spec__ = spec


@pytest.fixture
def slow_status_reads(monkeypatch):
    """A wait for a child's end (join's, with no time limit) holds before
    it returns; a poll (start()'s, with a limit of 0) does not."""
    wait = multiprocessing.connection.wait

    def slow(objects, timeout=None):
        ready = wait(objects, timeout)
        if ready and timeout is None:
            time.sleep(STATUS_READ_DELAY_S)
        return ready
    monkeypatch.setattr(multiprocessing.connection, "wait", slow)


def _lost(run):
    """The (expected, seen) exit statuses that differ when CHILDREN
    children, each exiting with a status of its own, run THREADS at a time."""
    def one(i):
        want = i % 100
        return want, run(os._exit, (want,))
    with ThreadPoolExecutor(THREADS) as pool:
        return [(want, seen) for want, seen in pool.map(one, range(CHILDREN)) if want != seen]


def _unlocked(server):
    """multiprocessing's own start and join, on the same fork server."""
    def run(target, args):
        p = server._context.Process(target=target, args=args)
        p.start()
        p.join()
        return p.exitcode
    return run


def test_without_the_lock_threads_lose_exit_statuses(server, slow_status_reads):
    """The control: the torture sees the race it is there for."""
    lost = _lost(_unlocked(server))
    assert lost, f"{CHILDREN} children run {THREADS} at a time without the lock lost no exit status"
    assert all(seen == 255 for _, seen in lost), lost


def test_every_exit_status_arrives_from_children_run_side_by_side(server, slow_status_reads):
    lost = _lost(server.run)
    assert not lost, f"(expected, seen) exit statuses: {lost}"


def test_a_child_ended_by_a_signal_gives_its_number_negated(server):
    assert server.run(signal.raise_signal, (signal.SIGTERM,)) == -signal.SIGTERM
