"""The one-pass CPU gradient (``nn/one_pass.py``) against the formulas of ``nn/functional.py``.

One pass over x in row blocks must give what ``linear_forward``, the loss's ``*_cost_backward``
and ``linear_backward`` give over all of x at once: to 1e-12 in float64 and 1e-6 (relative to
the gradient's size) in float32, for one neuron and softmax, with and without sample weights,
and with a last block shorter than the others.
"""

import numpy as np
import pytest
import torch

from torch_logreg.nn import functional, numpy_formulas, one_pass
from torch_logreg.nn.logistic import LogisticRegression

# 203 rows of 7 features in blocks of 5 rows: 41 blocks, the last of 3 rows.
M, N, BLOCK_ROWS = 203, 7, 5
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-6}
LOSSES = {1: functional.logistic_cost_backward, 3: functional.softmax_cost_backward}


def problem(classes: int, dtype: torch.dtype, weighted: bool, seed: int = 0):
    """x (M, N), y (M,), weight (K, N), bias (K,), sample weights (M,) or None; K = 1 for one neuron."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(M, N, generator=gen, dtype=torch.float64)
    weight = torch.randn(classes, N, generator=gen, dtype=torch.float64)
    bias = torch.randn(classes, generator=gen, dtype=torch.float64)
    if classes == 1:
        y = (torch.rand(M, generator=gen) < 0.5).to(dtype)
    else:
        y = torch.randint(classes, (M,), generator=gen)
    s = torch.rand(M, generator=gen, dtype=torch.float64).mul(3).to(dtype) if weighted else None
    return x.to(dtype), y, weight.to(dtype), bias.to(dtype), s


def formula(x, y, weight, bias, backward, m, s):
    """(z, dW, db) from the functional formulas over all of x, in float64."""
    x, weight, bias = (t.double() for t in (x, weight, bias))
    z = functional.linear_forward(x, weight, bias)  # (M, K)
    one = weight.shape[0] == 1
    y = y.double() if one else y
    dz = backward(z.view(-1) if one else z, y, m, None if s is None else s.double())
    _, dweight, dbias = functional.linear_backward(dz.view(len(x), -1), x, weight, need_x=False)
    return z, dweight, dbias


def block_bytes(x) -> int:
    """Bytes of ``BLOCK_ROWS`` rows of x."""
    return BLOCK_ROWS * x.shape[1] * x.element_size()


def relative_error(got, want) -> float:
    return ((got.double() - want).norm() / want.norm()).item()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("classes", [1, 3], ids=["one_neuron", "softmax"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_one_pass_gives_the_formulas_logits_and_gradients(dtype, classes, weighted):
    x, y, weight, bias, s = problem(classes, dtype, weighted)
    m = M if s is None else s.sum()
    assert (
        one_pass.block_rows(x, block_bytes(x)) == BLOCK_ROWS and M % BLOCK_ROWS == 3
    )  # the last block short

    z, dweight, dbias = one_pass.grads(x, weight, bias, LOSSES[classes], y, m, s, block_bytes=block_bytes(x))

    want_z, want_dweight, want_dbias = formula(x, y, weight, bias, LOSSES[classes], m, s)
    assert z.dtype == dweight.dtype == dbias.dtype == dtype
    assert z.shape == (M, classes) and dweight.shape == (classes, N) and dbias.shape == (classes,)
    for got, want in ((z, want_z), (dweight, want_dweight), (dbias, want_dbias)):
        assert relative_error(got, want) < TOLERANCE[dtype]


def test_a_block_left_out_is_caught():
    # The comparison above is sharp enough to see one block of 41 missing from the sum.
    x, y, weight, bias, s = problem(1, torch.float64, weighted=False)
    _, dweight, _ = one_pass.grads(x[:-3], weight, bias, LOSSES[1], y[:-3], M, s, block_bytes=block_bytes(x))
    _, want_dweight, _ = formula(x, y, weight, bias, LOSSES[1], M, s)
    assert relative_error(dweight, want_dweight) > 1e-3


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("classes", [1, 3], ids=["one_neuron", "softmax"])
def test_cost_and_grads_take_the_one_pass_and_equal_the_unblocked_formulas(monkeypatch, classes, weighted):
    # With blocks of 5 rows the 203 rows are many blocks, so the functional entry points take
    # the one pass; with one_pass.supports refused they compute the formulas over all of x.
    x, y, weight, bias, s = problem(classes, torch.float64, weighted)
    grads = functional.cost_and_grads if classes == 1 else functional.softmax_cost_and_grads
    kwargs = {"with_cost": True, "sample_weight": s}
    monkeypatch.setattr(one_pass, "BLOCK_BYTES", block_bytes(x))
    calls = []
    real = one_pass.grads
    monkeypatch.setattr(one_pass, "grads", lambda *a, **k: calls.append(1) or real(*a, **k))
    fast = grads(x, y, weight, bias, 0.3, **kwargs)
    assert calls, "the one pass was not taken"
    monkeypatch.setattr(one_pass, "supports", lambda *tensors: False)
    plain = grads(x, y, weight, bias, 0.3, **kwargs)
    assert len(calls) == 1
    for got, want in zip(fast, plain):
        assert relative_error(got, want) < 1e-12


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_one_pass_is_for_cpu_float_matrices_of_several_blocks_without_autograd(monkeypatch, dtype):
    x, _, weight, bias, _ = problem(1, dtype, weighted=False)
    monkeypatch.setattr(one_pass, "BLOCK_BYTES", block_bytes(x))
    assert one_pass.supports(x, weight, bias)
    assert not one_pass.supports(x[:5], weight, bias)  # one block: torch's two products
    assert not one_pass.supports(x.to(torch.bfloat16), weight, bias)
    assert not one_pass.supports(x, weight.requires_grad_(), bias)  # autograd records the formulas
    with torch.no_grad():
        assert one_pass.supports(x, weight, bias)


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_the_training_step_of_a_large_x_is_the_one_pass(monkeypatch, optimizer):
    # The model's cost_and_grads, which gd, adam and sgd on a batch of many blocks call, reads
    # x once; its update equals the one from the unblocked formulas.
    from torch_logreg.training.optim import GradientDescent
    from torch_logreg.training.steps import make_step

    x, y, _, _, s = problem(1, torch.float64, weighted=True)
    monkeypatch.setattr(one_pass, "BLOCK_BYTES", block_bytes(x))
    calls = []
    real = one_pass.grads
    monkeypatch.setattr(one_pass, "grads", lambda *a, **k: calls.append(1) or real(*a, **k))
    updated = []
    for allowed in (True, False):
        monkeypatch.setattr(one_pass, "supports", one_pass.supports if allowed else lambda *tensors: False)
        model = LogisticRegression(N, l2=0.2).double()
        if optimizer == "gd":
            opt = GradientDescent(model.parameters(), lr=0.5)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=0.1)
        made = make_step(model, opt, x, True)
        step = made[1] if isinstance(made, tuple) else made
        for _ in range(3):
            step(x, y, s)
        updated.append([p.detach().clone() for p in model.parameters()])
    assert len(calls) >= 3, "the step did not take the one pass"
    for fast, plain in zip(*updated):
        torch.testing.assert_close(fast, plain, atol=1e-12, rtol=0)


@pytest.mark.parametrize("classes", [1, 3], ids=["one_neuron", "softmax"])
def test_the_blocks_shared_among_threads_give_the_same_numbers_as_one_thread(classes):
    # Each block's share of dW is its own and the shares are summed in block order: bit for bit the same.
    x, y, weight, bias, s = problem(classes, torch.float64, weighted=True)
    m = s.sum()
    one = one_pass.grads(x, weight, bias, LOSSES[classes], y, m, s, block_bytes=block_bytes(x), workers=1)
    for workers in (2, 3, 64):
        shared = one_pass.grads(
            x, weight, bias, LOSSES[classes], y, m, s, block_bytes=block_bytes(x), workers=workers
        )
        assert all(torch.equal(a, b) for a, b in zip(one, shared))


@pytest.mark.parametrize("workers", [1, 2])
def test_shared_blocks_of_many_logits_are_cut_below_torchs_grain_and_still_give_the_formulas(workers):
    # 70 000 rows of 2 features: one 1 MB block holds 65 536 rows, over torch's grain of 32 768 logits.
    # One worker runs the torch formula on them, two cut them to the grain and run its NumPy twin.
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(70_000, 2, generator=gen, dtype=torch.float64)
    y = (torch.rand(70_000, generator=gen) < 0.5).double()
    weight, bias = torch.tensor([[0.3, -0.2]], dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64)
    assert one_pass.block_rows(x) * 1 > one_pass.TORCH_GRAIN_SIZE
    got = one_pass.grads(x, weight, bias, LOSSES[1], y, len(x), None, workers=workers)
    want = formula(x, y, weight, bias, LOSSES[1], len(x), None)
    for a, b in zip(got, want):
        assert relative_error(a, b) < TOLERANCE[torch.float64]


def test_each_thread_gets_several_blocks_of_few_logits_or_the_calling_thread_does_them_all(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    share, logits = one_pass.MIN_BLOCKS_PER_WORKER, 2048
    assert one_pass.worker_count(logits, 2 * share - 1) == 1
    assert one_pass.worker_count(logits, 2 * share) == 2
    assert one_pass.worker_count(logits, 100 * share) == 8  # never more than torch's threads
    # narrow x: torch's own threads share each block's formula
    assert one_pass.worker_count(one_pass.TORCH_GRAIN_SIZE + 1, 100 * share) == 1


@pytest.mark.parametrize("product", sorted(one_pass.ROW_PRODUCTS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_every_row_product_gives_the_formulas(dtype, product):
    x, y, weight, bias, s = problem(1, dtype, weighted=True)
    m = s.sum()
    got = one_pass.grads(x, weight, bias, LOSSES[1], y, m, s, block_bytes=block_bytes(x), product=product)
    want = formula(x, y, weight, bias, LOSSES[1], m, s)
    for a, b in zip(got, want):
        assert relative_error(a, b) < TOLERANCE[dtype]


def test_a_wrong_row_product_is_caught(monkeypatch):
    # The logits of a product that drops the last feature change z and every dz after it.
    def last_feature_dropped(x_block, w, out):
        np.dot(x_block[:, :-1], w[:-1], out=out)

    monkeypatch.setitem(one_pass.ROW_PRODUCTS, "wrong", last_feature_dropped)
    x, y, weight, bias, s = problem(1, torch.float32, weighted=False)
    z, dweight, _ = one_pass.grads(
        x, weight, bias, LOSSES[1], y, M, s, block_bytes=block_bytes(x), product="wrong"
    )
    want_z, want_dweight, _ = formula(x, y, weight, bias, LOSSES[1], M, s)
    assert relative_error(z, want_z) > 1e-3 and relative_error(dweight, want_dweight) > 1e-3


def test_one_neurons_dz_runs_as_its_numpy_twin_and_a_wrong_twin_is_caught(monkeypatch):
    # The torch formula passed in is looked up in TWINS; a formula without a twin runs as torch ops.
    x, y, weight, bias, s = problem(1, torch.float64, weighted=True)
    m = s.sum()
    want = formula(x, y, weight, bias, LOSSES[1], m, s)

    def torch_only(z, y, m, sample_weight, out):  # the formula itself, under a name TWINS does not know
        return functional.logistic_cost_backward(z, y, m, sample_weight, out=out)

    torch_ops = one_pass.grads(x, weight, bias, torch_only, y, m, s, block_bytes=block_bytes(x))
    for a, b in zip(torch_ops, want):
        assert relative_error(a, b) < TOLERANCE[torch.float64]

    def wrong_twin(z, y, m, sample_weight, out, bias):
        return numpy_formulas.logistic_cost_backward(z, y, m, None, out, bias)  # the weights left out

    monkeypatch.setitem(numpy_formulas.TWINS, LOSSES[1], wrong_twin)
    _, dweight, _ = one_pass.grads(x, weight, bias, LOSSES[1], y, m, s, block_bytes=block_bytes(x))
    assert relative_error(dweight, want[1]) > 1e-2


def test_wide_rows_take_the_row_dot_products_and_narrow_rows_gemv(monkeypatch):
    wide = torch.zeros(10, one_pass.ROW_PRODUCT_MIN_BYTES // 4)
    assert one_pass.row_product(wide) == "vecdot"
    assert one_pass.row_product(wide.double()) == "vecdot"
    assert one_pass.row_product(wide[:, :-1]) == "gemv"
    monkeypatch.delattr(np, "vecdot")  # NumPy before 2.0
    assert one_pass.row_product(wide) == "einsum"
