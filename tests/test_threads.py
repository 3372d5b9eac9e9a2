"""``threads.blas_on_calling_thread``: NumPy's BLAS at one thread inside, as it was after."""

import threadpoolctl

from torch_logreg import threads


def blas_thread_counts() -> list[int]:
    """Thread counts of NumPy's BLAS (all BLAS libraries if none is NumPy's own, as with a system OpenBLAS)."""
    blas = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    numpy_own = [info for info in blas if "numpy" in info["filepath"]]
    return [info["num_threads"] for info in numpy_own or blas]


def test_numpy_blas_runs_on_the_calling_thread_inside_and_gets_its_count_back_after():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert blas_thread_counts() and set(blas_thread_counts()) == {2}
        with threads.blas_on_calling_thread():
            assert set(blas_thread_counts()) == {1}
            with threads.blas_on_calling_thread():  # nested: still one thread
                assert set(blas_thread_counts()) == {1}
            assert set(blas_thread_counts()) == {1}  # the inner exit restores nothing
        assert set(blas_thread_counts()) == {2}


def test_the_count_comes_back_when_the_block_raises():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        try:
            with threads.blas_on_calling_thread():
                raise KeyError("inside")
        except KeyError:
            pass
        assert set(blas_thread_counts()) == {2}
