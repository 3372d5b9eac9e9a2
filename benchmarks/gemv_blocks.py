"""The products the one-pass gradient is made of, on one cache-resident block: ``benchmarks.gemv_blocks``.

    python -m benchmarks.gemv_blocks [--n 128] [--threads 1] [--repeats 9]

Per 1 MB block of float32 x (rows, n), in one process, interleaved, median and min µs of:
torch's ``mv`` (MKL in the PyTorch wheels, what the row-block path runs), NumPy's ``dot``
(OpenBLAS in the NumPy wheels, what ``nn/one_pass.py`` runs) with w as a vector and as an
(n, 1) matrix, and the transposed product dzᵀx of each; then ``one_pass.grads`` on 1M×n at
block sizes of 256 KB to 16 MB beside the floor, one ``x.sum()``.  Why the one pass goes
through NumPy and why its blocks are 1 MB.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from torch_logreg.nn import functional, one_pass
from torch_logreg.threads import blas_on_calling_thread


def interleaved(cases: dict, inner: dict, repeats: int) -> dict:
    """{name: (median, min)} seconds per call, the cases taking turns."""
    samples = {name: [] for name in cases}
    for call in cases.values():
        call()
    for _ in range(repeats):
        for name, call in cases.items():
            begin = time.perf_counter()
            for _ in range(inner[name]):
                call()
            samples[name].append((time.perf_counter() - begin) / inner[name])
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gemv_blocks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the one-pass sweep")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    rows = (1 << 20) // (args.n * 4)
    x = torch.randn(rows, args.n, generator=gen)
    w, dz = torch.randn(args.n, generator=gen), torch.randn(rows, generator=gen)
    xn, wn, wcol, dzn = x.numpy(), w.numpy(), w.numpy()[:, None].copy(), dz.numpy()
    cases = {
        "torch mv(x, w)": lambda: torch.mv(x, w),
        "numpy dot(x, w)": lambda: np.dot(xn, wn),
        "numpy dot(x, w (n, 1))": lambda: np.dot(xn, wcol),
        "torch mv(xᵀ, dz)": lambda: torch.mv(x.T, dz),
        "numpy dot(dz, x)": lambda: np.dot(dzn, xn),
    }
    with blas_on_calling_thread():
        found = interleaved(cases, dict.fromkeys(cases, 300), args.repeats)
    print(
        f"one block of {rows}×{args.n} float32 (1 MB), torch threads {args.threads}, NumPy's BLAS on the "
        f"calling thread; µs per call, median (min) of {args.repeats}:"
    )
    for name, (median, least) in found.items():
        print(f"  {name:24s} {median * 1e6:8.1f} ({least * 1e6:8.1f})")

    big = torch.randn(args.rows, args.n, generator=gen)
    y = (torch.rand(args.rows, generator=gen) < 0.5).float()
    weight, bias = torch.randn(1, args.n, generator=gen) * 0.1, torch.zeros(1)
    sweep = {"floor: x.sum()": lambda: big.sum()}
    for block_bytes in (1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 24):
        sweep[f"one pass, {block_bytes >> 10} KB blocks"] = lambda b=block_bytes: one_pass.grads(
            big, weight, bias, functional.logistic_cost_backward, y, args.rows, None, block_bytes=b
        )
    found = interleaved(sweep, dict.fromkeys(sweep, 1), args.repeats)
    floor = found["floor: x.sum()"][0]
    print(f"{args.rows}×{args.n} float32, ms per call, median (min), × the floor's median:")
    for name, (median, least) in found.items():
        print(f"  {name:28s} {median * 1e3:8.2f} ({least * 1e3:8.2f})  {median / floor:5.2f}×")


if __name__ == "__main__":
    main()
