"""Where a small estimator fit spends its time: ``python -m benchmarks.fit_parts``.

    python -m benchmarks.fit_parts [--size 569x30] [--fits 200] [--out DIR]

Times ``LogisticRegressionClassifier(optimizer="newton").fit`` (and ``torch_logreg.train`` on
the same rows, from Python) part by part: each part is a function of the package, wrapped
for the run by a timer at the name its caller looks it up by, so the figures are inclusive
(an indented part is inside the one above it), median and min over the fits (on a loaded
machine the min is the nearer to a quiet one's); ``unaccounted`` is what no wrapped part covers
(the fit's own lines, the timers), ``whole`` the timed fit.
scikit-learn's ``LogisticRegression(solver="newton-cholesky").fit`` on the same rows is timed
interleaved, fit for fit, as the yardstick.  Writes ``fit-parts-<commit>-<m>x<n>.md`` (and ``.json``) into
``--out`` (``benchmarks/results/local`` by default).  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

import torch_logreg.sklearn as estimators
import torch_logreg.sklearn_base as estimator_module
from torch_logreg.training import assemble, classification_report, loop, newton, run_state, trainer

from .machine import git_commit
from .problems import Size

ROOT = Path(__file__).resolve().parent.parent

# (depth, label, owner, attribute): the owner's attribute is replaced by a timed wrapper for the run.
PARTS = [
    (0, "input checks: validate_data", estimator_module, "validate_data"),
    (0, "input checks: check_targets", estimator_module, "check_targets"),
    (0, "labels: distinct_and_inverse", estimator_module, "distinct_and_inverse"),
    (0, "row weights", estimator_module, "_row_weights"),
    (0, "config building (load_config + check_config)", estimator_module._TorchClassifier, "_config"),
    (0, "make_split", estimator_module, "make_split"),
    (0, "train()", estimator_module, "train"),
    (1, "check_config (in train)", trainer, "check_config"),
    (1, "Trainer.__init__", trainer.Trainer, "__init__"),
    (2, "training_model", trainer, "training_model"),
    (2, "_place_data", trainer.Trainer, "_place_data"),
    (2, "_choose_step", trainer.Trainer, "_choose_step"),
    (2, "config.to_dict", trainer.Config, "to_dict"),
    (2, "run_folder", trainer, "run_folder"),
    (2, "_start_state", trainer.Trainer, "_start_state"),
    (3, "design checks: design_warnings", assemble.diagnostics, "design_warnings"),
    (3, "ignored_keys", trainer, "ignored_keys"),
    (2, "_open_writer", trainer.Trainer, "_open_writer"),
    (1, "Trainer.run", trainer.Trainer, "run"),
    (2, "Newton steps (step_at)", trainer.Trainer, "step_at"),
    (2, "log steps (log)", trainer.Trainer, "log"),
    (3, "snapshot (_state)", run_state.RunState, "_state"),
    (2, "_finish", classification_report.ClassificationReport, "_finish"),
    (0, "warnings said (_warn)", estimator_module._TorchClassifier, "_warn"),
]
_ = (assemble, loop, newton)  # imported so that every patched module is loaded before the run


def _timed(original, totals: dict, label: str):
    def wrapper(*args, **kwargs):
        begin = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - begin

    return wrapper


@contextlib.contextmanager
def timers(totals: dict):
    """Every part of ``PARTS`` wrapped by a timer adding into ``totals[label]``; the originals back after."""
    with contextlib.ExitStack() as stack:
        for _, label, owner, name in PARTS:
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            stack.callback(setattr, owner, name, original)
            setattr(owner, name, _timed(original, totals, label))
        yield


def problem(size: Size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size.m, size.n))
    y = (rng.random(size.m) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, -1]))).astype(np.int64)
    return x, y


def measure(size: Size, fits: int) -> dict:
    """Median ms of whole fits (ours, scikit-learn's, interleaved) and mean ms per part of ours."""
    x, y = problem(size)
    ours = lambda: estimators.LogisticRegressionClassifier(optimizer="newton").fit(x, y)  # noqa: E731
    theirs = lambda: LogisticRegression(solver="newton-cholesky").fit(x, y)  # noqa: E731
    for _ in range(5 if size.m * size.n < 1_000_000 else 1):  # warm-up
        ours(), theirs()
    whole = {"ours": [], "newton-cholesky": []}
    for _ in range(fits):
        for name, fit in (("newton-cholesky", theirs), ("ours", ours)):
            begin = time.perf_counter()
            fit()
            whole[name].append(time.perf_counter() - begin)
    totals = {label: 0.0 for _, label, _, _ in PARTS}
    per_fit = {label: [] for label in [*totals, "whole"]}
    with timers(totals), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(fits):
            for label in totals:
                totals[label] = 0.0
            begin = time.perf_counter()
            ours()
            per_fit["whole"].append(time.perf_counter() - begin)
            for label, seconds in totals.items():
                per_fit[label].append(seconds)
    top = [sum(per_fit[label][i] for depth, label, _, _ in PARTS if depth == 0) for i in range(fits)]
    per_fit["unaccounted"] = [whole_fit - parts for whole_fit, parts in zip(per_fit["whole"], top)]
    return {
        "size": size.label,
        "fits": fits,
        "ours ms": statistics.median(whole["ours"]) * 1e3,
        "newton-cholesky ms": statistics.median(whole["newton-cholesky"]) * 1e3,
        "ours min ms": min(whole["ours"]) * 1e3,
        "newton-cholesky min ms": min(whole["newton-cholesky"]) * 1e3,
        # median and min over the fits of each part's time in one fit
        "parts ms": {label: (statistics.median(s) * 1e3, min(s) * 1e3) for label, s in per_fit.items()},
    }


def table(row: dict) -> list[str]:
    ratio = row["newton-cholesky ms"] / row["ours ms"]
    lines = [
        f"Whole fits, {row['fits']} each, interleaved: ours {row['ours ms']:.3f} ms median "
        f"({row['ours min ms']:.3f} min), newton-cholesky {row['newton-cholesky ms']:.3f} ms "
        f"({row['newton-cholesky min ms']:.3f} min): {ratio:.2f}× (> 1: ours is faster).",
        "",
        f"| part of our fit at {row['size']} (inclusive; indented: inside the one above) "
        "| median ms | min ms |",
        "|---|---|---|",
    ]
    labels = [(depth, label) for depth, label, _, _ in PARTS]
    labels += [(0, "unaccounted"), (0, "whole")]
    for depth, label in labels:
        median, least = row["parts ms"][label]
        lines.append(f"| {'· ' * depth}{label} | {median:.3f} | {least:.3f} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="569x30")
    parser.add_argument("--fits", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "local")
    args = parser.parse_args(argv)
    m, n = (int(v) for v in args.size.lower().split("x"))
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    row = measure(Size(m, n), args.fits)
    commit = git_commit() or "unknown"
    head = [
        f"# Where a small estimator fit spends its time ({commit})",
        "",
        f"`python -m benchmarks.fit_parts --size {args.size} --fits {args.fits}`; "
        f"load average at the start {load}.",
        "",
    ]
    text = "\n".join(head + table(row)) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"fit-parts-{commit}-{m}x{n}.md").write_text(text)
    (args.out / f"fit-parts-{commit}-{m}x{n}.json").write_text(
        json.dumps({"load": load, **row}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
