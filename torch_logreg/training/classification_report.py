"""The end of a classification run: metrics.json, the final TensorBoard values and pictures, the
warnings, the console summary and the ``TrainResult``; the ``Trainer``'s reporting methods.

A mixin, so that ``Trainer`` reads in one sitting: everything here is about classifying
rows (accuracy, AUC, PR curves, confusion matrices, separation); the loop itself is not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoint import atomic_write_text
from ..data.split import Standardizer
from ..data.streaming import is_stream, rows_apply
from ..errors import ConvergenceWarning, SeparationWarning
from ..nn.classifier import Classifier
from . import diagnostics
from .metrics import classification_metrics, strict_json

logger = logging.getLogger(__name__)

_LOGGED = ("train_cost", "test_cost", "train_accuracy", "test_accuracy")  # written at every log step


@dataclass
class TrainResult:
    model: Classifier
    history: dict[str, list]
    run_dir: Path | None
    metrics: dict = field(default_factory=dict)
    standardizer: Standardizer | None = None
    classes: list = field(default_factory=list)
    feature_names: list = field(default_factory=list)


class ClassificationReport:
    def _finish(self, seconds: float) -> TrainResult:
        self._save_checked(seconds)
        self._final_warnings()
        split = self.split
        splits = {
            "train": (self.x_train, self.y_train),
            **({"test": (self.x_test, self.y_test)} if self.has_test else {}),
        }
        metrics, shard_test_proba = self._split_metrics(splits)
        metrics.update(
            {
                "iterations": self.iteration,
                "converged": self._converged(),
                "separated": self.separated,
                "grad_norm": self.grad_max,
                "classes": list(split.classes),
                "warnings": list(self.warnings),
                "seconds": round(self.seconds_before + seconds, 4),
                "device": str(self.device),
            }
        )
        if self.save:
            self._write_metrics(metrics, shard_test_proba)
        if self.report:
            self._log_metrics(splits, metrics)
        # The coefficient table (logged, summary.csv, TensorBoard text) needs a closed-form Hessian;
        # for a model without one, the start already warned that train.summary is ignored.
        if self.config.train.summary and hasattr(self.model, "hessian"):
            from ..stats import report_run_summary  # local: only train.summary needs it

            report_run_summary(
                self.model,
                split,
                sample_weight=self.w_train,
                converged=metrics["converged"],
                run_dir=self.run_dir if self.save else None,
                writer=self.writer,
                step=self.iteration,
                group=self.group,
            )
        return TrainResult(
            self.model,
            self.history,
            self.run_dir,
            metrics,
            split.standardizer,
            list(split.classes),
            list(split.feature_names),
        )

    def _split_metrics(self, splits: dict) -> tuple[dict, torch.Tensor | None]:
        """Each split's last logged cost and accuracy and, when reporting, its classification metrics
        over every worker's rows; with this process's test probabilities (the pictures' rows)."""
        h, k = self.history, self.split.num_classes
        metrics, shard_test_proba = {}, None
        for name, (x, y) in splits.items():
            metrics[f"{name}_cost"], metrics[f"{name}_accuracy"] = (
                h[f"{name}_cost"][-1],
                h[f"{name}_accuracy"][-1],
            )
            if not self.report:
                continue
            with torch.no_grad():
                proba = rows_apply(self.model.predict_proba, x.to(dtype=self.dtype))
            if name == "test":
                shard_test_proba = proba  # the pictures: under torchrun, rank 0's test rows
            if self.group.active:  # every worker's rows, in one process's order
                y, proba = self.group.gather_rows(y), self.group.gather_rows(proba)
            metrics.update(
                {
                    key: value
                    for key, value in classification_metrics(y, proba, k, name).items()
                    if key != f"{name}_accuracy"
                }
            )
        return metrics, shard_test_proba

    def _write_metrics(self, metrics: dict, shard_test_proba) -> None:
        """metrics.json, the final TensorBoard scalars, pictures and hparams."""
        atomic_write_text(self.run_dir / "metrics.json", strict_json(metrics))
        # The metrics beside accuracy, as scalars at the last step (hparams read their values from there).
        self.writer.scalars(
            self.iteration,
            {
                key.replace("_", "/", 1): value
                for key, value in metrics.items()
                if key.startswith(("train_", "test_")) and key not in _LOGGED
            },
        )
        if self.has_test and self.report:
            self._final_pictures(shard_test_proba)
        self.writer.final(
            self.iteration,
            self.config_dict,
            {
                **{key: value for key, value in metrics.items() if key.startswith(("train_", "test_"))},
                "train/grad_norm": self.grad_max,
            },
        )

    def _log_metrics(self, splits: dict, metrics: dict) -> None:
        """One console line per split: its accuracy, then AUC, F1, macro F1 and log loss where known."""
        for split_name in splits:
            extra = ", ".join(
                f"{name} {metrics[f'{split_name}_{name}']:.4f}"
                for name in ("auc", "f1", "macro_f1", "log_loss")
                if f"{split_name}_{name}" in metrics
            )
            logger.info(
                "%s accuracy: %.2f %%%s",
                split_name,
                100 * metrics[f"{split_name}_accuracy"],
                f" ({extra})" if extra else "",
            )

    def _converged(self) -> bool:
        if self.separated:  # l2 = 0 on separated rows: there is no optimum to have reached
            return False
        if self.capabilities.iterates_to_convergence:
            return bool(self.optimizer.converged) or self.grad_max < self.grad_tol
        if self.config.train.tol:
            return self.tol_reached
        return self.grad_max < self.grad_tol

    def _final_warnings(self) -> None:
        opt, h = self.config.optimizer, self.history
        if self.capabilities.iterates_to_convergence and not self._converged():
            self._warn(
                diagnostics.convergence_warning(
                    opt.name, self.iteration, self.grad_max, self.grad_tol, stalled=self.optimizer.stalled
                ),
                ConvergenceWarning,
            )
        elif not self.capabilities.iterates_to_convergence and self.config.train.tol and not self.tol_reached:
            self._warn(
                diagnostics.tol_warning(self.config.train.tol, self.iteration, self.tol_change),
                ConvergenceWarning,
            )
        if self.capabilities.fixed_step:
            rising = diagnostics.rising_cost_warning(
                h["iteration"], h["train_cost"], opt.lr, eps=torch.finfo(self.dtype).eps
            )
            if rising:
                self._warn(rising, ConvergenceWarning)
        if not self.model.l2:
            separable = diagnostics.separation_warning(
                h["train_accuracy"][-1], h["weight_norm"], h["train_cost"]
            )
            if separable:
                self._warn(separable, SeparationWarning)
            self.separated = separable is not None

    def _final_pictures(self, test_proba) -> None:
        split, step = self.split, self.iteration
        predicted = self.model.loss.predict(rows_apply(self.model, self.x_test.to(dtype=self.dtype)).detach())
        y_test = self.y_test.long()
        self.writer.pr_curves(step, y_test, test_proba, split.classes)
        self.writer.confusion_matrix(step, y_test, predicted, split.classes)
        if split.image_shape is not None and split.x_test_raw is not None:
            self.writer.misclassified(
                step,
                split.x_test_raw.reshape(-1, *split.image_shape),
                y_test.cpu(),
                predicted.cpu(),
                split.classes,
            )
        if hasattr(self.model, "first_layer_filters"):  # a model of images: what its first layer looks for
            self.writer.filters(step, self.model.first_layer_filters())
        if split.n_features == 2 and not is_stream(split.x_test):
            model, dtype, device = self.model, self.dtype, self.device

            def proba_fn(grid):
                with torch.no_grad():
                    return model.predict_proba(grid.to(device=device, dtype=dtype)).cpu()

            self.writer.decision_regions(
                step,
                split.x_test,
                split.y_test.long(),
                proba_fn,
                split.classes,
                split.feature_names,
                split.standardizer is not None,
            )
