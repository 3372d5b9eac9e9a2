"""``one_pass_hessian``: the CPU Hessian sums by syrk equal the row-block products, any blocks, threads."""

import pytest
import torch

from torch_logreg.nn import functional as LF
from torch_logreg.nn import one_pass, one_pass_hessian, whole_batch


def _problem(m: int, n: int, dtype, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    weight = 0.4 * torch.randn(1, n, generator=gen, dtype=torch.float64)
    bias = torch.randn(1, generator=gen, dtype=torch.float64)
    return [t.to(dtype) for t in (x, weight, bias)]


def _close(got, expected, rtol: float) -> bool:
    return all(bool((a - b).abs().max() <= rtol * b.abs().max()) for a, b in zip(got, expected))


@pytest.mark.parametrize("block_bytes", [1 << 30, 1 << 20, 3000], ids=["one block", "1 MB", "ragged"])
@pytest.mark.parametrize("threads", [1, 2])
def test_syrk_sums_equal_the_row_block_products_in_float64(monkeypatch, block_bytes, threads):
    monkeypatch.setattr(one_pass, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(one_pass, "MIN_BLOCKS_PER_WORKER", 1)  # two shares even of few blocks
    x, weight, bias = _problem(20_011, 7, torch.float64)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = one_pass_hessian.curvature_sums(x, weight, bias, 20_011)
    finally:
        torch.set_num_threads(before)
    expected = whole_batch._curvature_sums(x, weight, bias, 20_011, None)
    assert [t.shape for t in got] == [torch.Size([7, 7]), torch.Size([7]), torch.Size([1])]
    assert _close(got, expected, rtol=1e-12)


def test_syrk_sums_in_float32_are_as_near_the_float64_values_as_the_products():
    x, weight, bias = _problem(3_001, 5, torch.float32)
    exact = whole_batch._curvature_sums(*(t.double() for t in (x, weight, bias)), 3_001, None)
    got = one_pass_hessian.curvature_sums(x, weight, bias, 3_001)
    assert all(t.dtype == torch.float32 for t in got)
    for computed in (got, whole_batch._curvature_sums(x, weight, bias, 3_001, None)):
        assert _close([t.double() for t in computed], exact, rtol=1e-5)


def test_the_comparison_catches_a_gram_scaled_by_c_instead_of_its_root(monkeypatch):
    # (c ⊙ x)ᵀ(c ⊙ x) is a plausible slip of (√c ⊙ x)ᵀ(√c ⊙ x): it must fail the check above.
    x, weight, bias = _problem(5_000, 4, torch.float64)
    expected = whole_batch._curvature_sums(x, weight, bias, 5_000, None)
    gram, side, corner = one_pass_hessian.curvature_sums(x, weight, bias, 5_000)
    assert _close((gram, side, corner), expected, rtol=1e-12)
    a = torch.sigmoid(x @ weight[0] + bias)
    c = (a - a * a) / 5_000
    wrong = (x * c.unsqueeze(1)).T @ (x * c.unsqueeze(1))
    assert not _close((wrong, side, corner), expected, rtol=1e-12)


def test_hessian_takes_the_syrk_path_on_the_cpu_without_weights_and_the_products_otherwise(monkeypatch):
    x, weight, bias = _problem(2_000, 3, torch.float64)
    calls = []
    real = one_pass_hessian.curvature_sums
    monkeypatch.setattr(one_pass_hessian, "curvature_sums", lambda *a: calls.append(1) or real(*a))
    plain = LF.hessian(x, weight, bias, 0.5)
    assert calls == [1]
    weighted = LF.hessian(x, weight, bias, 0.5, sample_weight=torch.ones(2_000, dtype=torch.float64))
    assert calls == [1]  # sample weights (maybe negative: no √c) keep the products
    torch.testing.assert_close(plain, weighted, rtol=1e-12, atol=1e-15)
    with torch.enable_grad():  # autograd records through a weight that asks for it: the products
        LF.hessian(x, weight.requires_grad_(), bias, 0.5)
    assert calls == [1]
