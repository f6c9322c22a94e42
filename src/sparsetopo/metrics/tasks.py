"""Independent tasks on the job's threads, taken one at a time as threads free up (dynamic scheduling).

A static split of the work between threads stalls when another process takes a core: every parallel region
waits for its slowest thread. Tasks handed out one by one let a thread that runs keep taking work, so the wall
time stays close to CPU time / threads on a shared machine. Results come back in task order, so anything summed
from them does not depend on which thread ran what. The compiled kernels called by tasks release the GIL
(numba ``nogil``; torch operators), so threads run them in parallel.

Both metric paths run their parallel work here: the explicit path's row-block kernels (:func:`run_blocks`: a
kernel over a range of the fixed ``BLOCKS`` row blocks, each block's partial result stored apart and combined in
block order) and the implicit path's chunks of representatives, nodes, samples and layers (:func:`run_tasks`).
The threads are one persistent pool per process (re-made after a fork or a change of the job's threads); a task
that itself runs tasks runs them inline, so pools never wait on themselves.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from numba import get_num_threads

#: Fixed number of row blocks of the block kernels: partial results are combined in block order, so they do not
#: depend on the number of threads or on how blocks are grouped into tasks.
BLOCKS = 256
#: Tasks per thread a block kernel is cut into (more: finer balance when a thread loses its core; fewer: less
#: hand-out overhead, some 10-30 µs per task).
TASKS_PER_THREAD = 8
#: Block kernels whose work (entries or rows visited) is below this run as one task in the calling thread.
MIN_PARALLEL_WORK = 1 << 17

_local = threading.local()
_state: dict[str, Any] = {"pool": None, "size": 0, "pid": 0}
_lock = threading.Lock()


def job_threads() -> int:
    """The job's threads (numba's thread count, which ``stages.common.set_threads`` sets)."""
    return max(1, int(get_num_threads()))


def _mark_worker() -> None:
    _local.worker = True


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None or _state["size"] != threads or _state["pid"] != os.getpid():
            if _state["pool"] is not None and _state["pid"] == os.getpid():
                _state["pool"].shutdown(wait=False)
            _state.update(pool=ThreadPoolExecutor(max_workers=threads, initializer=_mark_worker,
                                                  thread_name_prefix="sparsetopo-task"),
                          size=threads, pid=os.getpid())
        return _state["pool"]


def run_tasks(tasks: Sequence[Callable[[], Any]], threads: int | None = None) -> list[Any]:
    """Run ``tasks`` (largest first is best) on ``threads`` threads (default: the job's), each thread taking the
    next task when it finishes one; returns their results in task order."""
    threads = job_threads() if threads is None else max(1, int(threads))
    if threads == 1 or len(tasks) <= 1 or getattr(_local, "worker", False):
        return [t() for t in tasks]
    pool = _pool(threads)
    futures = [pool.submit(t) for t in tasks]
    return [f.result() for f in futures]


def block_ranges(work: float, threads: int | None = None, blocks: int = BLOCKS) -> list[tuple[int, int]]:
    """Consecutive ranges [lo, hi) of ``range(blocks)``: one when ``work`` is small or the job has one thread,
    else ``TASKS_PER_THREAD`` per thread."""
    threads = job_threads() if threads is None else max(1, int(threads))
    count = 1 if threads == 1 or work < MIN_PARALLEL_WORK else min(blocks, TASKS_PER_THREAD * threads)
    return [(blocks * i // count, blocks * (i + 1) // count) for i in range(count)]


def run_blocks(kernel: Callable[..., Any], *args: Any, work: float, blocks: int = BLOCKS,
               scratch: Callable[[], tuple] | None = None, threads: int | None = None) -> list[Any]:
    """``kernel(lo, hi, *args, *scratch)`` for block ranges covering ``range(blocks)`` (:func:`block_ranges`), as
    tasks; returns their results in block order. The kernel stores each block's result apart (so results do not
    depend on the ranges). ``scratch()``: per-thread work arrays, made once per thread and call."""
    space = Workspace(scratch) if scratch is not None else None

    def task(lo: int, hi: int) -> Callable[[], Any]:
        return lambda: kernel(lo, hi, *args, *(space.get() if space is not None else ()))
    return run_tasks([task(lo, hi) for lo, hi in block_ranges(work, threads, blocks)], threads)


class Workspace(threading.local):
    """Per-thread scratch arrays, built on first use in each thread by ``make``."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._value = None

    def get(self) -> Any:
        if self._value is None:
            self._value = self._make()
        return self._value
