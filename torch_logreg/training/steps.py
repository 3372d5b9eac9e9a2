"""One optimizer step, chosen once per run for speed; every choice runs the same math.

* ``autograd``: ``model.cost(x, y).backward()`` then ``optimizer.step()``; any model.
* ``hand``: the gradients straight from the model's ``cost_and_grads`` (for logistic
  regression on CUDA, the fused Triton kernel), skipping autograd's engine.
* ``graph``: on CUDA, full-batch gd captured once in a CUDA graph and replayed, so a
  step costs one launch.
* ``newton``: ``Newton.step_on(x, y)`` (an optimizer that ``needs_data``).
* ``reduced``: under torchrun, L-BFGS's closure takes the gradients from the model's
  ``cost_and_grads``, which all-reduces every worker's sums (``reduced_model.ReducedModel``),
  so every worker takes the same step; gd, sgd and adam take the ``hand`` step on it.
  A sparse x (``nn.sparse.SparseRows``) takes the same two steps.

The choice asks what the model and optimizer can do, never what class the model is.
No step reads a value on the host (``newton`` and ``lbfgs`` excepted, which test
convergence each step), so a run syncs only when it logs.

A step takes (x, y, sample_weight or None); ``l2_rows`` is the full training count
(or Σs), fixed for the run, so that a mini-batch's L2 term is that of the whole data.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import Tensor

from .capabilities import capabilities

logger = logging.getLogger(__name__)

StepFn = Callable[[Tensor, Tensor, Tensor | None], None]


def make_step(model, optimizer, x_example: Tensor, full_batch: bool, l2_rows=None) -> tuple[str, StepFn]:
    """Pick the fastest step that computes the same update.  Returns (kind, step(x, y, sample_weight)).

    It asks the optimizer's ``capabilities`` and the model's methods, never their classes."""
    can = capabilities(optimizer)
    if can.needs_data:
        return "newton", lambda x, y, s: optimizer.step_on(x, y, s, l2_rows)
    # Under torchrun never autograd's gradient of this worker's rows alone; a sparse x (``nn.sparse``)
    # has no autograd path: the gradients come from the model's ``cost_and_grads`` in both cases.
    if getattr(model, "distributed", False) or not isinstance(x_example, Tensor):
        if can.needs_closure:
            return "reduced", _reduced_closure_step(model, optimizer, l2_rows)
        return "hand", _hand_step(model, optimizer, l2_rows)
    if can.needs_closure or not hasattr(model, "cost_and_grads"):
        return "autograd", _autograd_step(model, optimizer, l2_rows)
    step = _hand_step(model, optimizer, l2_rows)
    if x_example.is_cuda and full_batch and can.plain_update:
        return "graph", _graph_step(model, step)
    return "hand", step


def _autograd_step(model, optimizer, l2_rows) -> StepFn:
    def step(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
        def closure():
            optimizer.zero_grad(set_to_none=True)
            cost = model.cost(x, y, sample_weight=sample_weight, l2_rows=l2_rows)
            cost.backward()
            return cost

        optimizer.step(closure)

    return step


def _reduced_closure_step(model, optimizer, l2_rows) -> StepFn:
    params = list(model.parameters())

    def step(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
        def closure():
            cost, grads = model.cost_and_grads(
                x, y, sample_weight=sample_weight, l2_rows=l2_rows, with_cost=True
            )
            for param, grad in zip(params, grads):
                param.grad = grad
            return cost

        optimizer.step(closure)

    return step


def _hand_step(model, optimizer, l2_rows) -> StepFn:
    # Detached views share the parameters' storage: the update builds no autograd
    # graph, without paying for a no_grad context each step.
    params = list(model.parameters())
    detached = [p.detach() for p in params]
    cost_and_grads = model.cost_and_grads

    if capabilities(optimizer).plain_update:
        group = optimizer.param_groups[0]  # the one source of the learning rate, also after a resume

        def gd_step(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
            # The optimizer's update p := p − lr·∇p, inlined: on small data its bookkeeping costs
            # as much as the whole gradient (benchmarks/step_time.py).
            _, grads = cost_and_grads(x, y, sample_weight=sample_weight, l2_rows=l2_rows)
            lr = group["lr"]
            for param, grad in zip(detached, grads):
                param.sub_(grad, alpha=lr)

        return gd_step

    def step(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
        _, grads = cost_and_grads(x, y, sample_weight=sample_weight, l2_rows=l2_rows)
        for param, grad in zip(params, grads):
            param.grad = grad
        optimizer.step()

    return step


def _graph_step(model, step: StepFn) -> StepFn:
    """Capture ``step`` on the first call's tensors (the run's fixed full batch); replays
    ignore their arguments."""
    graph = torch.cuda.CUDAGraph()
    captured = {}

    def replay(x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
        if not captured:
            _capture(graph, model, step, x, y, sample_weight)
            captured["inputs"] = (x, y, sample_weight)  # the graph reads their memory: keep them alive
        graph.replay()

    return replay


def _capture(graph, model, step: StepFn, x: Tensor, y: Tensor, sample_weight: Tensor | None) -> None:
    saved = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up: compiles kernels and settles the allocator
            step(x, y, sample_weight)
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(graph):
        step(x, y, sample_weight)
    with torch.no_grad():  # warm-up and capture must not count as steps
        for p, value in zip(model.parameters(), saved):
            p.copy_(value)
