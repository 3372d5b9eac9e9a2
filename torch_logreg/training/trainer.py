"""Training a classifier of rows: the objective that ``loop.minimize`` runs, put together from a config.

``train`` builds a ``Trainer`` (data, model, optimizer, run folder: the plain functions of
``assemble``) and hands it to the loop.  As an objective it steps on a batch, and every
``log_every`` iterations (and at the end) reads the costs, accuracies and gradient in one
host sync, writes them to TensorBoard, and checks they are finite.  A run that turns
non-finite is replayed from the last log step, checking every step, to name the exact
iteration; the last good state is kept.  What a checkpoint holds is ``run_state``; the end
of the run (metrics, warnings, pictures) is ``classification_report``.

The trainer knows the model only through its interface (``nn.Classifier``):
logits, ``cost``, ``predict_proba``, and, when the model has them,
``cost_and_grads`` (the fast path) and ``hessian`` (Newton); the optimizer through its
``capabilities``.
"""

from __future__ import annotations

import logging
import math
import signal
import warnings
from pathlib import Path

import torch

from .. import threads
from ..data.ignored_keys import ignored_data_keys
from ..data.split import Split, data_fingerprint
from ..data.streaming import is_stream
from ..errors import DesignWarning, IgnoredKeyWarning, TorchLogregWarning
from ..nn.gradcheck import check_gradients
from . import distributed
from .assemble import (
    DTYPES,  # noqa: F401  (importable from here, as before)
    agree_on_start,
    append_command,
    check_model_offers,
    check_x_dtype,
    design_warnings,
    resolve_device,
    resolve_dtypes,
    run_folder,
    training_data,
    training_model,
    training_optimizer,
    training_weights,
)
from .assemble import NoWriter as _NoWriter
from .batches import Batches
from .capabilities import capabilities
from .class_weights import class_weights  # noqa: F401  (importable from here: sklearn.py uses it)
from .classification_report import ClassificationReport, TrainResult  # noqa: F401
from .config import Config, check_config, ignored_keys, save_config
from .console import console_logging
from .evaluation import Evaluation
from .loop import LoopEnd, Schedule, minimize
from .optim import default_grad_tol
from .reduced_model import ReducedModel
from .resume import check_resume
from .run_state import RunState, _deep_clone  # noqa: F401
from .steps import make_step
from .tb_logging import RunWriter

logger = logging.getLogger(__name__)

_HISTORY = {
    "train_cost": "train/cost",
    "test_cost": "test/cost",
    "train_accuracy": "train/accuracy",
    "test_accuracy": "test/accuracy",
    "weight_norm": "train/weight_norm",
}


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run after a checkpoint was written (or, for a run that saves
    nothing, ``run_dir`` None, with nothing written: there is nothing to resume)."""

    def __init__(self, signum: int, iteration: int, run_dir: Path | None):
        stopped = f"interrupted by {signal.Signals(signum).name} at iteration {iteration}"
        if run_dir is None:  # train(save=False), e.g. scikit-learn's fit: no checkpoint was written
            super().__init__(f"{stopped}; this run saves nothing (save=False), so there is nothing to resume")
            self.command_line = str(self)
        else:
            super().__init__(
                f"{stopped}; checkpoint saved, continue with train(config, {str(run_dir)!r}, resume=True)"
            )
            self.command_line = f"{stopped}; checkpoint saved, continue with --resume {run_dir}"
        self.signum, self.iteration, self.run_dir = signum, iteration, run_dir


def train(
    config: Config,
    run_dir=None,
    resume: bool = False,
    overwrite: bool = False,
    *,
    model: torch.nn.Module | None = None,
    data: Split | None = None,
    sample_weight=None,
    save: bool = True,
    report: bool = True,
    command: list[str] | None = None,
    checkpoint: dict | None = None,
) -> TrainResult:
    """Train as ``config`` says; write the run folder; return the result.

    Args:
        config: the resolved ``Config`` (``load_config``).
        run_dir: the run folder; None makes ``runs/<name>-<timestamp>`` (``run_dir.run_name``).
        resume: continue the run in ``run_dir`` from its checkpoint.
        overwrite: replace a run already in ``run_dir``.
        model: a model to train instead of the one ``model.name`` builds: a ``Classifier``,
            or any module mapping x (N, n) to logits (N,) for two classes.
        data: a ``Split`` to train on instead of the one ``config.data`` names.
        sample_weight: (m_train,) weights of the training rows (combined with ``model.class_weight``).
        save: False writes nothing: no run folder, TensorBoard, checkpoint or metrics file.
        report: False ends with the cost, accuracy, convergence and warnings only: no AUC, F1,
            log loss, console summary or pictures (scikit-learn's ``fit`` needs none of them, and
            on a million rows the AUC's sort costs more than Newton's steps).
        command: the command line, appended to ``command.txt``.
        checkpoint: the checkpoint of ``run_dir`` when the caller has read it already.

    Raises ``TrainingInterrupted`` on SIGINT/SIGTERM (after checkpointing) and
    ``TrainingDiverged`` when the cost or a gradient stops being finite.
    """
    check_config(config)  # across keys: values set in Python one by one cannot check each other
    device = resolve_device(config.train.device)
    with (
        console_logging(config.train.print_cost),
        distributed.session(device, config.train.threads) as (group, device),
    ):
        given_x = None if data is None else data.x_train  # known before the Trainer: from the start
        with threads.torch_threads_for(given_x, config.train.threads):
            trainer = Trainer(
                config,
                run_dir,
                model=model,
                data=data,
                sample_weight=sample_weight,
                resume=resume,
                overwrite=overwrite,
                save=save,
                report=report,
                command=command,
                checkpoint=checkpoint,
                group=group,
                device=device,
            )
            with threads.torch_threads_for(trainer.x_train, config.train.threads):
                return trainer.run()


class Trainer(RunState, ClassificationReport, Evaluation):
    def __init__(
        self,
        config: Config,
        run_dir=None,
        *,
        model=None,
        data=None,
        sample_weight=None,
        resume=False,
        overwrite=False,
        save=True,
        report=True,
        command=None,
        checkpoint=None,
        group=None,
        device=None,
    ):
        self.config = config
        self.report = report
        cfg = config.train
        # Under torchrun (``distributed``) every worker trains; rank 0 alone writes.
        self.group = group = group or distributed.Solo()
        self.save = save and group.rank == 0
        self.device = device or resolve_device(cfg.device)
        self.dtype, x_dtype = resolve_dtypes(cfg, self.device)
        resume, overwrite, checkpoint = agree_on_start(group, config, run_dir, resume, overwrite, checkpoint)
        # The CPU generator draws the initial weights (every model is built on the CPU): seeding
        # it alone skips torch.manual_seed's lazy CUDA/XPU/MTIA seeding (see benchmarks/loop_time.py).
        torch.default_generator.manual_seed(config.seed)
        self.split: Split = training_data(config, group, checkpoint, data)
        self.model = training_model(config, model, self.split, self.device, self.dtype)
        self._place_data(x_dtype, sample_weight)
        self._choose_step(x_dtype)
        self.config_dict = config.to_dict()  # fixed for the run; every snapshot shares it
        self.fingerprint = data_fingerprint(config.data) if data is None else {}
        if checkpoint is not None:
            check_resume(
                checkpoint.get("config", {}),
                self.config_dict,
                checkpoint.get("data_fingerprint"),
                self.fingerprint,
                int(checkpoint.get("iteration", 0)),
                cfg.iterations,
            )
        # Only now, with the data and the model known to be good, is a run folder made or emptied.
        self.run_dir, self.run_lock = run_folder(
            group, self.save, run_dir, config, self.split.num_classes, resume, overwrite
        )
        self._start_state(checkpoint)
        self._open_writer(command, checkpoint)
        self.last_good: dict | None = None
        self._say_start(resumed=checkpoint is not None)

    def _say_start(self, resumed: bool) -> None:
        """The run's first lines: where it resumes from, then its folder, rows, classes and step."""
        split, config = self.split, self.config
        if resumed:  # the first thing a resumed run says
            logger.info(
                "resuming %s from iteration %d (of train.iterations=%d)",
                self.run_dir,
                self.iteration,
                config.train.iterations,
            )
        logger.info(
            "run folder %s: %d train / %d test rows, %d features, %d classes, %s on %s, %s step",
            self.run_dir,
            self.x_train.shape[0],
            self.x_test.shape[0],
            split.n_features,
            split.num_classes,
            config.optimizer.name,
            self.device,
            self.step_kind,
        )

    def _place_data(self, x_dtype, sample_weight) -> None:
        """The rows on the run's device, the targets as the loss wants them, the weights and the batching."""
        split, loss, group, cfg = self.split, self.model.loss, self.group, self.config.train
        self.x_train = split.x_train.to(device=self.device, dtype=x_dtype).contiguous()
        self.y_train = loss.targets(split.y_train.to(self.device), self.dtype)
        self.x_test = split.x_test.to(device=self.device, dtype=x_dtype).contiguous()
        self.y_test = loss.targets(split.y_test.to(self.device), self.dtype)
        self.has_test = self.group.any(len(self.x_test) > 0)  # any worker's: the collectives must agree
        self.w_train = training_weights(
            sample_weight, self.config.model.class_weight, split, group, self.device, self.dtype
        )
        m = self.x_train.shape[0]
        # Every worker's rows count: the batches are drawn from one process's row numbers.
        self.m_total = split.shard.train_total if split.shard is not None else m
        self.batch_size = cfg.batch_size if cfg.batch_size and cfg.batch_size < self.m_total else None
        # The L2 term's divisor, m (or Σs) of the whole training set, also in mini-batch steps.
        self.l2_rows = (
            None
            if self.batch_size is None
            else group.total(m if self.w_train is None else float(self.w_train.sum()))
        )
        self.batches = Batches(
            self.x_train,
            self.y_train,
            self.w_train,
            self.m_total,
            self.batch_size,
            self.config.seed,
            split.shard,
            group.active,
        )

    def _choose_step(self, x_dtype) -> None:
        """The optimizer (from the registry) and the fastest step that computes its update."""
        config, cfg, opt = self.config, self.config.train, self.config.optimizer
        # What the optimizers step on: under torchrun, the model with every worker's rows reduced.
        self.reduced = (
            ReducedModel(self.model, self.group)
            if self.group.active or is_stream(self.x_train)
            else self.model
        )
        check_model_offers(opt.name, self.model, config.model.name)
        self.grad_tol = opt.grad_tol if opt.grad_tol is not None else default_grad_tol(self.dtype)
        check_x_dtype(cfg, self.model, self.x_train, self.dtype, x_dtype)
        self.optimizer = training_optimizer(config, self.model, self.reduced, self.m_total, self.grad_tol)
        self.capabilities = capabilities(self.optimizer)  # newton past its size limit is lbfgs
        self.step_kind, self.step = make_step(
            self.reduced, self.optimizer, self.x_train, self.batch_size is None, self.l2_rows
        )

    def _start_state(self, checkpoint) -> None:
        """Iteration 0 and empty history, or the checkpoint's; the warnings known before the first step."""
        self.iteration = 0
        self.history: dict[str, list] = {k: [] for k in ("iteration", *_HISTORY)}
        self.seconds_before = 0.0
        self.warnings: list[str] = []
        self.separated = False  # set at the end: the final weights separate the training rows (l2 = 0)
        self.grad_max = float("nan")
        if checkpoint is not None:
            self._restore(checkpoint)
            for group in self.optimizer.param_groups:  # the one source of the learning rate
                if "lr" in group:
                    group["lr"] = self.config.optimizer.lr
        design = design_warnings(self.model, self.split, self.x_train)
        for line in ignored_keys(self.config) + ignored_data_keys(self.config.data):
            self._warn(line, IgnoredKeyWarning)
        for line in design:
            self._warn(line, DesignWarning)

    def _open_writer(self, command, checkpoint) -> None:
        """config.yaml, world.json, command.txt and the TensorBoard writer (rank 0, when it saves)."""
        if not self.save:
            self.writer = _NoWriter()
            return
        save_config(self.config, self.run_dir / "config.yaml")
        if self.group.active:
            distributed.write_world(self.run_dir, self.group)
        if command is not None:
            append_command(self.run_dir, command)
        self.writer = RunWriter(self.run_dir, purge_step=self.iteration if checkpoint is not None else None)

    def _warn(self, line: str, category: type[TorchLogregWarning]) -> None:
        """Say ``line`` once, as a ``warnings.warn`` of ``category`` (stderr, filterable), and keep it for
        metrics.json."""
        if line not in self.warnings:
            self.warnings.append(line)
            if self.group.rank == 0:  # under torchrun, rank 0 speaks for the group
                warnings.warn(category(line), stacklevel=2)

    # ------------------------------------------------------------ the loop

    def run(self) -> TrainResult:
        cfg = self.config.train
        schedule = Schedule(
            cfg.iterations,
            cfg.log_every,
            cfg.tol,
            cfg.checkpoint_every,
            progress=cfg.print_cost and self.group.rank == 0,
        )
        try:
            return minimize(self, schedule, agree=self.group.any)
        finally:
            self.writer.close()
            self._release_run_dir()

    # ------------------------------------------------------------ the objective the loop minimizes

    def step_at(self, it: int) -> None:
        self.step(*self._batch(it))

    def converged(self) -> bool:
        return self.capabilities.iterates_to_convergence and (
            self.optimizer.converged or self.optimizer.stalled
        )

    def checkpoint(self, seconds: float) -> None:
        self._save_checked(seconds)

    def interrupted(self, signum: int, seconds: float) -> None:
        self._save_checked(seconds)
        raise TrainingInterrupted(signum, self.iteration, self.run_dir)

    def finish(self, seconds: float, end: LoopEnd) -> TrainResult:
        self.tol_reached, self.tol_change = end.tol_reached, end.tol_change
        if end.converged:
            self._say_why_it_stopped(self.config.train.iterations)
        return self._finish(seconds)

    def _say_why_it_stopped(self, total: int) -> None:
        """A run that ends before train.iterations says so, and which test it met."""
        if self.optimizer.stalled:
            why = "no step lowers the cost in this precision any more (stalled)"
        else:
            why = (
                f"the largest gradient entry {self.grad_max:.3g} is below "
                f"optimizer.grad_tol={self.grad_tol:g}"
            )
        logger.info("stopped early at iteration %d of %d: %s", self.iteration, total, why)

    def _release_run_dir(self) -> None:
        if self.run_lock is not None:
            self.run_lock.release()

    def _batch(self, it: int):
        return self.batches.batch(it)

    # ------------------------------------------------------------ logging

    def log(self, it: int) -> float:
        values = self._evaluate()
        params_finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if not params_finite or not all(math.isfinite(v) for v in values.values()):
            self._diverged(it)
        self.last_good = self._state(self.seconds_before, record=False)
        self.grad_max = values["train/grad_norm"]
        values["train/learning_rate"] = self.optimizer.param_groups[0].get("lr", float("nan"))
        if self.config.model.check_grad and not is_stream(self.x_train):
            values["train/grad_check_max_diff"] = check_gradients(
                self.model, self.x_train.to(self.dtype), self.y_train
            )
        self.writer.scalars(it, values, self.model, self._gradients_by_name())
        if not self.history["iteration"] or self.history["iteration"][-1] != it:
            self.history["iteration"].append(it)
            for key, tag in _HISTORY.items():
                self.history[key].append(values.get(tag, float("nan")))  # no test rows: NaN
        if self.config.train.print_cost:
            logger.info("Cost after iteration %i: %f", it, values["train/cost"])
        return values["train/cost"]
