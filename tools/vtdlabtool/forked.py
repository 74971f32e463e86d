"""Functions run in processes forked from one server process that imported
what they need already (multiprocessing's fork server), from several
threads at once: tools/run-tests runs the tool this way, about thirty
times a make test, without an interpreter to start and the tool to import
each time.

multiprocessing is not safe for that as it stands. A child's exit status
is one record the server writes on the child's sentinel, and reading it is
not locked: Process.start() in any thread first polls every child still
listed as running (its _cleanup), so a thread starting a child can read
the status that the child's own thread is reading at the same moment.
The thread left with nothing reads end-of-file, which multiprocessing
reports as exit status 255: a kernel run that passed failed make test
that way, in 2 of 10 make tests here. Here every read of a status
happens under one lock: start() under it, and join() under it once the
sentinel says the child has ended; the wait for the end is outside it,
so the children still run side by side.
"""
from __future__ import annotations

import importlib.machinery
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import sys
import threading
from typing import Callable, Sequence


# One for the process, as multiprocessing's list of children is.
_status_lock = threading.Lock()


class ForkServer:
    def __init__(self, preload: Sequence[str] = ()):
        """preload: modules the server imports once, for every child."""
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))

    def start(self) -> None:
        """Starts the server now rather than at the first child (before
        threads that run children exist). The main module is not imported
        again in each child: multiprocessing would for a main module it
        knows by path (its spawn.prepare), running a script's top level
        once a child."""
        sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("__main__", None)
        multiprocessing.forkserver.ensure_running()

    def run(self, target: Callable, args: tuple = ()) -> int:
        """target(*args) in a child: its exit status, a signal's number
        negated when one ended it."""
        p = self._context.Process(target=target, args=args)
        with _status_lock:
            p.start()
        multiprocessing.connection.wait([p.sentinel])
        with _status_lock:
            p.join()
        return p.exitcode
