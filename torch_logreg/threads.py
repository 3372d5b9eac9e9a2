"""NumPy's BLAS held to the calling thread while torch_logreg calls it between torch ops.

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
import threading

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
