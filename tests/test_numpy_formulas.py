"""The NumPy twins of ``nn/numpy_formulas.py`` against their torch formulas in ``nn/formulas.py``.

Same z, y, m and sample weights in, the same dz out: to 1e-12 in float64 and 1e-6 (relative to
dz's size) in float32, with logits from 0 to ±100, where e^(−z) overflows and σ(z) is exactly 0.
"""

import warnings

import numpy as np
import pytest
import torch

from torch_logreg.nn import formulas, numpy_formulas

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-6}
K = 500


def logits(dtype, seed=0):
    """(z (K,), y (K,), s (K,)): logits of every size, the extremes included."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(K, generator=gen, dtype=torch.float64) * 8
    z[:6] = torch.tensor([0.0, 100.0, -100.0, 88.0, -89.0, -1000.0], dtype=torch.float64)
    y = (torch.rand(K, generator=gen) < 0.5).to(dtype)
    s = torch.rand(K, generator=gen, dtype=torch.float64).mul(3).to(dtype)
    return z.to(dtype), y, s


def twin_error(twin, dtype, weighted: bool, m, bias: float = 0.0) -> float:
    """‖twin's dz − the torch formula's dz‖ / ‖the torch formula's dz‖ (float64 formula as reference),
    the twin given z and the bias b, the formula z + b."""
    z, y, s = logits(dtype)
    s = s if weighted else None
    want = formulas.logistic_cost_backward(
        z.double() + bias, y.double(), m, None if s is None else s.double()
    )
    out = np.empty(K, dtype=z.numpy().dtype)
    mn = np.asarray(m.item() if isinstance(m, torch.Tensor) else m, dtype=out.dtype)
    b = out.dtype.type(bias)  # as one_pass passes it: a scalar of x's dtype
    with np.errstate(over="ignore"):
        got = twin(z.numpy(), y.numpy(), mn, None if s is None else s.numpy(), out, b)
    assert got is out
    return ((torch.from_numpy(got).double() - want).norm() / want.norm()).item()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_the_numpy_logistic_dz_is_the_formulas(dtype, weighted):
    _, _, s = logits(dtype)
    for m in (K, 3 * K + 1, s.sum()):  # the rows here, a whole count of which this is a block, Σs
        for bias in (0.0, 0.75, -3.5):
            error = twin_error(numpy_formulas.logistic_cost_backward, dtype, weighted, m, bias)
            assert error < TOLERANCE[dtype]


def test_saturated_logits_raise_no_warning_under_the_errstate():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin_error(numpy_formulas.logistic_cost_backward, torch.float32, False, K)


def _sigma_of_minus_z(z, y, m, sample_weight, out, bias):
    np.add(z, bias, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)  # σ(−z): the sign slip
    out -= y
    if sample_weight is not None:
        out *= sample_weight
    out /= m
    return out


def _weights_left_out(z, y, m, sample_weight, out, bias):
    return numpy_formulas.logistic_cost_backward(z, y, m, None, out, bias)


def _bias_left_out(z, y, m, sample_weight, out, bias):
    return numpy_formulas.logistic_cost_backward(z, y, m, sample_weight, out)


@pytest.mark.parametrize("wrong", [_sigma_of_minus_z, _weights_left_out, _bias_left_out])
def test_a_wrong_twin_is_caught(wrong):
    assert twin_error(wrong, torch.float32, True, K, bias=0.75) > 1e-2


def test_the_twins_are_those_tested_here():
    # A twin added to TWINS is tested against its formula above before one_pass runs it.
    assert numpy_formulas.TWINS == {formulas.logistic_cost_backward: numpy_formulas.logistic_cost_backward}
