"""One optimizer step, chosen once per run for speed; every choice runs the same math.

* ``autograd``: ``model.cost(x, y).backward()`` then ``optimizer.step()``; any model.
* ``hand``: the one-neuron model's gradients straight from ``functional.cost_and_grads``
  (or the fused Triton kernel on CUDA), skipping autograd's engine.
* ``graph``: on CUDA, full-batch gd captured once in a CUDA graph and replayed, so a
  step costs one launch.
* ``newton``: ``Newton.step(x, y)``.

No step reads a value on the host (``newton`` excepted), so a run syncs only when it logs.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import Tensor

from . import functional as LF
from .module import LogisticRegression
from .optim import GradientDescent, Newton

logger = logging.getLogger(__name__)

StepFn = Callable[[Tensor, Tensor], None]


def grad_function(x: Tensor):
    """``cost_and_grads`` or, on CUDA with Triton and a supported x, the fused one-pass kernel."""
    if x.is_cuda:
        from . import kernels

        if kernels.triton_available() and kernels.supports(x):
            return kernels.fused_cost_and_grads
    return LF.cost_and_grads


def make_step(model, optimizer, x_example: Tensor, full_batch: bool) -> tuple[str, StepFn]:
    """Pick the fastest step that computes the same update.  Returns (kind, step(x, y))."""
    if isinstance(optimizer, Newton):
        return "newton", optimizer.newton_step
    if isinstance(optimizer, torch.optim.LBFGS) or type(model) is not LogisticRegression:
        return "autograd", _autograd_step(model, optimizer)
    grads = grad_function(x_example)
    step = _hand_step(model, optimizer, grads)
    if x_example.is_cuda and full_batch and isinstance(optimizer, GradientDescent):
        return "graph", _graph_step(model, step)
    return "hand", step


def model_cost(model, x: Tensor, y: Tensor) -> Tensor:
    """``model.cost(x, y)`` when the model has one, else the logistic cost of its logits."""
    if hasattr(model, "cost"):
        return model.cost(x, y)
    return LF.logistic_cost(model(x).reshape(-1), y)


def _autograd_step(model, optimizer) -> StepFn:
    def step(x: Tensor, y: Tensor) -> None:
        def closure():
            optimizer.zero_grad(set_to_none=True)
            cost = model_cost(model, x, y)
            cost.backward()
            return cost

        optimizer.step(closure)

    return step


def _hand_step(model: LogisticRegression, optimizer, grads) -> StepFn:
    # Detached views share the parameters' storage: the formulas build no autograd
    # graph, without paying for a no_grad context each step.
    weight, bias, l2 = model.weight.detach(), model.bias.detach(), model.l2
    params = (model.weight, model.bias)

    if isinstance(optimizer, GradientDescent):
        lr = optimizer.param_groups[0]["lr"]

        def gd_step(x: Tensor, y: Tensor) -> None:
            # GradientDescent.step's update, inlined: on 569×30 the optimizer's
            # bookkeeping costs as much as the whole gradient.
            _, dweight, dbias = grads(x, y, weight, bias, l2, with_cost=False)
            weight.sub_(dweight, alpha=lr)
            bias.sub_(dbias, alpha=lr)

        return gd_step

    def step(x: Tensor, y: Tensor) -> None:
        _, params[0].grad, params[1].grad = grads(x, y, weight, bias, l2, with_cost=False)
        optimizer.step()

    return step


def _graph_step(model: LogisticRegression, step: StepFn) -> StepFn:
    """Capture ``step`` on the first call's tensors (the run's fixed full batch); replays
    ignore their arguments."""
    graph = torch.cuda.CUDAGraph()
    captured = {}

    def replay(x: Tensor, y: Tensor) -> None:
        if not captured:
            _capture(graph, model, step, x, y)
            captured["x"], captured["y"] = x, y  # the graph reads their memory: keep them alive
        graph.replay()

    return replay


def _capture(graph, model, step: StepFn, x: Tensor, y: Tensor) -> None:
    saved = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up: compiles kernels and settles the allocator
            step(x, y)
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(graph):
        step(x, y)
    with torch.no_grad():  # warm-up and capture must not count as steps
        for p, value in zip(model.parameters(), saved):
            p.copy_(value)
