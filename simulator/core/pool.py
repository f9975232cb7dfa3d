"""Worker processes that stop when the user does.

Every command that fans work out to processes (`reproduce`'s draws, `project`'s samples,
`sweep`'s points) does it through `process_pool`: the workers ignore SIGINT, so Ctrl-C
reaches only the main process; there it leaves the `with` block, and the pool cancels
what has not started and terminates the workers at once, instead of waiting for every
queued task as `ProcessPoolExecutor.__exit__` does (issue 23: `project` ran 60 s past
Ctrl-C). The CLI turns the interruption into exit code 130 (simulator/cli).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

#: Seconds to wait for a terminated worker to exit.
JOIN_S = 2.0


def _start(initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides; it terminates us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker would inherit the CLI's handler
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def process_pool(workers: int, context=None, initializer: Callable | None = None,
                 initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A ProcessPoolExecutor of `workers` processes (`context`: a multiprocessing context)
    that, when the block raises (KeyboardInterrupt included), cancels the queued tasks and
    terminates its workers before re-raising; on success it waits for them as usual."""
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start,
                               initargs=(initializer, initargs))
    try:
        yield pool
    except BaseException:
        stop(pool, before)
        raise
    pool.shutdown(wait=True)


def stop(pool: ProcessPoolExecutor, before: set) -> None:
    """Cancel what has not started and end the workers now: every child process started
    since `before` (the pool's workers, registered or still being)."""
    procs = [p for p in multiprocessing.active_children() if p not in before]
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(JOIN_S)
        if p.is_alive():  # still running its task (a handler of its own): no more waiting
            p.kill()
            p.join(JOIN_S)
