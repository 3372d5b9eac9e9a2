"""Where a one-neuron Newton solve spends its steps: ``python -m benchmarks.newton_parts``.

    python -m benchmarks.newton_parts [--size 100000x100] [--repeats 5] [--hessian-rows auto] [--cpu]

Solves the estimator's problem (l2 = 1, float64, synthetic logistic data as ``fit_parts``) with
``Newton.step_on`` to convergence, each of the functions its steps call wrapped by a timer: the
cost-and-gradient pass (``_cost_and_gradient``), the fused cost-gradient-Hessian pass
(``cost_grad_hessian``), the Hessian (``hessian``, sampled or exact) and the Cholesky solve (x up to
1 MB takes the in-cache step, whose ops are not split here: only its solve shows).  Prints,
for the fastest of ``--repeats`` solves, the steps, the total and each part's total and count.
``--cpu``: the calling thread's CPU time on one thread (torch and BLAS), steadier than wall time on a
shared machine.  Prints only; a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from torch_logreg.nn.logistic import LogisticRegression
from torch_logreg.training import newton, newton_one_neuron

from .problems import Size

# (owner, attribute, label): the owner's attribute is replaced by a timed wrapper for the run.
PARTS = [
    (newton_one_neuron, "_cost_and_gradient", "cost and gradient pass"),
    (newton_one_neuron.LF, "cost_grad_hessian", "cost, gradient and Hessian pass"),
    (newton_one_neuron.LF, "hessian", "Hessian"),
    (newton_one_neuron, "_solve", "Cholesky solve"),
]


def _problem(size: Size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size.m, size.n))
    y = (rng.random(size.m) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, -1]))).astype(np.float64)
    return torch.from_numpy(x), torch.from_numpy(y)


def solve(x, y, hessian_rows: int, clock, totals: dict, counts: collections.Counter) -> tuple[int, float]:
    """(steps, seconds) of one solve from zeros, each part's time added into ``totals``."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in PARTS]

    def timed(original, label):
        def wrapper(*args, **kwargs):
            begin = clock()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += clock() - begin
                counts[label] += 1

        return wrapper

    for (owner, name, original), (_, _, label) in zip(originals, PARTS):
        setattr(owner, name, timed(original, label))
    try:
        model = LogisticRegression(x.shape[1], l2=1.0, dtype=x.dtype)
        optimizer = newton.Newton(model, hessian_rows=hessian_rows)
        begin, steps = clock(), 0
        while not optimizer.converged and not optimizer.stalled and steps < 100:
            optimizer.step_on(x, y)
            steps += 1
        return steps, clock() - begin
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100000x100")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hessian-rows", default="auto", help="auto, or a row count (0: every row)")
    parser.add_argument("--cpu", action="store_true", help="one thread, the thread's CPU time")
    args = parser.parse_args()
    size = Size(*map(int, args.size.split("x")))
    rows = (
        newton.auto_hessian_rows(size.m, size.n + 1)
        if args.hessian_rows == "auto"
        else int(args.hessian_rows)
    )
    x, y = _problem(size)
    clock = time.thread_time if args.cpu else time.perf_counter
    if args.cpu:
        torch.set_num_threads(1)
    with threadpool_limits(1 if args.cpu else None):
        best = None
        for _ in range(args.repeats):
            totals, counts = collections.defaultdict(float), collections.Counter()
            steps, seconds = solve(x, y, rows, clock, totals, counts)
            if best is None or seconds < best[1]:
                best = (steps, seconds, dict(totals), dict(counts))
    steps, seconds, totals, counts = best
    kind = "CPU ms on one thread" if args.cpu else f"wall ms, {torch.get_num_threads()} torch threads"
    print(f"{size.m}x{size.n}, hessian_rows={rows}: {steps} steps, {seconds * 1e3:.1f} ms ({kind})")
    for label, total in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label}: {total * 1e3:.1f} ms in {counts[label]} calls")


if __name__ == "__main__":
    main()
