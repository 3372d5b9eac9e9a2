"""The sparse formulas (``torch_logreg.nn.sparse``) give the dense formulas' values on the densified x."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from torch_logreg.nn import functional as LF
from torch_logreg.nn import sparse as SF


def _problem(classes: int, weighted: bool, seed: int = 0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    matrix = sp.random(40, 7, density=0.3, format="csr", random_state=seed)
    x = torch.tensor(matrix.toarray(), dtype=dtype)
    k = 1 if classes == 2 else classes
    weight = torch.tensor(rng.normal(size=(k, 7)), dtype=dtype)
    bias = torch.tensor(rng.normal(size=k), dtype=dtype)
    labels = rng.integers(0, classes, 40)
    y = torch.tensor(labels, dtype=dtype) if classes == 2 else torch.tensor(labels)
    s = torch.tensor(rng.integers(0, 4, 40), dtype=dtype) if weighted else None
    return SF.SparseRows.from_scipy(matrix, dtype), x, y, weight, bias, s


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_cost_and_gradients_equal_the_dense_formulas(classes, weighted):
    rows, x, y, weight, bias, s = _problem(classes, weighted)
    dense = LF.cost_and_grads if classes == 2 else LF.softmax_cost_and_grads
    want = dense(x, y, weight, bias, 0.7, with_cost=True, sample_weight=s)
    got = SF.cost_and_grads(rows, y, weight, bias, 0.7, with_cost=True, sample_weight=s)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b.reshape(a.shape), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_hessian_and_its_products_equal_the_dense_hessian(classes, weighted):
    rows, x, y, weight, bias, s = _problem(classes, weighted)
    dense = LF.hessian if classes == 2 else LF.softmax_hessian
    want = dense(x, weight, bias, 0.7, sample_weight=s)
    torch.testing.assert_close(
        SF.hessian(rows, weight, bias, 0.7, sample_weight=s), want, rtol=1e-12, atol=1e-14
    )
    v = torch.randn(want.shape[0], dtype=torch.float64)
    k, n = weight.shape
    hv_w, hv_b = SF.hessian_vector(
        rows, weight, bias, 0.7, v[: k * n].view(k, n), v[k * n :], sample_weight=s
    )
    torch.testing.assert_close(torch.cat([hv_w.reshape(-1), hv_b]), want @ v, rtol=1e-12, atol=1e-14)


def test_the_gradient_is_autograds_gradient_of_the_dense_cost():
    rows, x, y, weight, bias, s = _problem(4, True)
    w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
    with LF.plain_autograd():
        z = x @ w.T + b
        cost = (
            torch.nn.functional.cross_entropy(z, y, reduction="none").mul(s).sum() / s.sum()
            + 0.7 / (2 * s.sum()) * w.pow(2).sum()
        )
    cost.backward()
    _, dweight, dbias = SF.cost_and_grads(rows, y, weight, bias, 0.7, sample_weight=s)
    torch.testing.assert_close(dweight, w.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dbias, b.grad, rtol=1e-10, atol=1e-12)


def test_csc_and_float32_input_stay_sparse_in_their_dtype():
    matrix = sp.random(30, 5, density=0.4, format="csc", random_state=1, dtype=np.float32)
    rows = SF.SparseRows.from_scipy(matrix)
    assert rows.x.layout == torch.sparse_csr and rows.xt.layout == torch.sparse_csr
    assert rows.dtype == torch.float32
    weight, bias = torch.ones(1, 5), torch.zeros(1)
    torch.testing.assert_close(
        SF.linear_forward(rows, weight, bias)[:, 0], torch.from_numpy(matrix.toarray()).sum(1)
    )
