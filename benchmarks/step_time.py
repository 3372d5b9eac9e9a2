"""Section 1: one gradient-descent step (cost + gradients + update, float32), method by method.

Every method starts from W = 0, b = 0 and steps at α = 0.5 on the same x (m, n), y (m,).
Effective bandwidth counts one read of X per step (m·n·itemsize bytes), whatever the
method really reads; the floor is ``x.sum()``, one read of X by torch's own reduction.

"plain ops" is the same step as three whole-X torch calls (``addmv``, ``sigmoid``, ``mv``)
with no row blocks: what ``nn.functional.cost_and_grads`` is measured against on narrow data
(1M×2), where its row blocks once cost ~6× the plain ops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Callable, NamedTuple

import torch
from torch import nn

from torch_logreg.nn import functional as LF
from torch_logreg.nn import one_pass
from torch_logreg.nn.logistic import LogisticRegression
from torch_logreg.training.optim import GradientDescent
from torch_logreg.training.steps import make_step

from . import machine, numpy_baseline, problems, timing

LEARNING_RATE = 0.5
NUMPY = "NumPy, the document's code"
NUMPY_UNSET = "NumPy, OPENBLAS_* unset (own process)"
AUTOGRAD = "autograd: nn.Linear + BCEWithLogitsLoss + SGD"
HAND = "hand-written eager: cost_and_grads + sub_"
PLAIN = "plain ops: addmv + sigmoid + mv over all of X, + sub_"
TRAINER = "trainer's step (training.steps.make_step; no cost)"
TRAINER_ONE_WORKER = "trainer's step, its one pass on the calling thread alone"
FLOOR = "floor: x.sum() (one read of X)"


class Method(NamedTuple):
    fn: Callable[[], object]
    device: str  # where it runs: the NumPy baseline runs on "cpu" beside CUDA methods
    x_bytes: int  # one read of its X
    note: str = ""  # shown after the name, e.g. the kind of step make_step chose


def methods(x: torch.Tensor, y: torch.Tensor) -> tuple[dict[str, Method], dict[str, str]]:
    """The steps to compare on x (m, n), y (m,), CUDA-only ones when x is on a GPU; and
    {name: error} for those that could not be set up (a kernel being written may fail)."""
    device = str(x.device)
    x_bytes = x.numel() * x.element_size()
    makers = {
        NUMPY: lambda: Method(
            numpy_baseline.document_step(x.cpu().numpy(), y.cpu().numpy(), LEARNING_RATE), "cpu", x_bytes
        ),
        AUTOGRAD: lambda: Method(_autograd_step(x, y), device, x_bytes),
        HAND: lambda: Method(_hand_step(LF.cost_and_grads, x, y), device, x_bytes),
        PLAIN: lambda: Method(_hand_step(plain_cost_and_grads, x, y), device, x_bytes),
        TRAINER: lambda: _trainer_step(x, y),
        TRAINER_ONE_WORKER: lambda: _trainer_step(x, y, one_worker=True),
    }
    if x.is_cuda:
        makers["hand-written in a CUDA graph"] = lambda: Method(
            _in_cuda_graph(_hand_step(LF.cost_and_grads, x, y)), device, x_bytes
        )
        for dtype, label in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
            for graphed in (False, True):
                name = f"fused Triton kernel, {label} X, {'CUDA graph' if graphed else 'eager'}"
                makers[name] = lambda dtype=dtype, graphed=graphed: _fused_step(x, y, dtype, graphed)
    makers[FLOOR] = lambda: Method(lambda: x.sum(), device, x_bytes)
    found, errors = {}, {}
    for name, make in makers.items():
        try:
            found[name] = make()
        except Exception as error:  # report it, time the rest
            errors[name] = f"{type(error).__name__}: {error}"
    return found, errors


def _autograd_step(x, y):
    linear = nn.Linear(x.shape[1], 1, device=x.device)
    nn.init.zeros_(linear.weight), nn.init.zeros_(linear.bias)
    criterion = nn.BCEWithLogitsLoss()
    sgd = torch.optim.SGD(linear.parameters(), lr=LEARNING_RATE)

    def step():
        sgd.zero_grad(set_to_none=True)
        loss = criterion(linear(x).squeeze(1), y)
        loss.backward()
        sgd.step()

    return step


def plain_cost_and_grads(x, y, weight, bias, l2=0.0, *, with_cost=False):
    """(J or None, dW (1, n), db (1,)) in three whole-X calls: z = addmv(b, x, w), dz = (σ(z) − y)/m,
    dW = mv(xᵀ, dz).  The same formulas as ``nn.functional.cost_and_grads`` (l2 = 0), without row blocks."""
    z = torch.addmv(bias, x, weight.reshape(-1))  # (m,)
    value = LF.logistic_cost_forward(z, y) if with_cost else None
    dz = LF.logistic_cost_backward(z, y)  # (m,)
    return value, torch.mv(x.T, dz).view_as(weight), dz.sum().reshape(1)


def _trainer_step(x, y, one_worker: bool = False) -> Method:
    """What the training loop runs between log steps: ``training.steps.make_step`` for full-batch gd.
    ``one_worker``: with ``nn.one_pass``'s row blocks all on the calling thread (as before they were
    shared among torch's threads), to see what the sharing gains."""
    model = LogisticRegression(x.shape[1], device=x.device)
    kind, step = make_step(model, GradientDescent(model.parameters(), lr=LEARNING_RATE), x, True)
    if not one_worker:
        return Method(lambda: step(x, y, None), str(x.device), x.numel() * x.element_size(), f"kind: {kind}")

    def on_one_worker():
        shared = one_pass.worker_count
        one_pass.worker_count = lambda block_logits, blocks: 1
        try:
            step(x, y, None)
        finally:
            one_pass.worker_count = shared

    return Method(on_one_worker, str(x.device), x.numel() * x.element_size(), f"kind: {kind}")


def _fused_step(x, y, dtype, graphed: bool) -> Method:
    from torch_logreg import kernels

    if not kernels.triton_available():
        raise RuntimeError("triton is not installed")
    xk = x.to(dtype).contiguous()
    if not kernels.supports(xk):
        raise RuntimeError(f"kernels.supports() is false for {tuple(xk.shape)} {dtype}")
    out = kernels.FusedOutputs.allocate(x.shape[1], x.device)
    step = _hand_step(kernels.fused_cost_and_grads, xk, y, out=out)
    return Method(_in_cuda_graph(step) if graphed else step, str(x.device), xk.numel() * xk.element_size())


def _hand_step(grads, x, y, out=None):
    weight = torch.zeros(1, x.shape[1], device=x.device)
    bias = torch.zeros(1, device=x.device)
    extra = {"out": out} if out is not None else {}

    @torch.no_grad()
    def step():
        _, dweight, dbias = grads(x, y, weight, bias, 0.0, with_cost=True, **extra)
        weight.sub_(dweight, alpha=LEARNING_RATE)
        bias.sub_(dbias, alpha=LEARNING_RATE)

    return step


def _in_cuda_graph(step):
    """``step`` captured once (after warm-up on a side stream); each call replays it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def numpy_without_openblas_env(size: problems.Size, repeats: int, min_seconds: float) -> dict | None:
    """The NumPy baseline again in a child process without OPENBLAS_CORETYPE/L2_SIZE, if they are set."""
    if not any(os.environ.get(name) for name in machine.OPENBLAS_VARIABLES):
        return None
    env = {k: v for k, v in os.environ.items() if k not in machine.OPENBLAS_VARIABLES}
    command = [
        sys.executable,
        "-m",
        "benchmarks.numpy_baseline",
        str(size.m),
        str(size.n),
        "--repeats",
        str(repeats),
        "--min-seconds",
        str(min_seconds),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(
    sizes: list[problems.Size],
    device: str,
    repeats: int,
    min_seconds: float,
    log=print,
    child_numpy: bool = True,
) -> dict:
    """The section's rows: per size and method, ms per step, GB/s of X, and the ratios.

    ``child_numpy``: also time NumPy without the OPENBLAS_* variables (when set), in a child process.
    """
    rows, unset_blas = [], None
    for size in sizes:
        log(f"[step] {size.label} on {device}")
        x, y = problems.step_problem(size.m, size.n, device)
        found, errors = methods(x, y)
        times = timing.interleaved_medians(
            {k: (v.fn, v.device) for k, v in found.items()}, repeats, min_seconds
        )
        nbytes = {k: v.x_bytes for k, v in found.items()}
        notes = {k: v.note for k, v in found.items()}
        unset = numpy_without_openblas_env(size, repeats, min_seconds) if child_numpy else None
        if unset is not None and "seconds" in unset:
            unset_blas = unset.pop("numpy_blas", unset_blas)
            times[NUMPY_UNSET] = unset
            nbytes[NUMPY_UNSET] = nbytes[NUMPY]
        elif unset is not None:
            errors[NUMPY_UNSET] = unset["error"]
        floor = nbytes.get(FLOOR, 0) / times[FLOOR]["seconds"] if FLOOR in times else None
        for name, t in times.items():
            seconds = t["seconds"]
            bandwidth = nbytes[name] / seconds
            rows.append(
                {
                    "size": size.label,
                    "m": size.m,
                    "n": size.n,
                    "method": f"{name} [{notes[name]}]" if notes.get(name) else name,
                    "ms_per_step": seconds * 1e3,
                    "ms_min": t["min"] * 1e3,
                    "gb_per_s": bandwidth / 1e9,
                    "vs_numpy": times[NUMPY]["seconds"] / seconds if NUMPY in times else None,
                    "vs_autograd": times[AUTOGRAD]["seconds"] / seconds if AUTOGRAD in times else None,
                    "pct_of_floor": 100 * bandwidth / floor if floor else None,
                    "spread": t.get("spread"),
                    "repeats": t.get("repeats"),
                    "calls_per_repeat": t.get("inner"),
                }
            )
        for name, message in errors.items():
            rows.append({"size": size.label, "m": size.m, "n": size.n, "method": name, "error": message})
        del x, y, found
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    notes = [
        "ms/step: median over interleaved repeats, after warm-up (min: the fastest repeat); "
        "GB/s: m·n·itemsize bytes of X per step "
        "(one read), whatever the method really reads; '% floor': that bandwidth against x.sum()'s.",
        "vs NumPy / vs autograd: how many times faster than those rows (> 1 is faster).",
        "Every step computes the cost, the gradients and the update, except the trainer's step, which "
        "computes no cost between log steps (as the training loop runs).",
    ]
    if unset_blas is not None:
        notes.append(
            f"'{NUMPY_UNSET}': numpy's BLAS then ran {json.dumps(unset_blas)}; timed in a child "
            "process, so not interleaved with the others."
        )
    return {
        "title": "One gradient-descent step (float32)",
        "rows": rows,
        "notes": notes,
        "columns": [
            ("size", "size", "s"),
            ("method", "method", "s"),
            ("ms_per_step", "ms/step", ".3f"),
            ("ms_min", "min ms", ".3f"),
            ("gb_per_s", "GB/s of X", ".2f"),
            ("vs_numpy", "vs NumPy", ".2f"),
            ("vs_autograd", "vs autograd", ".2f"),
            ("pct_of_floor", "% floor", ".0f"),
            ("spread", "IQR/median", ".2f"),
        ],
    }
