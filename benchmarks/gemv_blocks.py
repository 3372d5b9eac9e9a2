"""The parts the one-pass gradient is made of, block by block: ``benchmarks.gemv_blocks``.

    python -m benchmarks.gemv_blocks [--n 128] [--rows 1000000] [--threads 2] [--repeats 9]

Float32, in one process, interleaved, median and min of ``--repeats``; every table beside the floor,
one ``x.sum()`` measured in the same table:

1. one 1 MB block (rows, n) in cache, µs per call: torch's ``mv`` (MKL in the PyTorch wheels),
   NumPy's ``dot`` (OpenBLAS) with w as a vector and as an (n, 1) matrix, NumPy's row dot products
   (``vecdot``, ``einsum``), and the transposed product dzᵀx;
2. the same logits products over all of x (``--rows`` × n), block after block from memory, µs per
   block: a product fast in cache can read memory at half the speed of one plain read;
3. the one-neuron dz formula on every block of x's logits, µs per block, on 1 and 2 threads
   (``threads.in_parallel``): the torch formula against its NumPy twin (``nn/numpy_formulas.py``);
4. the one pass's own parts on 1 and 2 threads, µs per block: logits alone, + dzᵀx, + dz (the
   whole step), and then ``one_pass.grads`` at block sizes of 256 KB to 4 MB.

Why the one pass computes one neuron's logits by row dot products and its dz in NumPy, and why its
blocks are 1 MB.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from torch_logreg.nn import formulas, numpy_formulas, one_pass
from torch_logreg.threads import blas_on_calling_thread, in_parallel


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


def print_table(title: str, found: dict, unit: float, unit_name: str, floor: str | None = None) -> None:
    """Each case's median (min) in ``unit_name`` (seconds ÷ ``unit``), and × the floor's when given."""
    print(f"{title}; {unit_name}, median (min):")
    base = found[floor] if floor else None
    for name, (median, least) in found.items():
        ratio = f"  {median / base[0]:5.2f}× ({least / base[1]:5.2f}×) the floor" if base else ""
        print(f"  {name:44s} {median / unit:9.2f} ({least / unit:9.2f}){ratio}")


def in_cache(n: int, repeats: int) -> None:
    gen = torch.Generator().manual_seed(0)
    rows = (1 << 20) // (n * 4)
    x = torch.randn(rows, n, generator=gen)
    w, dz = torch.randn(n, generator=gen), torch.randn(rows, generator=gen)
    xn, wn, wcol, dzn = x.numpy(), w.numpy(), w.numpy()[:, None].copy(), dz.numpy()
    cases = {
        "torch mv(x, w)": lambda: torch.mv(x, w),
        "numpy dot(x, w)": lambda: np.dot(xn, wn),
        "numpy dot(x, w (n, 1))": lambda: np.dot(xn, wcol),
        "numpy einsum('ij,j->i', x, w)": lambda: np.einsum("ij,j->i", xn, wn),
        "torch mv(xᵀ, dz)": lambda: torch.mv(x.T, dz),
        "numpy dot(dz, x)": lambda: np.dot(dzn, xn),
    }
    if hasattr(np, "vecdot"):
        cases["numpy vecdot(x, w)"] = lambda: np.vecdot(xn, wn)
    with blas_on_calling_thread():
        found = interleaved(cases, dict.fromkeys(cases, 300), repeats)
    print_table(
        f"1. one block of {rows}×{n} float32 (1 MB) in cache, NumPy's BLAS on one thread", found, 1e-6, "µs"
    )


def _over_blocks(rows_total: int, rows: int, call) -> callable:
    """run(indices=all blocks) calling ``call(index, start, stop)`` for each block, in_parallel's way."""

    def run(indices=None) -> None:
        for index in range(-(-rows_total // rows)) if indices is None else indices:
            call(index, index * rows, (index + 1) * rows)

    return run


def from_memory(x: torch.Tensor, repeats: int) -> None:
    xn, rows = x.numpy(), one_pass.block_rows(x)
    w = np.random.default_rng(0).standard_normal(x.shape[1]).astype(np.float32)
    z = np.empty(x.shape[0], np.float32)
    xt, wt, zt = x, torch.from_numpy(w), torch.from_numpy(z)
    blocks = -(-x.shape[0] // rows)
    cases = {"floor: x.sum()": lambda: x.sum()}
    for name, product in one_pass.ROW_PRODUCTS.items():
        cases[f"numpy {name}, block after block"] = _over_blocks(
            x.shape[0], rows, lambda i, a, b, product=product: product(xn[a:b], w, z[a:b])
        )
    cases["torch mv, block after block"] = _over_blocks(
        x.shape[0], rows, lambda i, a, b: torch.mv(xt[a:b], wt, out=zt[a:b])
    )
    with blas_on_calling_thread():
        found = interleaved(cases, dict.fromkeys(cases, 1), repeats)
    title = f"2. z = x w over {x.shape[0]}×{x.shape[1]} float32 from memory, one thread, {blocks} blocks"
    print_table(title, found, 1e-6 * blocks, "µs per block", "floor: x.sum()")


def dz_formulas(x: torch.Tensor, repeats: int) -> None:
    rows_total, rows = x.shape[0], one_pass.block_rows(x)
    gen = torch.Generator().manual_seed(1)
    z, y = torch.randn(rows_total, generator=gen), (torch.rand(rows_total, generator=gen) < 0.5).float()
    dz = torch.empty(rows_total)
    zn, yn, dzn = z.numpy(), y.numpy(), dz.numpy()
    blocks = -(-rows_total // rows)
    z_blocks, y_blocks, dz_blocks = z.split(rows), y.split(rows), dz.split(rows)
    torch_formula = _over_blocks(
        rows_total,
        rows,
        lambda i, a, b: formulas.logistic_cost_backward(
            z_blocks[i], y_blocks[i], rows_total, out=dz_blocks[i]
        ),
    )
    twin = _over_blocks(
        rows_total,
        rows,
        lambda i, a, b: numpy_formulas.logistic_cost_backward(zn[a:b], yn[a:b], rows_total, None, dzn[a:b]),
    )
    cases = {}
    for workers in (1, 2):
        cases[f"torch formula, {workers} thread(s)"] = lambda w=workers: in_parallel(torch_formula, blocks, w)
        cases[f"numpy twin, {workers} thread(s)"] = lambda w=workers: in_parallel(twin, blocks, w)
    with np.errstate(over="ignore"):
        found = interleaved(cases, dict.fromkeys(cases, 1), repeats)
    print_table(
        f"3. one neuron's dz on {blocks} blocks of {rows} logits", found, 1e-6 * blocks, "µs per block"
    )


def step_parts(x: torch.Tensor, repeats: int) -> None:
    """The one pass's block loop with parts left out, and ``one_pass.grads`` at several block sizes."""
    rows_total, n = x.shape
    gen = torch.Generator().manual_seed(2)
    y = (torch.rand(rows_total, generator=gen) < 0.5).float()
    weight, bias = torch.randn(1, n, generator=gen) * 0.1, torch.zeros(1)
    xn, w, rows = x.numpy(), weight.reshape(-1).numpy(), one_pass.block_rows(x)
    blocks = -(-rows_total // rows)
    z, dz, shares = (np.empty(shape, np.float32) for shape in (rows_total, rows_total, (blocks, n)))
    yn = y.numpy()
    product = one_pass.ROW_PRODUCTS[one_pass.row_product(x)]

    def part(dz_too: bool, formula_too: bool):
        def call(i, a, b):
            product(xn[a:b], w, z[a:b])
            if formula_too:
                numpy_formulas.logistic_cost_backward(z[a:b], yn[a:b], rows_total, None, dz[a:b])
            if dz_too:
                np.dot(dz[a:b], xn[a:b], out=shares[i])

        return _over_blocks(rows_total, rows, call)

    loss = formulas.logistic_cost_backward
    cases = {"floor: x.sum()": lambda: x.sum()}
    for workers in (1, 2):
        for name, run in (
            ("logits", part(False, False)),
            ("logits + dzᵀx", part(True, False)),
            ("logits + dz + dzᵀx", part(True, True)),
        ):
            cases[f"{name}, {workers} thread(s)"] = lambda r=run, k=workers: in_parallel(r, blocks, k)
        cases[f"one_pass.grads, {workers} thread(s)"] = lambda k=workers: one_pass.grads(
            x, weight, bias, loss, y, rows_total, None, workers=k
        )
    with blas_on_calling_thread(), np.errstate(over="ignore"):
        found = interleaved(cases, dict.fromkeys(cases, 1), repeats)
    title = f"4. the one pass's parts over {rows_total}×{n} float32, {blocks} blocks of 1 MB"
    print_table(title, found, 1e-6 * blocks, "µs per block", "floor: x.sum()")

    sweep = {"floor: x.sum()": lambda: x.sum()}
    for block_bytes in (1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22):
        sweep[f"one pass, {block_bytes >> 10} KB blocks"] = lambda b=block_bytes: one_pass.grads(
            x, weight, bias, loss, y, rows_total, None, block_bytes=b
        )
    found = interleaved(sweep, dict.fromkeys(sweep, 1), repeats)
    print_table(f"   one_pass.grads over {rows_total}×{n} float32", found, 1e-3, "ms", "floor: x.sum()")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gemv_blocks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of x in tables 2 to 4")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    in_cache(args.n, args.repeats)
    x = torch.randn(args.rows, args.n, generator=torch.Generator().manual_seed(0))
    from_memory(x, args.repeats)
    dz_formulas(x, args.repeats)
    step_parts(x, args.repeats)


if __name__ == "__main__":
    main()
