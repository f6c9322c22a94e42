"""Independent tasks on the job's threads, taken one at a time as threads free up (dynamic scheduling).

A static split of the work between threads stalls when another process takes a core: every parallel region
waits for its slowest thread. Tasks handed out one by one let a thread that runs keep taking work, so the wall
time stays close to CPU time / threads on a shared machine. Results come back in task order, so anything summed
from them does not depend on which thread ran what. The compiled kernels called by tasks release the GIL
(numba ``nogil``; torch operators), so threads run them in parallel.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from numba import get_num_threads


def job_threads() -> int:
    """The job's threads (numba's thread count, which ``stages.common.set_threads`` sets)."""
    return max(1, int(get_num_threads()))


def run_tasks(tasks: Sequence[Callable[[], Any]], threads: int | None = None) -> list[Any]:
    """Run ``tasks`` (largest first is best) on ``threads`` threads (default: the job's), each thread taking the
    next task when it finishes one; returns their results in task order."""
    threads = job_threads() if threads is None else max(1, int(threads))
    if threads == 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(max_workers=min(threads, len(tasks))) as pool:
        futures = [pool.submit(t) for t in tasks]
        return [f.result() for f in futures]


class Workspace(threading.local):
    """Per-thread scratch arrays, built on first use in each thread by ``make``."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._value = None

    def get(self) -> Any:
        if self._value is None:
            self._value = self._make()
        return self._value
