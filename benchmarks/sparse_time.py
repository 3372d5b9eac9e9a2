"""Sparse X: ``LogisticRegressionClassifier`` on a scipy.sparse CSR beside scikit-learn's lbfgs.

    python -m benchmarks.sparse_time --out benchmarks/results            # 50,000 × 200,000, 0.05% stored
    python -m benchmarks.sparse_time --rows 5000 --columns 20000 --out /tmp/results   # a smoke check

The matrix is text-like: each row holds ``density·columns`` entries (with repeats summed) in
columns drawn uniformly, positive values, each row scaled to unit norm (as TF-IDF rows are);
labels are drawn from a planted logistic model.  Every fit minimizes the same objective,

    J = mean(softplus(z) − y·z) + (l2/2m)·‖w‖²,   l2 = 1  (scikit-learn's C = 1)

and each method runs in a fresh process of its own (the libraries' thread pools and
allocators otherwise carry over), on the same CSR built from the same seed:

* reference: ours, Newton–CG (``optimizer="newton"``, Hessian-vector products, never the
  (n, n) matrix) run to a gradient of 1e-10: the optimum the others are measured against.
* scikit-learn ``LogisticRegression()`` (lbfgs), ours ``LogisticRegressionClassifier(optimizer="lbfgs")``
  and ``(optimizer="newton")``, each on the same ladder of stopping rules: the gradient test
  (largest entry at most tol, for all three) at scikit-learn's default tol=1e-4, tightened tenfold
  until the probabilities are within 1e-4 of the optimum; that first run is the method's ``matched``
  one, and ``speedup_vs_sklearn`` divides scikit-learn's matched time by ours.

Per method: the ``fit`` time (wall clock, one fit: each takes seconds), ``n_iter_`` (scikit-learn's
L-BFGS iterations; ours: optimizer steps, an lbfgs step being up to 20 L-BFGS iterations), the largest
probability difference from the reference on every training row, and the peak memory
``fit`` adds above what the process held before it (Linux: the peak RSS is reset through
``/proc/self/clear_refs`` just before ``fit``, and read from ``VmHWM`` after), beside the CSR's
own bytes (values + indices + row pointers).  Timings on a shared machine move by tens of
percent; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import json
import multiprocessing
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def text_like(rows: int, columns: int, density: float, seed: int = 0):
    """(X CSR float64 (rows, columns), y (rows,) 0/1): a planted logistic model on unit-norm sparse rows."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    per_row = max(1, round(density * columns))
    cols = rng.integers(0, columns, size=(rows, per_row)).astype(np.int32)
    values = rng.exponential(size=(rows, per_row))
    indptr = np.arange(0, rows * per_row + 1, per_row, dtype=np.int64)
    x = sp.csr_matrix((values.ravel(), cols.ravel(), indptr), shape=(rows, columns))
    x.sum_duplicates()
    x = sp.csr_matrix(x.multiply(1 / np.sqrt(x.multiply(x).sum(1))))
    x.indices, x.indptr = x.indices.astype(np.int32), x.indptr.astype(np.int32)
    w = rng.normal(size=columns) * 8
    y = (rng.random(rows) < 1 / (1 + np.exp(-(x @ w)))).astype(np.int64)
    return x, y


def csr_bytes(x) -> int:
    return x.data.nbytes + x.indices.nbytes + x.indptr.nbytes


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _fit_one(method: str, rows: int, columns: int, density: float, threads: int, tol: float | None) -> dict:
    """In a fresh process: build the matrix, fit once, return the time, peak memory and probabilities."""
    import torch

    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    x, y = text_like(rows, columns, density)
    model = _model(method, tol)
    with threadpool_limits(threads), warnings.catch_warnings():  # a warm-up fit: lazy imports are not timed
        warnings.simplefilter("ignore")
        _model(method, tol).fit(*text_like(200, 1000, 0.01, seed=1))
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(
        0
    )  # freed heap pages (the matrix's temporaries) go back: RSS is what is held
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS (VmHWM) restarts from the current RSS
    with threadpool_limits(threads):
        start = time.perf_counter()
        model.fit(x, y)
        seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    iterations = model.n_iter_
    return {
        "method": method,
        "tol": tol,
        "seconds": seconds,
        "fit_peak_bytes": (peak - before) * 1024,
        "iterations": int(np.asarray(iterations).ravel()[0]),
        "proba": model.predict_proba(x)[:, 1].tolist(),
    }


def _model(method: str, tol: float | None):
    if method.startswith("sklearn"):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, **({} if tol is None else {"tol": tol, "max_iter": 10_000}))
    else:
        from torch_logreg.sklearn import LogisticRegressionClassifier

        optimizer = "lbfgs" if method == "ours-lbfgs" else "newton"
        extra = {"tol": tol, "max_iter": 1000} if tol is not None else {}
        return LogisticRegressionClassifier(l2=1.0, optimizer=optimizer, **extra)


REFERENCE_TOL = 1e-10
SAME_OPTIMUM = 1e-4  # the largest probability difference from the reference that counts as the optimum


def _run_in_fresh_process(args, method: str, tol: float) -> dict:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(
            _fit_one, method, args.rows, args.columns, args.density, args.threads, tol
        ).result()


def _tolerance_ladder(run_one, method: str, reference_proba, size: int) -> list[dict]:
    """The stopping rule compared fairly: every method starts at scikit-learn's default tol=1e-4 (the
    largest gradient entry, for all three) and tightens it tenfold until its probabilities are within
    ``SAME_OPTIMUM`` of the reference; the first such run is marked ``matched``."""
    runs, tol = [], 1e-4
    while tol >= REFERENCE_TOL:
        run = run_one(method, tol)
        run["max_proba_diff"] = float(np.abs(np.array(run.pop("proba")) - reference_proba).max())
        run["matched"] = run["max_proba_diff"] <= SAME_OPTIMUM
        runs.append(run)
        _print_run(run, size)
        if run["matched"]:
            break
        tol = float(f"{tol / 10:g}")
    return runs


def _print_run(run: dict, size: int) -> None:
    print(
        f"{run['method']:14s} tol={run['tol']:<8g} {run['seconds']:8.2f} s  "
        f"iterations {run['iterations']:5d}  "
        f"peak +{run['fit_peak_bytes'] / 2**20:7.1f} MiB ({run['fit_peak_bytes'] / size:.2f}× the CSR)  "
        f"max |Δp| {run['max_proba_diff']:.2e}",
        flush=True,
    )


def _speedups(results: list[dict]) -> dict:
    """scikit-learn's matched fit time ÷ ours, for each of our methods (> 1: ours is faster)."""
    matched = {run["method"]: run for run in results if run.get("matched")}
    theirs = matched.get("sklearn-lbfgs")
    return {
        method: theirs["seconds"] / run["seconds"]
        for method, run in matched.items()
        if theirs is not None and method.startswith("ours")
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--columns", type=int, default=200_000)
    parser.add_argument("--density", type=float, default=0.0005)
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local"))
    args = parser.parse_args(argv)
    x, _ = text_like(args.rows, args.columns, args.density)
    shape, nnz, size = x.shape, x.nnz, csr_bytes(x)
    del x
    run_one = functools.partial(_run_in_fresh_process, args)
    reference = run_one("ours-newton", REFERENCE_TOL)
    reference_proba = reference.pop("proba")
    reference.update(method="reference", max_proba_diff=0.0)
    results = [reference]
    _print_run(reference, size)
    for method in ("sklearn-lbfgs", "ours-lbfgs", "ours-newton"):
        results += _tolerance_ladder(run_one, method, reference_proba, size)
    record = {
        "command": "python -m benchmarks.sparse_time " + " ".join(sys.argv[1:] if argv is None else argv),
        "shape": list(shape),
        "nnz": nnz,
        "csr_bytes": size,
        "threads": args.threads,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "results": results,
        "speedup_vs_sklearn": _speedups(results),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"sparse-{args.rows}x{args.columns}-{time.strftime('%Y%m%d-%H%M%S')}"
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=1))
    (args.out / f"{stem}.md").write_text(_table(record))
    print(f"wrote {args.out / stem}.json and .md")
    return 0


def _table(record: dict) -> str:
    m, n = record["shape"]
    title = (
        f"# Sparse fit: {m:,} × {n:,}, {record['nnz']:,} stored ({record['nnz'] / (m * n):.3%}), "
        f"CSR {record['csr_bytes'] / 2**20:.1f} MiB, {record['threads']} thread(s)"
    )
    lines = [
        title,
        "",
        f"`{record['command']}`, load average at the end {record['machine']['load_average']}",
        "",
        "| method | tol | fit (s) | iterations | peak added by fit | ÷ CSR bytes | max abs Δ probability |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in record["results"]:
        lines.append(
            f"| {run['method']}{' (matched)' if run.get('matched') else ''} | {run['tol']:g} | "
            f"{run['seconds']:.2f} | {run['iterations']} | {run['fit_peak_bytes'] / 2**20:.1f} MiB | "
            f"{run['fit_peak_bytes'] / record['csr_bytes']:.2f}× | {run['max_proba_diff']:.1e} |"
        )
    speedups = ", ".join(f"{method} {ratio:.2f}×" for method, ratio in record["speedup_vs_sklearn"].items())
    lines += ["", f"scikit-learn's matched fit time ÷ ours (> 1: ours is faster): {speedups}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
