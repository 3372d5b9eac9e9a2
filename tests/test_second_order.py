"""``functional.cost_grad_hessian``: the one-neuron cost, gradient and Hessian of one pass over x are
``cost_and_grads``' and ``hessian``'s, in any row blocks, float64 and float32."""

import pytest
import torch

from torch_logreg.nn import functional as LF
from torch_logreg.nn import second_order


def _problem(m: int, n: int, dtype, soft_labels: bool = False, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    y = torch.rand(m, generator=gen, dtype=torch.float64)
    y = y if soft_labels else (y < torch.sigmoid(x[:, 0])).double()
    weight = 0.5 * torch.randn(1, n, generator=gen, dtype=torch.float64)
    bias = torch.randn(1, generator=gen, dtype=torch.float64)
    return [t.to(dtype) for t in (x, y, weight, bias)]


def _reference(x, y, weight, bias, l2):
    """(J, ∇J over [W, b], ∇²J) from the functions every other path uses."""
    cost, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, l2, with_cost=True)
    return cost, torch.cat([dweight.reshape(-1), dbias]), LF.hessian(x, weight, bias, l2)


def _agree(got, expected, rtol: float) -> bool:
    """Each of J, ∇J, ∇²J within rtol of the reference's largest entry."""
    return all(
        bool((a - b).abs().max() <= rtol * b.abs().max().clamp_min(1e-300)) for a, b in zip(got, expected)
    )


@pytest.mark.parametrize("block_bytes", [1 << 30, 1 << 20, 4000], ids=["one block", "1 MB", "ragged"])
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("soft_labels", [False, True], ids=["0/1 labels", "soft labels"])
def test_one_pass_equals_cost_and_grads_and_hessian_in_float64(block_bytes, l2, soft_labels):
    x, y, weight, bias = _problem(40_003, 5, torch.float64, soft_labels)
    got = second_order.cost_grad_hessian(x, y, weight, bias, l2, block_bytes=block_bytes)
    expected = _reference(x, y, weight, bias, l2)
    assert [t.shape for t in got] == [torch.Size([]), torch.Size([6]), torch.Size([6, 6])]
    assert _agree(got, expected, rtol=1e-12)
    torch.testing.assert_close(got[2], got[2].T, rtol=0, atol=1e-15)  # H symmetric, as the solve needs


def test_one_pass_in_float32_is_as_near_the_float64_values_as_cost_and_grads_and_hessian():
    # float32 sums of 3k rows carry ~1e-7 relative rounding in J and ∇J and a few 1e-6 in H's entries
    # (the existing functions too): both are held to the float64 values, J and ∇J to 1e-6, H to 1e-5.
    x, y, weight, bias = _problem(3_001, 3, torch.float32)
    exact = _reference(*(t.double() for t in (x, y, weight, bias)), 0.3)
    got = second_order.cost_grad_hessian(x, y, weight, bias, 0.3, block_bytes=4000)
    assert all(t.dtype == torch.float32 for t in got)
    for computed in (got, _reference(x, y, weight, bias, 0.3)):
        computed = [t.double() for t in computed]
        assert _agree(computed[:2], exact[:2], rtol=1e-6) and _agree(computed[2:], exact[2:], rtol=1e-5)


def test_the_comparison_catches_a_wrong_cost_gradient_or_hessian():
    # Plausible slips, each far below the size of the entries: a penalized bias, a gradient's l2
    # term counted twice, the L2 term left out of J.  Each must fail the check the tests above use.
    x, y, weight, bias = _problem(5_000, 4, torch.float64)
    l2, m = 0.7, 5_000
    cost, gradient, hessian = second_order.cost_grad_hessian(x, y, weight, bias, l2)
    expected = _reference(x, y, weight, bias, l2)
    assert _agree((cost, gradient, hessian), expected, rtol=1e-12)
    penalized_bias = hessian.clone()
    penalized_bias[-1, -1] += l2 / m
    twice_l2 = gradient.clone()
    twice_l2[:-1] += weight.reshape(-1) * l2 / m
    no_l2_cost = cost - LF.l2_forward(weight, l2, m)
    for wrong in (
        (cost, gradient, penalized_bias),
        (cost, twice_l2, hessian),
        (no_l2_cost, gradient, hessian),
    ):
        assert not _agree(wrong, expected, rtol=1e-12)


def test_parameters_that_record_autograd_are_read_as_plain_values():
    # Newton hands it the model's own W and b (nn.Parameters): no graph, no out= error.
    x, y, weight, bias = _problem(3_000, 3, torch.float64)
    got = second_order.cost_grad_hessian(
        x, y, torch.nn.Parameter(weight), torch.nn.Parameter(bias), 0.5, block_bytes=4000
    )
    assert not any(t.requires_grad for t in got)
    assert _agree(got, _reference(x, y, weight, bias, 0.5), rtol=1e-12)
