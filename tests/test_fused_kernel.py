"""The fused Triton kernel returns what ``functional.cost_and_grads`` returns, in float64.

Without a GPU the kernel runs under triton's interpreter (conftest.py sets
TRITON_INTERPRET=1 before the kernel is imported), and the ``interpreted`` tests run
in the one report; on a GPU they give way to the ``cuda`` tests.
"""

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

from torch_logreg.kernels import FusedOutputs, fused_cost_and_grads, supports  # noqa: E402
from torch_logreg.nn import functional  # noqa: E402

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
interpreted = pytest.mark.skipif(
    not INTERPRETED, reason="runs under TRITON_INTERPRET=1, where there is no GPU"
)
cuda = pytest.mark.skipif(INTERPRETED or not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_problem(m, n, dtype=torch.float32, device="cpu", scale=1.0, seed=0):
    """x (m, n) in dtype, y (m,) labels of a noisy linear rule, weight (1, n), bias (1,)."""
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(m, n, generator=gen)
    weight, bias = torch.randn(1, n, generator=gen), torch.randn(1, generator=gen)
    y = (x @ torch.randn(n, generator=gen) + torch.randn(m, generator=gen) > 0).float()
    return x.to(device, dtype), y.to(device), weight.to(device), bias.to(device)


def assert_matches_reference(x, y, weight, bias, l2=0.0, rtol=1e-5, atol=1e-6, **launch):
    """Kernel output == float64 ``cost_and_grads`` on the same values (x as stored, bf16 included)."""
    got = fused_cost_and_grads(x, y, weight, bias, l2, **launch)
    want = functional.cost_and_grads(
        x.double(), y.double(), weight.double(), bias.double(), l2, with_cost=True
    )
    for name, g, w in zip(("cost", "dweight", "dbias"), got, want):
        assert g.dtype == torch.float32 and g.shape == w.shape, name
        torch.testing.assert_close(g.double(), w, rtol=rtol, atol=atol, msg=lambda s: f"{name}: {s}")
    return got


@interpreted
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("n", [1, 3, 30, 33, 100])
@pytest.mark.parametrize("m", [1, 37, 129, 1000])
def test_float32_matches_reference(m, n, l2):
    assert_matches_reference(*make_problem(m, n, seed=m + n), l2=l2)


@interpreted
@pytest.mark.parametrize("m, n", [(1, 1), (129, 33), (1000, 100)])
def test_bfloat16_x_matches_reference_on_the_rounded_x(m, n):
    assert_matches_reference(*make_problem(m, n, torch.bfloat16), l2=0.7)


@interpreted
def test_every_program_strides_over_many_row_blocks():
    # 1000 rows in blocks of 16 are 63 blocks for 4 programs: ~16 iterations each.
    assert_matches_reference(*make_problem(1000, 30), l2=0.7, block_m=16)


@interpreted
def test_without_cost_returns_none_and_the_same_gradients():
    x, y, weight, bias = make_problem(129, 33)
    cost, dweight, dbias = fused_cost_and_grads(x, y, weight, bias, 0.7, with_cost=False)
    _, want_dweight, want_dbias = fused_cost_and_grads(x, y, weight, bias, 0.7)
    assert cost is None
    assert torch.equal(dweight, want_dweight) and torch.equal(dbias, want_dbias)


@interpreted
def test_saturated_logits_give_finite_exact_values():
    # |z| in the thousands: σ(z) is exactly 0 or 1 in float32 and exp(|z|) overflows.
    x, y, weight, bias = make_problem(1000, 30, scale=1000.0)
    got = assert_matches_reference(x, y, weight, bias, l2=0.7)
    assert all(torch.isfinite(t).all() for t in got)


@interpreted
def test_confident_right_answers_keep_their_tiny_cost():
    # z = +20 on label 1: the cost is log1p(e⁻²⁰) ≈ 2.1e-9, which log(1 + e⁻²⁰) rounds to 0.
    x, y, weight, bias = torch.ones(37, 1), torch.ones(37), torch.full((1, 1), 20.0), torch.zeros(1)
    cost, _, _ = assert_matches_reference(x, y, weight, bias, rtol=1e-5, atol=0.0)
    assert 2e-9 < cost.item() < 2.1e-9


@interpreted
def test_out_buffers_are_reused_and_overwritten():
    out = FusedOutputs.allocate(33, "cpu")
    fused_cost_and_grads(*make_problem(129, 33, seed=1), 0.7, out=out)
    got = assert_matches_reference(*make_problem(129, 33, seed=2), l2=0.7, out=out)
    assert all(g is buffer for g, buffer in zip(got, out))


@interpreted
def test_the_same_inputs_give_the_same_bits():
    # Partial sums are reduced in a fixed order (no atomics), so runs are reproducible.
    problem = make_problem(1000, 30, seed=3)
    first = fused_cost_and_grads(*problem, 0.5, block_m=16)
    second = fused_cost_and_grads(*problem, 0.5, block_m=16)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@interpreted
@pytest.mark.parametrize("optimizer_name", ["gd", "sgd"])
def test_training_steps_through_the_kernel_match_the_eager_formulas(optimizer_name, monkeypatch):
    # The training loop's hand-written step with the kernel in place of cost_and_grads,
    # as it runs on CUDA: 20 steps land where the eager formulas land.
    from torch_logreg.nn.logistic import LogisticRegression
    from torch_logreg.training.optimizers import make_optimizer
    from torch_logreg.training.steps import make_step

    x, y, _, _ = make_problem(300, 7, seed=4)
    results = []
    for grads in (fused_cost_and_grads, functional.cost_and_grads):
        monkeypatch.setattr(LogisticRegression, "_binary_grads", staticmethod(lambda x, grads=grads: grads))
        model = LogisticRegression(7, l2=0.3)
        kind, step = make_step(model, make_optimizer(optimizer_name, model, lr=0.5, momentum=0.9), x, True)
        assert kind == "hand"
        for _ in range(20):
            step(x, y, None)
        results.append(torch.cat([model.weight.detach().reshape(-1), model.bias.detach()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)


@interpreted
def test_supports_only_what_the_kernel_handles():
    x = torch.randn(8, 4)
    assert supports(x) and supports(x.bfloat16()) and supports(torch.randn(1, 1024))
    assert not supports(x.double()) and not supports(x.t()) and not supports(x[:, 0])
    assert not supports(torch.randn(8, 1025)) and not supports(torch.randn(0, 4))
    with pytest.raises(ValueError, match="does not support"):
        fused_cost_and_grads(x.double(), torch.ones(8), torch.ones(1, 4), torch.ones(1))
    with pytest.raises(ValueError, match="y must be float32"):
        fused_cost_and_grads(x, torch.ones(8, dtype=torch.long), torch.ones(1, 4), torch.ones(1))
    with pytest.raises(ValueError, match="out buffers"):
        fused_cost_and_grads(
            x, torch.ones(8), torch.ones(1, 4), torch.ones(1), out=FusedOutputs.allocate(5, "cpu")
        )


def test_cpu_tensors_need_the_interpreter():
    # In a fresh process without TRITON_INTERPRET: this one's kernel was decorated under it.
    code = "import torch, torch_logreg.kernels as kernels\nassert not kernels.supports(torch.randn(8, 4))\n"
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env)


def test_package_imports_without_triton():
    # None in sys.modules makes `import triton` raise ImportError, as if it were not installed.
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch, torch_logreg.kernels as kernels\n"
        "assert not kernels.triton_available() and not kernels.supports(torch.randn(2, 2))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@cuda
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("m, n", [(1, 1), (4097, 33), (1000, 1024), (1_000_000, 128)])
def test_cuda_matches_reference(m, n, dtype):
    assert_matches_reference(*make_problem(m, n, dtype, device="cuda", seed=m + n), l2=0.7)


@cuda
@pytest.mark.cuda
def test_cuda_graph_replay_reuses_the_out_buffers():
    x, y, weight, bias = make_problem(100_000, 128, device="cuda", seed=1)
    out = FusedOutputs.allocate(128, "cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # compile and cache the launch before capturing
        fused_cost_and_grads(x, y, weight, bias, 0.7, out=out)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # fails on any host sync
        fused_cost_and_grads(x, y, weight, bias, 0.7, out=out)
    for seed in (2, 3):  # new data each replay; a second replay must not add to the first
        for static, new in zip((x, y, weight, bias), make_problem(100_000, 128, device="cuda", seed=seed)):
            static.copy_(new)
        graph.replay()
        want = functional.cost_and_grads(
            x.double(), y.double(), weight.double(), bias.double(), 0.7, with_cost=True
        )
        for got, expected in zip(out, want):
            torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)
