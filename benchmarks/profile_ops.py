"""Where the time goes: the hand-written step op by op, and the training loop part by part.

    python -m benchmarks.profile_ops [--sizes 569x30,1000000x2,1000000x128] [--iterations 200] [--out DIR]

1. ``torch.profiler`` over hand-written steps (``nn.functional.cost_and_grads`` + the update):
   self CPU time per op, against ``x.sum()`` (one read of X).
2. One gd ``train()`` split by public calls only (nothing patched, so a refactor of the
   trainer cannot break it): the step of ``training.steps.make_step`` timed alone, ``train(save=False)``
   (adds the log steps, start-up, the final metrics) and ``train(save=True)`` (adds the run
   folder, TensorBoard, the checkpoint); then torch_logreg's functions in that run by
   cumulative time under ``cProfile``.
3. A what-if, not library code: the same gradients computed chunk by chunk so each block of
   rows is read from memory once and reused from cache (``chunked_one_pass``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from torch_logreg import LogisticRegression, load_config, train
from torch_logreg.nn import functional as LF
from torch_logreg.training.optim import GradientDescent
from torch_logreg.training.steps import make_step

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
        block = x[start : start + rows]
        k = block.shape[0]
        z = torch.mul(block, w, out=product[:k]).sum(1).add_(bias)  # (k,)
        dz = torch.sigmoid(z).sub_(y[start : start + k]).div_(m)
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


def train_parts(x, y, data, iterations: int, root: Path, repeats: int = 3) -> dict[str, float]:
    """Where one gd ``train()`` of ``iterations`` iterations spends its time, from public calls only.

    The step is ``training.steps.make_step``'s, timed alone; ``train(save=False)`` adds the log
    steps, start-up and the final metrics; ``train(save=True)`` adds the run folder,
    TensorBoard and the checkpoint.  ``data`` is a ``Split`` (None: the default data).
    """
    config = load_config(
        None,
        [
            "optimizer.name=gd",
            "optimizer.lr=0.5",
            f"train.iterations={iterations}",
            "train.print_cost=false",
            "train.device=cpu",
        ],
    )
    model = LogisticRegression(x.shape[1])
    _, step = make_step(model, GradientDescent(model.parameters(), lr=0.5), x, True)
    per_step = timing.interleaved_medians(
        {"step": (lambda: step(x, y, None), "cpu")}, repeats=repeats, min_seconds=0.05
    )["step"]["seconds"]
    train(config, data=data, save=False)  # warm-up
    quiet = statistics.median(
        timing.wall(lambda: train(config, data=data, save=False), "cpu") for _ in range(repeats)
    )
    saved = []
    for attempt in range(repeats):
        saved.append(timing.wall(lambda: train(config, root / f"run{attempt}", data=data), "cpu"))
    steps = per_step * iterations
    return {
        "steps: iterations × the step of training.steps.make_step, timed alone": steps,
        "log steps, start-up, final metrics: train(save=False) − steps": quiet - steps,
        "train(save=False) total": quiet,
        "run folder, TensorBoard, checkpoint: train(save=True) − train(save=False)": statistics.median(saved)
        - quiet,
        "train(save=True) total": statistics.median(saved),
    }


def profile_listing(data, iterations: int, root: Path, top: int = 15) -> list[tuple[str, float, int]]:
    """(function, cumulative seconds, calls) of torch_logreg's functions in one ``train(save=True)``
    under cProfile, the slowest first.  cProfile adds ~1 µs per Python call, so on small
    data the step's share is inflated."""
    config = load_config(
        None,
        [
            "optimizer.name=gd",
            "optimizer.lr=0.5",
            f"train.iterations={iterations}",
            "train.print_cost=false",
            "train.device=cpu",
        ],
    )
    profiler = cProfile.Profile()
    profiler.runcall(train, config, root / "profiled", data=data)
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, function), (_, calls, _, cumulative, _) in stats.stats.items():
        if f"torch_logreg{os.sep}" in filename:
            module = filename.split(f"torch_logreg{os.sep}", 1)[1].removesuffix(".py").replace(os.sep, ".")
            rows.append((f"{module}.{function}", cumulative, calls))
    return sorted(rows, key=lambda row: -row[1])[:top]


def _step_lines(x, y, repeats: int) -> list[str]:
    """The step against the floor and the what-if, then the hand-written step op by op."""
    weight, bias = torch.zeros(1, x.shape[1]) + 0.01, torch.zeros(1)
    times = timing.interleaved_medians(
        {
            "floor": (lambda: x.sum(), "cpu"),
            "eager": (lambda: LF.cost_and_grads(x, y, weight, bias), "cpu"),
            "chunked": (lambda: chunked_one_pass(x, y, weight, bias), "cpu"),
        },
        repeats=repeats,
        min_seconds=0.05,
    )
    floor, eager, chunked = (times[k]["seconds"] * 1e3 for k in ("floor", "eager", "chunked"))
    fastest = {k: times[k]["min"] * 1e3 for k in times}
    _, ref_dw, ref_db = LF.cost_and_grads(x, y, weight, bias)
    dw, db = chunked_one_pass(x, y, weight, bias)
    error = max(float((dw - ref_dw).abs().max()), float((db - ref_db).abs().max()))
    lines = [
        f"Median (and fastest) of {repeats} interleaved repeats:",
        "",
        "| what | ms | fastest ms | × floor |",
        "|---|---|---|---|",
        f"| x.sum() (one read of X) | {floor:.3g} | {fastest['floor']:.3g} | 1.0 |",
        f"| cost_and_grads (eager, no cost) | {eager:.3g} | {fastest['eager']:.3g} | {eager / floor:.1f} |",
        f"| what-if: chunked_one_pass, 4096 rows | {chunked:.3g} | {fastest['chunked']:.3g} | "
        f"{chunked / floor:.1f} |",
        "",
        f"chunked_one_pass vs cost_and_grads: max |difference| {error:.1e}. It runs four small parallel ops "
        "per block; when another process holds a core, each waits for a descheduled OpenMP thread, so on a "
        "busy machine its median balloons while one large BLAS call does not (see the load average above).",
        "",
        "Hand-written step (cost_and_grads, no cost, + update), torch.profiler self CPU time:",
        "",
        "| op | ms/step | calls/step | × floor |",
        "|---|---|---|---|",
    ]
    for name, ms, calls in op_table(x, y):
        lines.append(f"| {name} | {ms:.3g} | {calls} | {ms / floor:.2f} |")
    return lines


def profile_size(size: problems.Size, iterations: int, repeats: int = 7) -> str:
    if size.default_data:
        x, y = (t.float() for t in problems.default_train_split())
        data = None  # train() loads the default data itself
        iterations *= 10
    else:
        x, y = problems.synthetic(size.m, size.n)
        x_test, y_test = problems.synthetic(10_000, size.n, seed=1)
        data = problems.in_memory_split(x, y, x_test, y_test)
    lines = [f"## {size.label}: X is {x.numel() * 4 / 1e9:.3g} GB float32 ({x.shape[0]} training rows)", ""]
    lines += _step_lines(x, y, repeats)
    with tempfile.TemporaryDirectory(prefix="logreg-profile-") as folder:
        parts = train_parts(x, y, data, iterations, Path(folder), min(3, repeats))
        listing = profile_listing(data, iterations, Path(folder))
    lines += [
        "",
        f"One gd train() of {iterations} iterations, log_every=100 ({iterations // 100 + 1} log steps), "
        f"median of {min(3, repeats)}:",
        "",
        "| part | s | µs per iteration | share of train(save=True) |",
        "|---|---|---|---|",
    ]
    for name, seconds in parts.items():
        share = 100 * seconds / parts["train(save=True) total"]
        lines.append(f"| {name} | {seconds:.4g} | {seconds / iterations * 1e6:.4g} | {share:.1f} % |")
    lines += [
        "",
        "torch_logreg's functions in one train(save=True) under cProfile, by cumulative time "
        "(cProfile adds ~1 µs per Python call: on small data it inflates the step):",
        "",
        "| function | cumulative s | calls |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {seconds:.4g} | {calls} |" for name, seconds, calls in listing]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_ops", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        default="569x30,1000000x2,1000000x128",
        help="comma-separated MxN; 569x30 is the default data's training split",
    )
    parser.add_argument(
        "--iterations", type=int, default=200, help="trainer iterations (×10 on the default data)"
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="interleaved repeats of each timing (train() runs: at most 3)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args(argv)
    sizes = [problems.Size(*map(int, item.lower().split("x"))) for item in args.sizes.split(",")]
    info = machine.describe("cpu")
    text = [
        f"# Profile: {info['cpu_model']}, {info['torch_threads']} torch threads, torch {info['torch']}, "
        f"load average {info['load_average_at_start']}",
        "",
    ]
    for size in sizes:
        print(f"[profile] {size.label}", file=sys.stderr, flush=True)
        text.append(profile_size(size, args.iterations, args.repeats))
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
