"""``threads``: NumPy's BLAS at one thread inside the one pass, torch at one thread for small data;
both as they were after."""

import contextlib
import threading

import pytest
import threadpoolctl
import torch

from torch_logreg import threads


@contextlib.contextmanager
def torch_threads(count: int):
    saved = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def blas_thread_counts() -> list[int]:
    """Thread counts of NumPy's BLAS (all BLAS libraries if none is NumPy's own, as with a
    system OpenBLAS)."""
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


@pytest.mark.parametrize(
    "threads_key, x, inside",
    [
        (None, torch.zeros(569, 30), 1),  # small data: one thread
        (2, torch.zeros(569, 30), 2),  # the user's train.threads is kept
        (None, torch.zeros(0, 30, device="meta"), 2),  # not on the CPU
        (None, None, 2),  # x not known yet
    ],
)
def test_torch_runs_on_one_thread_for_small_cpu_data_unless_the_user_chose(threads_key, x, inside):
    with torch_threads(2):
        with threads.torch_threads_for(x, threads_key):
            assert torch.get_num_threads() == inside
        assert torch.get_num_threads() == 2


def test_large_x_keeps_torchs_threads(monkeypatch):
    monkeypatch.setattr(threads, "SMALL_X_BYTES", 569 * 30 * 4)
    with torch_threads(2), threads.torch_threads_for(torch.zeros(569, 30), None):
        assert torch.get_num_threads() == 2


def test_train_on_the_default_data_runs_on_one_thread_and_gives_the_count_back(tmp_path, monkeypatch):
    from torch_logreg import train
    from torch_logreg.training.config import load_config
    from torch_logreg.training.trainer import Trainer

    seen = []
    real_run = Trainer.run
    monkeypatch.setattr(Trainer, "run", lambda self: seen.append(torch.get_num_threads()) or real_run(self))
    config = load_config(None, ["train.iterations=2", "train.print_cost=false", "train.device=cpu"])
    with torch_threads(2):
        train(config, save=False)
        assert seen == [1] and torch.get_num_threads() == 2


def test_the_estimators_fit_builds_its_trainer_on_one_thread_too(monkeypatch):
    # The estimator hands train() its data, so the checks and snapshots before the loop are
    # small work too.
    from sklearn.datasets import load_breast_cancer

    from torch_logreg.sklearn import LogisticRegressionClassifier
    from torch_logreg.training.trainer import Trainer

    seen = []
    real_init = Trainer.__init__

    def init(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", init)
    x, y = load_breast_cancer(return_X_y=True)
    with torch_threads(2):
        LogisticRegressionClassifier(optimizer="newton").fit(x, y)
        assert seen == [1] and torch.get_num_threads() == 2


def test_in_parallel_runs_every_index_once_and_raises_an_error_after_all_threads_have_stopped():
    seen = []

    def run(indices):
        for index in indices:
            seen.append(index)
            if index == 7:
                raise ValueError("index 7")

    threads.in_parallel(run, 7, 3)
    assert sorted(seen) == list(range(7))
    seen.clear()
    with pytest.raises(ValueError, match="index 7"):
        threads.in_parallel(run, 40, 2)  # the thread at 7 stops; the other runs every index left
    assert sorted(seen) == list(range(40))
    seen.clear()
    threads.in_parallel(run, 3, 8)  # more workers than tasks
    assert sorted(seen) == [0, 1, 2]


def test_a_slowed_thread_takes_fewer_indices():
    # The calling thread stalls on its first index until the helper has run out of indices (the
    # helper starts once the caller holds one): the helper then has run every other index, where
    # fixed halves would have left the caller half of them.
    taken = {"caller": 0, "helper": 0}
    caller, caller_holds_one, helper_done = threading.get_ident(), threading.Event(), threading.Event()

    def run(indices):
        mine = threading.get_ident() == caller
        for _ in indices:
            taken["caller" if mine else "helper"] += 1
            if mine:
                caller_holds_one.set()
                assert helper_done.wait(timeout=30)
            else:
                assert caller_holds_one.wait(timeout=30)
        if not mine:
            helper_done.set()

    threads.in_parallel(run, 40, 2)
    assert taken == {"caller": 1, "helper": 39}
