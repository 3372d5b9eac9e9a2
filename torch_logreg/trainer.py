"""The training loop: steps, logs, checkpoints, resumes, and stops cleanly on a signal.

Every ``log_every`` iterations (and at the end) it reads the costs, accuracies and
gradient norm in one host sync, writes them to TensorBoard, and checks they are
finite. Between log steps nothing is read back, so on a GPU the steps queue up
without waiting. A run that turns non-finite is replayed from the last log step,
checking every step, to name the exact iteration; the last good state is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from . import functional as LF
from .checkpoint import CHECKPOINT_NAME, atomic_write_text, load_checkpoint, save_checkpoint
from .config import Config, save_config
from .data import Split, Standardizer, load_split
from .errors import CheckpointError, ConfigError, TrainingDiverged
from .gradcheck import check_gradients
from .module import LogisticRegression
from .optim import make_optimizer
from .run_dir import prepare_run_dir
from .steps import grad_function, make_step, model_cost
from .tb_logging import RunWriter

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
CHECKPOINT_FORMAT = 1


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run after a checkpoint was written."""

    def __init__(self, signum: int, iteration: int, run_dir: Path):
        super().__init__(f"interrupted by {signal.Signals(signum).name} at iteration {iteration}; "
                         f"checkpoint saved, continue with --resume {run_dir}")
        self.signum, self.iteration, self.run_dir = signum, iteration, run_dir


@dataclass
class TrainResult:
    model: LogisticRegression
    history: dict[str, list]
    run_dir: Path
    metrics: dict = field(default_factory=dict)
    standardizer: Standardizer | None = None


def resolve_device(name: str) -> torch.device:
    """``auto`` is cuda when there is one, else cpu; an explicit cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device={name}, but no CUDA GPU is available (use train.device=auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"train.device={name}, but only {torch.cuda.device_count()} CUDA device(s) exist")
    return device


def train(config: Config, run_dir=None, *, model: torch.nn.Module | None = None, resume: bool = False,
          overwrite: bool = False, command: list[str] | None = None) -> TrainResult:
    """Train as ``config`` says; write the run folder; return the result.

    ``model`` defaults to the one-neuron ``LogisticRegression``; any module that maps
    x (N, n) to logits (N,) trains too (through autograd, with its ``cost(x, y)``
    if it has one, else the logistic cost of its logits).
    Raises ``TrainingInterrupted`` on SIGINT/SIGTERM (after checkpointing) and
    ``TrainingDiverged`` when the cost or a gradient stops being finite.
    """
    return Trainer(config, run_dir, model=model, resume=resume, overwrite=overwrite, command=command).run()


class Trainer:
    def __init__(self, config: Config, run_dir=None, *, model=None, resume=False, overwrite=False, command=None):
        self.config = config
        cfg = config.train
        self.device = resolve_device(cfg.device)
        self.dtype = DTYPES[cfg.dtype]
        x_dtype = DTYPES[cfg.x_dtype] if cfg.x_dtype else self.dtype
        if x_dtype != self.dtype and (self.device.type != "cuda" or self.dtype != torch.float32):
            raise ConfigError(f"train.x_dtype={cfg.x_dtype} needs train.device=cuda and train.dtype=float32 "
                              f"(the fused kernel accumulates in float32)")
        checkpoint = load_checkpoint(run_dir) if resume and run_dir is not None else None
        torch.manual_seed(config.seed)
        self.split: Split = load_split(config.data, config.seed)
        on_device = dict(device=self.device, dtype=self.dtype)
        self.x_train = self.split.x_train.to(device=self.device, dtype=x_dtype).contiguous()
        self.y_train = self.split.y_train.to(**on_device)
        self.x_test = self.split.x_test.to(device=self.device, dtype=x_dtype).contiguous()
        self.y_test = self.split.y_test.to(**on_device)

        n = self.split.n_features
        if model is None:
            model = LogisticRegression(n, l2=config.model.l2, init=config.model.init)
        self.model = model.to(**on_device)
        self.one_neuron = type(self.model) is LogisticRegression
        opt = config.optimizer
        if not self.one_neuron and (opt.name == "newton" or x_dtype != self.dtype):
            raise ConfigError(f"optimizer.name=newton and train.x_dtype need the one-neuron LogisticRegression")
        self.optimizer = make_optimizer(opt.name, self.model, opt.lr, opt.momentum, hessian_rows=opt.hessian_rows,
                                        seed=config.seed)
        self.grads = grad_function(self.x_train)
        if x_dtype != self.dtype and self.grads is LF.cost_and_grads:
            raise ConfigError(f"train.x_dtype={cfg.x_dtype} needs the fused kernel: pip install 'torch_logreg[cuda]'")
        m = self.x_train.shape[0]
        self.batch_size = cfg.batch_size if cfg.batch_size and cfg.batch_size < m else None
        self.step_kind, self.step = make_step(self.model, self.optimizer, self.x_train, self.batch_size is None)
        self._epoch_cache: tuple[int, torch.Tensor] | None = None
        # Only now, with the data and the model known to be good, is a run folder made or emptied.
        self.run_dir = prepare_run_dir(run_dir, config.name, resume=resume, overwrite=overwrite)

        self.config_dict = config.to_dict()  # fixed for the run; every snapshot shares it
        self.iteration = 0
        self.history: dict[str, list] = {k: [] for k in
                                         ("iteration", "train_cost", "val_cost", "train_accuracy", "val_accuracy")}
        self.seconds_before = 0.0
        if checkpoint is not None:
            self._restore(checkpoint)
        save_config(config, self.run_dir / "config.yaml")
        if command is not None:
            atomic_write_text(self.run_dir / "command.txt", " ".join(command) + "\n")
        self.writer = RunWriter(self.run_dir, purge_step=self.iteration if checkpoint is not None else None)
        self.stop_signal: int | None = None
        self.last_good: dict | None = None
        logger.info("run folder %s: %d train / %d test rows, %d features, %s on %s, %s step",
                    self.run_dir, m, self.x_test.shape[0], n, opt.name, self.device, self.step_kind)

    # ------------------------------------------------------------ the loop

    def run(self) -> TrainResult:
        cfg = self.config.train
        total, log_every = cfg.iterations, cfg.log_every
        start_time = time.perf_counter()
        previous_handlers = self._catch_signals()
        bar = tqdm(total=total, initial=self.iteration, unit="it", disable=not (sys.stderr.isatty() and total >= 1000),
                   leave=False)
        # With a bar on screen, log lines go through tqdm.write so they do not tear it.
        redirect = contextlib.nullcontext() if bar.disable else logging_redirect_tqdm()
        try:
            redirect.__enter__()
            last_logged_cost = None
            while True:
                it = self.iteration
                if it % log_every == 0 or it == total:
                    cost = self._log(it)
                    bar.update(it - bar.n)
                    if cfg.tol and last_logged_cost is not None and abs(last_logged_cost - cost) < cfg.tol:
                        logger.info("converged at iteration %d: the cost changed by less than train.tol=%g", it, cfg.tol)
                        break
                    last_logged_cost = cost
                if it >= total:
                    break
                x, y = self._batch(it)
                self.step(x, y)
                self.iteration = it + 1
                if self.stop_signal is not None:
                    self._save_checked(time.perf_counter() - start_time)
                    raise TrainingInterrupted(self.stop_signal, self.iteration, self.run_dir)
                if cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0:
                    self._save_checked(time.perf_counter() - start_time)
            return self._finish(time.perf_counter() - start_time)
        finally:
            redirect.__exit__(None, None, None)
            bar.close()
            self.writer.close()
            self._restore_signals(previous_handlers)

    def _batch(self, it: int):
        if self.batch_size is None:
            return self.x_train, self.y_train
        m, size = self.x_train.shape[0], self.batch_size
        per_epoch = math.ceil(m / size)
        epoch, index = divmod(it, per_epoch)
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            # Each epoch's order depends only on (seed, epoch): a resumed run draws the same batches.
            gen = torch.Generator(device=self.device).manual_seed(self.config.seed * 1_000_003 + epoch)
            self._epoch_cache = (epoch, torch.randperm(m, generator=gen, device=self.device))
        rows = self._epoch_cache[1][index * size:(index + 1) * size]
        return self.x_train[rows], self.y_train[rows]

    # ------------------------------------------------------------ logging

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        """Full-train and test cost and accuracy, and the full-batch gradient norm: one sync."""
        train_cost, gradient = self._cost_and_gradient(self.x_train, self.y_train)
        val_cost, _ = self._cost_and_gradient(self.x_test, self.y_test)
        values = torch.stack([
            train_cost.to(self.dtype), val_cost.to(self.dtype),
            self._accuracy(self.x_train, self.y_train), self._accuracy(self.x_test, self.y_test),
            gradient.norm().to(self.dtype),
        ]).tolist()
        return dict(zip(("train/cost", "val/cost", "train/accuracy", "val/accuracy", "train/grad_norm"), values))

    def _cost_and_gradient(self, x, y):
        """(J, the flat gradient over all parameters) on (x, y), without a host sync."""
        if self.one_neuron:
            w, b = self.model.weight, self.model.bias
            cost, dweight, dbias = self.grads(x, y, w, b, self.model.l2, with_cost=True)
            return cost, torch.cat([dweight.reshape(-1), dbias.reshape(-1)])
        params = [p for p in self.model.parameters() if p.requires_grad]
        with torch.enable_grad():
            cost = model_cost(self.model, x.to(self.dtype), y)
            grads = torch.autograd.grad(cost, params)
        return cost.detach(), torch.cat([g.reshape(-1) for g in grads])

    def _accuracy(self, x, y):
        if self.one_neuron:  # the formula itself: the module's call costs more than the math here
            z = LF.linear_forward(x.to(self.dtype), self.model.weight, self.model.bias)
        else:
            z = self.model(x.to(self.dtype))
        z = z.reshape(-1)
        return ((z > 0).to(self.dtype) == y).to(self.dtype).mean()  # σ(z) > 0.5 ⇔ z > 0

    def _log(self, it: int) -> float:
        values = self._evaluate()
        params_finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if not params_finite or not all(math.isfinite(v) for v in values.values()):
            self._diverged(it)
        self.last_good = self._state(self.seconds_before)
        values["train/learning_rate"] = self.optimizer.param_groups[0].get("lr", float("nan"))
        if self.config.model.check_grad:
            values["train/grad_check_max_diff"] = check_gradients(self.model, self.x_train.to(self.dtype), self.y_train)
        self.writer.scalars(it, values, self.model)
        if not self.history["iteration"] or self.history["iteration"][-1] != it:
            self.history["iteration"].append(it)
            for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy"):
                self.history[key].append(values[key.replace("_", "/", 1)])
        if self.config.train.print_cost:
            logger.info("Cost after iteration %i: %f", it, values["train/cost"])
        return values["train/cost"]

    def _diverged(self, seen_at: int) -> None:
        """Replay from the last good state, checking each step, to name the first bad iteration."""
        first_bad = seen_at
        if self.last_good is not None:
            self._restore(self.last_good)
            for it in range(self.iteration, seen_at + 1):
                x, y = self._batch(it)
                cost, gradient = self._cost_and_gradient(x, y)
                params = [p.detach().reshape(-1) for p in self.model.parameters()]
                finite = torch.isfinite(torch.cat([cost.reshape(1).to(self.dtype), gradient, *params]))
                if not bool(finite.all()) or it == seen_at:
                    first_bad = it
                    break
                self.step(x, y)
            self._restore(self.last_good)
            save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.last_good)
        kept = f"; the last good state (iteration {self.iteration}) is in {self.run_dir / CHECKPOINT_NAME}" \
            if self.last_good is not None else ""
        opt = self.config.optimizer
        raise TrainingDiverged(f"training diverged at iteration {first_bad}: the cost or a gradient is not finite "
                               f"(optimizer {opt.name}, lr {opt.lr}; try a smaller optimizer.lr){kept}")

    # ------------------------------------------------------------ state

    def _state(self, seconds: float) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        clone = lambda sd: {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in sd.items()}  # noqa: E731
        return {
            "format": CHECKPOINT_FORMAT,
            "model": clone(self.model.state_dict()),
            "optimizer": _deep_clone(self.optimizer.state_dict()),
            "iteration": self.iteration,
            "rng": rng,
            "standardizer": self.split.standardizer.state_dict() if self.split.standardizer else None,
            "feature_names": list(self.split.feature_names),
            "target": self.config.data.target,
            "config": self.config_dict,
            "history": {k: list(v) for k, v in self.history.items()},
            "seconds": seconds,
        }

    def _restore(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(_deep_clone(state["optimizer"]))
            self.iteration = int(state["iteration"])
            torch.set_rng_state(state["rng"]["torch"])
            if "cuda" in state["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
            # Like TensorBoard's purge_step: entries from here on are logged again as the run goes on.
            keep = sum(1 for it in state["history"]["iteration"] if it < self.iteration)
            self.history = {k: list(v[:keep]) for k, v in state["history"].items()}
            self.seconds_before = float(state.get("seconds", 0.0))
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            raise CheckpointError(f"{self.run_dir}: checkpoint does not fit this config ({error})") from None

    def _save(self, seconds: float) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state(self.seconds_before + seconds))

    def _save_checked(self, seconds: float) -> None:
        # Never replace a good checkpoint with a non-finite one.
        if all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._save(seconds)
        else:
            self._diverged(self.iteration)

    def _finish(self, seconds: float) -> TrainResult:
        self._save_checked(seconds)
        total_seconds = self.seconds_before + seconds
        h = self.history
        metrics = {
            "train_cost": h["train_cost"][-1], "test_cost": h["val_cost"][-1],
            "train_accuracy": h["train_accuracy"][-1], "test_accuracy": h["val_accuracy"][-1],
            "iterations": self.iteration, "seconds": round(total_seconds, 4), "device": str(self.device),
        }
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        self.writer.final(self.iteration, self.config_dict, {k: metrics[k] for k in
                                                                   ("train_cost", "test_cost", "train_accuracy",
                                                                    "test_accuracy")})
        with torch.no_grad():
            probabilities = torch.sigmoid(self.model(self.x_test.to(self.dtype)).reshape(-1))
        self.writer.pr_curve(self.iteration, self.y_test, probabilities)
        if self.split.n_features == 2 and self.one_neuron:
            self.writer.decision_boundary(self.iteration, self.split.x_test, self.split.y_test,
                                          self.model.weight.detach(), self.model.bias.detach())
        logger.info("train accuracy: %.2f %%", 100 * metrics["train_accuracy"])
        logger.info("test accuracy: %.2f %%", 100 * metrics["test_accuracy"])
        return TrainResult(self.model, self.history, self.run_dir, metrics, self.split.standardizer)

    # ------------------------------------------------------------ signals

    def _catch_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            if self.stop_signal is not None:  # a second signal: stop now
                raise KeyboardInterrupt
            logger.warning("%s: finishing this step, then saving a checkpoint", signal.Signals(signum).name)
            self.stop_signal = signum

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(previous) -> None:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)


def _deep_clone(value):
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _deep_clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_clone(v) for v in value]
    return value
