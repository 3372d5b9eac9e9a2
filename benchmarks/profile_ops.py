"""Where the time goes: the hand-written step op by op, and the training loop part by part.

    python -m benchmarks.profile_ops [--sizes 1000000x128,2000000x128] [--iterations 200] [--out DIR]

1. ``torch.profiler`` over hand-written steps (``functional.cost_and_grads`` + the update):
   self CPU time per op, against ``x.sum()`` (one read of X).
2. One ``Trainer.run()`` of gd with its parts wrapped in timers (on the instance; no library
   code changes): the steps, the log steps (``_evaluate``, TensorBoard scalars and
   histograms, the last-good state), and what is left for the loop itself.
3. A what-if, not library code: the same gradients computed chunk by chunk so each block of
   rows is read from memory once and reused from cache (``chunked_one_pass``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from torch_logreg import functional as LF
from torch_logreg.config import load_config
from torch_logreg.trainer import Trainer

from . import machine, problems, timing


def chunked_one_pass(x, y, weight, bias, rows: int = 4096):
    """dW, db of ``cost_and_grads`` with each block of ``rows`` rows read from memory once:
    z = x_b·w + b by an elementwise product and a row sum (a cache-resident buffer), then
    dW += x_bᵀ dz_b while x_b is still in cache.  x: (m, n) -> dW (1, n), db (1,)."""
    m, n = x.shape
    w = weight.reshape(-1)
    product = torch.empty(min(rows, m), n, dtype=x.dtype)
    dweight = torch.zeros(n, dtype=x.dtype)
    dbias = torch.zeros((), dtype=x.dtype)
    for start in range(0, m, rows):
        block = x[start:start + rows]
        k = block.shape[0]
        z = torch.mul(block, w, out=product[:k]).sum(1).add_(bias)  # (k,)
        dz = torch.sigmoid(z).sub_(y[start:start + k]).div_(m)
        dweight.addmv_(block.T, dz)
        dbias += dz.sum()
    return dweight.view(1, n), dbias.reshape(1)


def op_table(x, y, steps: int = 5) -> list[tuple[str, float, int]]:
    """(op, self CPU ms per step, calls per step) of the hand-written step, slowest first."""
    weight, bias = torch.zeros(1, x.shape[1]), torch.zeros(1)

    def step():
        with torch.no_grad():
            _, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, 0.0, with_cost=False)
            weight.sub_(dweight, alpha=0.5)
            bias.sub_(dbias, alpha=0.5)

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    rows = [(e.key, e.self_cpu_time_total / 1e3 / steps, e.count // steps) for e in prof.key_averages()]
    return sorted((r for r in rows if r[1] > 0.001), key=lambda r: -r[1])


def trainer_parts(data_overrides: list[str], iterations: int, root: Path) -> dict[str, float]:
    """Seconds spent in each wrapped part of one gd run of ``iterations`` iterations."""
    config = load_config(None, [*data_overrides, f"train.iterations={iterations}", "train.print_cost=false",
                                "train.checkpoint_every=0", "train.device=cpu"])
    trainer = Trainer(config, root / "run")
    spent: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - begin
        return wrapper

    names = ["steps", "log steps, all", "↳ _evaluate: costs, accuracies, grad norm", "↳ _state: last-good copy",
             "↳ TensorBoard scalars", "↳ TensorBoard histograms", "finish: checkpoint, metrics, PR curve"]
    trainer.step = timed(names[0], trainer.step)
    trainer._log = timed(names[1], trainer._log)
    trainer._evaluate = timed(names[2], trainer._evaluate)
    trainer._state = timed(names[3], trainer._state)
    trainer.writer.scalars = timed(names[4], trainer.writer.scalars)
    trainer.writer.histograms = timed(names[5], trainer.writer.histograms)
    trainer._finish = timed(names[6], trainer._finish)
    begin = time.perf_counter()
    trainer.run()
    total = time.perf_counter() - begin
    parts = {name: spent[name] for name in names}
    parts["the loop itself: run() − steps − log steps − finish"] = total - spent[names[0]] - spent[names[1]] - spent[
        names[6]]
    parts["run() total"] = total
    return parts


def _step_lines(x, y) -> list[str]:
    """The step against the floor and the what-if, then the hand-written step op by op."""
    weight, bias = torch.zeros(1, x.shape[1]) + 0.01, torch.zeros(1)
    times = timing.interleaved_medians({
        "floor": (lambda: x.sum(), "cpu"),
        "eager": (lambda: LF.cost_and_grads(x, y, weight, bias), "cpu"),
        "chunked": (lambda: chunked_one_pass(x, y, weight, bias), "cpu"),
    }, repeats=7, min_seconds=0.05)
    floor, eager, chunked = (times[k]["seconds"] * 1e3 for k in ("floor", "eager", "chunked"))
    fastest = {k: times[k]["min"] * 1e3 for k in times}
    _, ref_dw, ref_db = LF.cost_and_grads(x, y, weight, bias)
    dw, db = chunked_one_pass(x, y, weight, bias)
    error = max(float((dw - ref_dw).abs().max()), float((db - ref_db).abs().max()))
    lines = ["Median (and fastest) of 7 interleaved repeats:", "",
             "| what | ms | fastest ms | × floor |", "|---|---|---|---|",
             f"| x.sum() (one read of X) | {floor:.3g} | {fastest['floor']:.3g} | 1.0 |",
             f"| cost_and_grads (eager, no cost) | {eager:.3g} | {fastest['eager']:.3g} | {eager / floor:.1f} |",
             f"| what-if: chunked_one_pass, 4096 rows | {chunked:.3g} | {fastest['chunked']:.3g} | "
             f"{chunked / floor:.1f} |", "",
             f"chunked_one_pass vs cost_and_grads: max |difference| {error:.1e}. It runs four small parallel ops "
             "per block; when another process holds a core, each waits for a descheduled OpenMP thread, so on a "
             "busy machine its median balloons while one large BLAS call does not (see the load average above).", "",
             "Hand-written step (cost_and_grads, no cost, + update), torch.profiler self CPU time:", "",
             "| op | ms/step | calls/step | × floor |", "|---|---|---|---|"]
    for name, ms, calls in op_table(x, y):
        lines.append(f"| {name} | {ms:.3g} | {calls} | {ms / floor:.2f} |")
    return lines


def profile_size(size: problems.Size, iterations: int) -> str:
    if size.default_data:
        x, y = (t.float() for t in problems.default_train_split())
        iterations *= 10
    else:
        x, y = problems.synthetic(size.m, size.n)
    lines = [f"## {size.label}: X is {x.numel() * 4 / 1e9:.3g} GB float32 ({x.shape[0]} training rows)", ""]
    lines += _step_lines(x, y)
    with tempfile.TemporaryDirectory(prefix="logreg-profile-") as folder:
        root = Path(folder)
        data = []
        if not size.default_data:
            train_file = problems.write_npy(root / "train.npy", x, y)
            x_test, y_test = problems.synthetic(10_000, size.n, seed=1)
            test_file = problems.write_npy(root / "test.npy", x_test, y_test)
            data = [f"data.path={train_file}", f"data.test_path={test_file}", "data.standardize=false"]
        del x, y
        parts = trainer_parts(data, iterations, root)
    lines += ["", f"One Trainer.run() of gd, {iterations} iterations, log_every=100 "
              f"({iterations // 100 + 1} log steps), per part:", "",
              "| part | s | µs per iteration | share of run() |", "|---|---|---|---|"]
    for name, seconds in parts.items():
        share = 100 * seconds / parts["run() total"]
        lines.append(f"| {name} | {seconds:.4g} | {seconds / iterations * 1e6:.4g} | {share:.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_ops", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="569x30,1000000x128,2000000x128",
                        help="comma-separated MxN; 569x30 is the default data's training split")
    parser.add_argument("--iterations", type=int, default=200, help="trainer iterations (×10 on the default data)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args(argv)
    sizes = [problems.Size(*map(int, item.lower().split("x"))) for item in args.sizes.split(",")]
    info = machine.describe("cpu")
    text = [f"# Profile: {info['cpu_model']}, {info['torch_threads']} torch threads, torch {info['torch']}, "
            f"load average {info['load_average_at_start']}", ""]
    for size in sizes:
        print(f"[profile] {size.label}", file=sys.stderr, flush=True)
        text.append(profile_size(size, args.iterations))
    report = "\n".join(text)
    print(report)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"profile-{machine.result_stem(info, quick=False)}.md"
        path.write_text(report, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
