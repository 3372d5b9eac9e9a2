"""Thread pools while torch_logreg computes: NumPy's BLAS on the calling thread between torch ops,
and torch on one thread for small data.

``nn.one_pass`` alternates NumPy products (OpenBLAS, in the NumPy wheels) with torch ops,
block after block.  A multi-threaded OpenBLAS hands each product to worker threads, which
then spin for the next job until OpenBLAS's thread timeout (2^28 cycles, about a tenth of a
second) before they sleep.  On a machine whose cores torch's OpenMP threads also use, every
torch parallel region in that time waits for a thread the spinning workers have pushed off a
core: the two pools oversubscribe the cores.  A product of one cache-sized block gains little
from a second thread anyway, so while we call it, OpenBLAS runs on the calling thread and
starts no spinning workers.

Lowering OpenBLAS's count does not stop workers that already spin (its ``goto_set_num_threads``
only stores the number), so the limit is taken before our first call, not after.  It is taken
through ``threadpoolctl``'s controllers, found once: a limit is two calls into OpenBLAS, about
a microsecond, where ``threadpoolctl.threadpool_limits`` scans every loaded library each time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import torch

_lock = threading.Lock()
_libraries = None  # threadpoolctl's controllers of the BLAS libraries loaded when first asked
_held = 0  # callers inside blas_on_calling_thread
_saved: list[int] = []  # each library's thread count before the outermost caller came in


def _blas_libraries() -> list:
    global _libraries
    if _libraries is None:
        # Imported on the first one-pass call only.
        from threadpoolctl import ThreadpoolController

        _libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _libraries


@contextlib.contextmanager
def blas_on_calling_thread():
    """Run the block with every BLAS library that threadpoolctl finds (NumPy's OpenBLAS) at one thread.

    Nested and concurrent callers share one limit; the outermost one restores each library's
    thread count as it found it.
    """
    global _held
    with _lock:
        if _held == 0:
            _saved[:] = [library.get_num_threads() for library in _blas_libraries()]
            for library, count in zip(_libraries, _saved):
                if count != 1:
                    library.set_num_threads(1)
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0:
                for library, count in zip(_libraries, _saved):
                    if count != 1:
                        library.set_num_threads(count)


_pool: ThreadPoolExecutor | None = None  # the helper threads of in_parallel, made on first use
_pool_size = 0


def _forget_pool() -> None:
    # A forked child has none of the parent's threads: it makes its own pool when it needs one.
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _helpers(count: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool_size < count:
            old = _pool
            _pool, _pool_size = ThreadPoolExecutor(count, thread_name_prefix="torch_logreg"), count
            if old is not None:
                old.shutdown(wait=False)
        return _pool


class _Tasks:
    """The indices 0..tasks−1, each handed out once, to whichever thread asks first."""

    def __init__(self, tasks: int):
        self._next, self._tasks, self._lock = 0, tasks, threading.Lock()

    def __iter__(self):
        while True:
            with self._lock:
                index = self._next
                self._next += 1
            if index >= self._tasks:
                return
            yield index


def in_parallel(run, tasks: int, workers: int) -> None:
    """``run(indices)`` on ``workers`` threads at once, the calling thread one of them; ``indices`` yields,
    to each thread, the next index of ``range(tasks)`` that no thread has taken yet, so every index is
    run once.  Returns when all are done (the first error raised, once every thread has stopped).

    Indices go to whichever thread is free, not in fixed shares: where another process slows one
    core, the thread on the other takes more, instead of waiting for the slowed one's share.
    For work that releases the GIL (NumPy's BLAS and ufuncs) on data that each index writes to its
    own place: which thread ran an index then changes nothing in the result.
    """
    workers = max(1, min(workers, tasks))
    if workers == 1:
        run(range(tasks))
        return
    indices = _Tasks(tasks)
    pool = _helpers(workers - 1)
    futures = [pool.submit(run, iter(indices)) for _ in range(workers - 1)]
    try:
        run(iter(indices))
    finally:
        wait(futures)
    for future in futures:
        future.result()


# x below this many bytes trains with torch on the calling thread (train.threads unset): each op on
# it is then a fraction of a millisecond, less than what a parallel region loses whenever another
# thread holds a core (OpenBLAS's or OpenMP's spinning workers, another process), and a gd step,
# Newton's Hessian and its solve on such x gain little from a second thread on a quiet machine.
SMALL_X_BYTES = 32 << 20


@contextlib.contextmanager
def torch_threads_for(x, threads: int | None):
    """Run the block with torch on one thread when ``threads`` (``train.threads``) is None and x (m, n)
    is a CPU tensor under ``SMALL_X_BYTES``; torch's thread count is restored after.  Otherwise (a
    count the user chose, large or streamed x, a GPU, x None: not known yet) change nothing."""
    small = (
        threads is None
        and isinstance(x, torch.Tensor)
        and x.device.type == "cpu"
        and x.numel() * x.element_size() < SMALL_X_BYTES
    )
    saved = torch.get_num_threads()
    if not small or saved == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)
