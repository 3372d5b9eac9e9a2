"""Our Newton fit in a process that runs scikit-learn, OpenBLAS free or held: ``benchmarks.threads_time``.

    python -m benchmarks.threads_time [--sizes 569x30,100000x100,1000000x2] [--repeats 7] [--out DIR]

One process imports NumPy and scikit-learn first, as a notebook does.  For each size, the
fits take turns: scikit-learn's ``LogisticRegression(solver="newton-cholesky")``, then ours
(``LogisticRegressionClassifier(optimizer="newton")``, to the same optimum) in one of two
variants, each right after a scikit-learn fit:

* ``before``: ``nn.one_pass`` calls NumPy's products with OpenBLAS at its default thread count
  and ``train`` keeps torch's threads (``threads.blas_on_calling_thread`` and
  ``threads.torch_threads_for`` replaced by no-ops for the duration);
* ``after``: as shipped: OpenBLAS on the calling thread inside the one pass, and torch on one
  thread for x under ``threads.SMALL_X_BYTES``.

Prints per size the median and min ms of each, the ratio newton-cholesky ÷ ours (> 1: ours is
faster), and the CPU time each kind of thread spent during our fit, from /proc/self/task:
the main thread, the BLAS workers (the threads there before torch started any) and torch's
OpenMP threads.  Writes ``threads-<commit>.json`` (and ``.md``) into ``--out``
(``benchmarks/results/local`` by default).  A benchmark, not a test.
"""

from __future__ import annotations

import os
import threading

import numpy as np  # NumPy and scikit-learn first, as the user's process has them
import scipy.linalg
from sklearn.linear_model import LogisticRegression


def _blas_threads() -> set[int]:
    """Thread ids of NumPy's and SciPy's OpenBLAS workers: every thread there is once each has run a
    multi-threaded product, before torch starts any."""
    square = np.ones((256, 256))
    square @ square
    scipy.linalg.blas.dgemm(1.0, square, square)
    if not os.path.isdir("/proc/self/task"):
        return set()
    return {int(t) for t in os.listdir("/proc/self/task")} - {threading.get_native_id()}


BLAS_THREADS = _blas_threads()

import argparse
import contextlib
import json
import statistics
import time
import warnings
from pathlib import Path

import torch

from torch_logreg import threads
from torch_logreg.nn import one_pass
from torch_logreg.sklearn import LogisticRegressionClassifier

from .machine import describe
from .problems import Size

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICK_MS = 1e3 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10.0


def thread_cpu_ms() -> dict[int, float]:
    """{thread id: user + system CPU ms} of every thread of this process ({} where /proc is absent)."""
    found = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"/proc/self/task/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
                found[int(name)] = (int(fields[11]) + int(fields[12])) * CLOCK_TICK_MS
    return found


def by_kind(before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    main = threading.get_native_id()
    kinds = {"main": 0.0, "BLAS workers": 0.0, "torch threads": 0.0}
    for tid, ms in after.items():
        kind = "main" if tid == main else "BLAS workers" if tid in BLAS_THREADS else "torch threads"
        kinds[kind] += ms - before.get(tid, 0.0)
    return kinds


def problem(size: Size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size.m, size.n))
    y = (rng.random(size.m) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, -1]))).astype(np.int64)
    return x, y


def measure(size: Size, repeats: int) -> dict:
    x, y = problem(size)

    def sklearn_fit():
        LogisticRegression(solver="newton-cholesky").fit(x, y)

    def ours():
        LogisticRegressionClassifier(optimizer="newton").fit(x, y)

    def before():
        with contextlib.ExitStack() as stack:
            stand_ins = (
                (one_pass, "blas_on_calling_thread", contextlib.nullcontext),
                (threads, "torch_threads_for", lambda x, count: contextlib.nullcontext()),
            )
            for module, name, stand_in in stand_ins:
                stack.callback(setattr, module, name, getattr(module, name))
                setattr(module, name, stand_in)
            ours()

    variants = {"before": before, "after": ours}
    seconds = {name: [] for name in ["newton-cholesky", *variants]}
    cpu = {name: [] for name in variants}
    sklearn_fit(), ours(), before()  # warm-up
    for _ in range(repeats):
        for name, fit in variants.items():
            begin = time.perf_counter()
            sklearn_fit()
            seconds["newton-cholesky"].append(time.perf_counter() - begin)
            threads_before = thread_cpu_ms()
            begin = time.perf_counter()
            fit()
            seconds[name].append(time.perf_counter() - begin)
            cpu[name].append(by_kind(threads_before, thread_cpu_ms()))
    sk = statistics.median(seconds["newton-cholesky"])
    row = {
        "size": size.label,
        "m": size.m,
        "n": size.n,
        "repeats": repeats,
        "newton-cholesky ms": sk * 1e3,
        "newton-cholesky min ms": min(seconds["newton-cholesky"]) * 1e3,
    }
    for name in variants:
        median = statistics.median(seconds[name])
        row[name] = {
            "ms": median * 1e3,
            "min ms": min(seconds[name]) * 1e3,
            "vs newton-cholesky": sk / median,
            "cpu ms": {kind: statistics.median(c[kind] for c in cpu[name]) for kind in cpu[name][0]},
        }
    return row


def table(rows: list[dict]) -> list[str]:
    lines = [
        (
            "| size | newton-cholesky ms | ours before ms | before ÷ | ours after ms | after ÷ | "
            "CPU ms of our fit after: main / BLAS workers / torch threads (before) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        before, after = row["before"], row["after"]
        cpu = " / ".join(f"{after['cpu ms'][k]:.0f} ({before['cpu ms'][k]:.0f})" for k in after["cpu ms"])
        lines.append(
            f"| {row['size']} | {row['newton-cholesky ms']:.2f} | {before['ms']:.2f} | "
            f"{before['vs newton-cholesky']:.2f}× | {after['ms']:.2f} | "
            f"{after['vs newton-cholesky']:.2f}× | {cpu} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.threads_time", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="569x30,100000x100,1000000x2")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/local")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    info = describe("cpu")  # the commit and load as the run starts
    rows = []
    for part in args.sizes.split(","):
        size = Size(*(int(v) for v in part.lower().split("x")))
        rows.append(measure(size, args.repeats))
        print("\n".join(table(rows)[-1:]), flush=True)
    lines = [
        "# Our Newton fit in a process that runs scikit-learn",
        "",
        (
            f"`python -m benchmarks.threads_time --sizes {args.sizes} --repeats {args.repeats}` at "
            f"{info['git_commit']}; torch threads {torch.get_num_threads()}; load average at the start "
            f"{info['load_average_at_start']}."
        ),
        "",
        *table(rows),
        "",
        (
            "÷: newton-cholesky's median time ÷ ours (> 1: ours is faster), each fit right after a "
            "scikit-learn fit; medians of interleaved repeats."
        ),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"threads-{info['git_commit']}"
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"written {stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
