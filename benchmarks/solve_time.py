"""Section 3: time to solution against scikit-learn, with l2 = 1 (C = 1) so the optimum exists.

The target is the objective J(W, b) = mean(softplus(z) − y·z) + (l2/2m)·‖W‖² within
1e-6 of its optimum J*, which float64 Newton finds to a gradient norm of 1e-12.
Every candidate's J is evaluated in float64 on the float64 data.

* scikit-learn: ``LogisticRegression(C=1, solver="lbfgs", tol=t)``, ``fit`` timed on the
  float64 arrays; t runs 1e-1, 1e-2, ... and the first t that reaches the target counts.
* ours, Newton direct: numpy arrays -> tensors, ``LogisticRegression`` + ``optim.Newton``,
  k steps (the fewest that reach the target), timed from the arrays as ``fit`` is.
  On tall data also with the Hessian from a sample of rows (``optimizer.hessian_rows``).
* ours, Newton via ``train()``: the whole run (reads the data file, writes the run folder,
  TensorBoard, the final checkpoint) with ``optimizer.name=newton``, k iterations.
* gradient descent, α = 0.5 (default data only): the hand-written step, and ``train()``.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from torch_logreg import functional as LF
from torch_logreg.config import load_config
from torch_logreg.module import LogisticRegression
from torch_logreg.optim import Newton
from torch_logreg.trainer import Trainer

from . import problems, timing

L2 = 1.0
GAP = 1e-6
TOLS = [10.0 ** -k for k in range(1, 13)]
TARGET = 2.0  # Newton ≥ 2× faster than scikit-learn's lbfgs
HESSIAN_SAMPLE = 10_000  # rows for Newton's sampled Hessian on 100k×100: 10% of the rows


class Problem:
    """float64 x (m, n), y (m,) and the float64 optimum J*."""

    def __init__(self, label: str, x: torch.Tensor, y: torch.Tensor, trainer_overrides: list[str],
                 hessian_rows: int = 0):
        self.label, self.trainer_overrides, self.hessian_rows = label, trainer_overrides, hessian_rows
        self.x, self.y = x.double().contiguous(), y.double()
        self.x_np, self.y_np = self.x.numpy(), self.y.numpy()
        self.optimum, self.newton_grad_norm = self._optimum()

    def objective(self, weight, bias) -> float:
        weight = torch.as_tensor(weight, dtype=torch.float64).reshape(1, -1).cpu()
        bias = torch.as_tensor(bias, dtype=torch.float64).reshape(1).cpu()
        return float(LF.cost(self.x, self.y, weight, bias, L2))

    def gap(self, weight, bias) -> float:
        return self.objective(weight, bias) - self.optimum

    def _optimum(self) -> tuple[float, float]:
        model = LogisticRegression(self.x.shape[1], l2=L2, dtype=torch.float64)
        newton = Newton(model.weight, model.bias, L2)
        norm = float("inf")
        for _ in range(100):
            newton.newton_step(self.x, self.y)
            _, dweight, dbias = LF.cost_and_grads(self.x, self.y, model.weight.detach(), model.bias.detach(), L2)
            norm = float(torch.cat([dweight.reshape(-1), dbias]).norm())
            if norm <= 1e-12:
                break
        return self.objective(model.weight.detach(), model.bias.detach()), norm


def _median_time(fn, repeats: int, device: str = "cpu") -> float:
    return statistics.median(timing.wall(fn, device) for _ in range(repeats))


def sklearn_lbfgs(problem: Problem, repeats: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    for tol in TOLS:
        fitted = {}

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fitted["model"] = SkLogisticRegression(C=1 / L2, solver="lbfgs", tol=tol, max_iter=100_000).fit(
                    problem.x_np, problem.y_np)

        first = timing.wall(fit, "cpu")
        model = fitted["model"]
        gap = problem.gap(model.coef_, model.intercept_)
        if gap <= GAP:
            seconds = statistics.median([first] + [timing.wall(fit, "cpu") for _ in range(repeats - 1)])
            return {"method": "scikit-learn lbfgs", "detail": f"tol={tol:g}, {int(model.n_iter_[0])} iterations",
                    "iterations": int(model.n_iter_[0]), "seconds": seconds, "gap": gap, "dtype": "float64"}
    return {"method": "scikit-learn lbfgs", "error": f"gap > {GAP:g} even at tol={TOLS[-1]:g}"}


def _newton_fit(problem: Problem, steps: int, device: str, dtype, on_step=None, hessian_rows: int = 0):
    x = torch.from_numpy(problem.x_np).to(device=device, dtype=dtype)
    y = torch.from_numpy(problem.y_np).to(device=device, dtype=dtype)
    model = LogisticRegression(x.shape[1], l2=L2, device=device, dtype=dtype)
    newton = Newton(model.weight, model.bias, L2, hessian_rows=hessian_rows)
    for it in range(steps):
        newton.newton_step(x, y)  # as the training loop calls it
        if on_step is not None and on_step(it + 1, model):
            break
    return model


def _fewest_steps(problem: Problem, run, limit: int) -> tuple[int | None, float]:
    """The first iteration count whose parameters are within GAP of the optimum (checked every step)."""
    found = {"steps": None, "gap": float("inf")}

    def check(it, model):
        found["gap"] = problem.gap(model.weight.detach(), model.bias.detach())
        if found["gap"] <= GAP:
            found["steps"] = it
            return True
        return False

    run(limit, check)
    return found["steps"], found["gap"]


def newton_direct(problem: Problem, device: str, dtype, repeats: int, hessian_rows: int = 0) -> dict:
    label = str(dtype).removeprefix("torch.")
    name = f"ours: Newton direct ({label})" if not hessian_rows else \
        f"ours: Newton direct, H from {_rows(hessian_rows)} rows ({label})"
    steps, gap = _fewest_steps(problem, lambda k, check: _newton_fit(problem, k, device, dtype, check, hessian_rows), 50)
    if steps is None:
        return {"method": name, "dtype": label, "error": f"gap {gap:.2e} after 50 steps"}
    seconds = _median_time(lambda: _newton_fit(problem, steps, device, dtype, hessian_rows=hessian_rows), repeats, device)
    return {"method": name, "detail": f"{steps} Newton steps", "iterations": steps, "seconds": seconds, "gap": gap,
            "dtype": label, "steps": steps, "hessian_rows": hessian_rows}


def _rows(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def via_trainer(problem: Problem, method: str, name: str, iterations: int, device: str, dtype: str,
                repeats: int, root: Path, extra: list[str] = ()) -> dict:
    """``train()`` whole, as a user runs it; the gap of the model it returns."""
    overrides = [*problem.trainer_overrides, f"optimizer.name={method}", f"model.l2={L2}", f"train.device={device}",
                 f"train.dtype={dtype}", f"train.iterations={iterations}", "train.print_cost=false",
                 "train.checkpoint_every=0", *extra]
    config = load_config(None, overrides)
    times, gaps = [], []
    for attempt in range(repeats):
        run_dir = root / f"{method}-{attempt}"
        holder = {}

        def run():
            holder["result"] = Trainer(config, run_dir).run()

        times.append(timing.wall(run, device))
        model = holder["result"].model
        gaps.append(problem.gap(model.weight.detach(), model.bias.detach()))
        shutil.rmtree(run_dir, ignore_errors=True)
    gap = max(gaps)
    row = {"method": name, "detail": f"{iterations} iterations, whole train() run", "iterations": iterations,
           "seconds": statistics.median(times), "gap": gap, "dtype": dtype}
    if gap > GAP:
        row["note"] = f"gap {gap:.2e} > {GAP:g}"
    return row


def _gd_fit(problem: Problem, steps: int, device: str, dtype, on_step=None, check_every: int = 25):
    x = torch.from_numpy(problem.x_np).to(device=device, dtype=dtype)
    y = torch.from_numpy(problem.y_np).to(device=device, dtype=dtype)
    model = LogisticRegression(x.shape[1], l2=L2, device=device, dtype=dtype)
    weight, bias = model.weight.detach(), model.bias.detach()
    for it in range(steps):
        _, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, L2)
        weight.sub_(dweight, alpha=0.5)
        bias.sub_(dbias, alpha=0.5)
        if on_step is not None and (it + 1) % check_every == 0 and on_step(it + 1, model):
            break
    return model


def gradient_descent(problem: Problem, device: str, dtype, repeats: int, limit: int) -> dict:
    label = str(dtype).removeprefix("torch.")
    name = f"ours: gradient descent α=0.5, hand-written step ({label})"
    steps, gap = _fewest_steps(problem, lambda k, check: _gd_fit(problem, k, device, dtype, check), limit)
    if steps is None:
        return {"method": name, "dtype": label, "error": f"gap {gap:.2e} after {limit} steps"}
    seconds = _median_time(lambda: _gd_fit(problem, steps, device, dtype), repeats, device)
    return {"method": name, "detail": f"{steps} steps (checked every 25)", "iterations": steps, "seconds": seconds,
            "gap": gap, "dtype": label, "steps": steps}


def problems_for(quick: bool, root: Path) -> list[Problem]:
    x, y = problems.default_train_split()
    found = [Problem("default data (427×30 train split, standardized)", x, y, [])]
    if not quick:
        x, y = problems.synthetic(100_000, 100, dtype=torch.float64)
        x_test, y_test = problems.synthetic(2_000, 100, dtype=torch.float64, seed=1)
        train_file = problems.write_npy(root / "solve_train.npy", x, y, dtype=np.float64)
        test_file = problems.write_npy(root / "solve_test.npy", x_test, y_test, dtype=np.float64)
        found.append(Problem("synthetic 100k×100", x, y,
                             [f"data.path={train_file}", f"data.test_path={test_file}", "data.standardize=false"],
                             hessian_rows=HESSIAN_SAMPLE))
    return found


def run(device: str, quick: bool, repeats: int, log=print) -> dict:
    rows = []
    root = Path(tempfile.mkdtemp(prefix="logreg-solve-"))
    try:
        for problem in problems_for(quick, root):
            log(f"[solve] {problem.label}: J* = {problem.optimum:.12f} (Newton, |grad| {problem.newton_grad_norm:.1e})")
            found = []
            slow = problem.x.shape[0] > 10_000
            reps = 1 if slow else repeats
            found.append(_guarded("scikit-learn lbfgs", lambda: sklearn_lbfgs(problem, reps)))
            for sample in sorted({0, problem.hessian_rows}):
                for dtype in (torch.float64, torch.float32):
                    found.append(_guarded("ours: Newton direct",
                                          lambda: newton_direct(problem, device, dtype, reps, sample)))
            for chosen in [r for r in found if "steps" in r and r["method"].startswith("ours: Newton direct")]:
                dtype, sample = chosen["dtype"], chosen["hessian_rows"]
                name = f"ours: Newton via train() ({dtype})" if not sample else \
                    f"ours: Newton via train(), optimizer.hessian_rows={sample} ({dtype})"
                # At least 3 whole runs: the first in a process is ~2× slower (first large allocations).
                found.append(_guarded("ours: Newton via train()", lambda: via_trainer(
                    problem, "newton", name, chosen["steps"], device, dtype, max(reps, 3), root,
                    [f"optimizer.hessian_rows={sample}"])))
            if not slow:
                for dtype in (torch.float32, torch.float64):
                    gd = _guarded("ours: gradient descent", lambda: gradient_descent(problem, device, dtype, reps, limit=200_000))
                    found.append(gd)
                    if "steps" in gd:
                        found.append(_guarded("ours: gradient descent via train()", lambda: via_trainer(
                            problem, "gd", f"ours: gradient descent via train() ({gd['dtype']})", gd["steps"], device,
                            gd["dtype"], reps, root, ["optimizer.lr=0.5"])))
                        break  # float64 only when float32 cannot reach the target
            sk = next((r for r in found if r["method"] == "scikit-learn lbfgs" and "seconds" in r), None)
            for row in found:
                row["problem"] = problem.label
                if sk is not None and "seconds" in row:
                    row["vs_sklearn"] = sk["seconds"] / row["seconds"]
                    if row["method"].startswith("ours: Newton"):
                        row["target"] = TARGET
                        row["met"] = "yes" if row["vs_sklearn"] >= TARGET and row["gap"] <= GAP else "NO"
                rows.append(row)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    notes = [f"Objective gap J − J* ≤ {GAP:g}, J in float64 with l2 = {L2:g} (C = {1 / L2:g}); J* from float64 Newton.",
             "vs sklearn: scikit-learn's fit time ÷ this row's (> 1: faster). Newton direct and sklearn start from "
             "in-memory float64 arrays; train() rows are whole runs (file, run folder, TensorBoard, checkpoint).",
             f"Device for ours: {device}; scikit-learn runs on the CPU.",
             "'H from 10k rows': optimizer.hessian_rows=10000, the Hessian from a fixed random 10% of the rows; "
             "the gradient and the line search use every row, so the optimum is the same."]
    return {"title": "Time to solution (objective within 1e-6 of the optimum)", "rows": rows, "notes": notes,
            "columns": [("problem", "problem", "s"), ("method", "method", "s"), ("detail", "iterations", "s"),
                        ("seconds", "seconds", ".4f"), ("gap", "J − J*", ".1e"), ("vs_sklearn", "vs sklearn", ".2f"),
                        ("target", "target", ".1f"), ("met", "met", "s")]}


def _guarded(name: str, make) -> dict:
    started = time.perf_counter()
    try:
        row = make()
    except Exception as error:  # report it and go on with the other methods
        row = {"method": name, "error": f"{type(error).__name__}: {error}"}
    row["section_seconds"] = time.perf_counter() - started
    return row
