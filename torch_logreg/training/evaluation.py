"""What a run reads of itself at a log step: the costs, accuracies and gradient in one host sync, the
per-parameter gradients for TensorBoard, and, when a value turns non-finite, the exact iteration.

A mixin of ``Trainer`` (as ``run_state`` and ``classification_report`` are), so that the trainer reads
in one sitting.  It sees the model only through ``nn.Classifier`` (``cost``, ``cost_and_grads`` when
the model offers it, ``penalized_parameters``) and the optimizer through its ``capabilities``.
"""

from __future__ import annotations

import torch

from ..checkpoint import CHECKPOINT_NAME, save_checkpoint
from ..data.streaming import is_stream, rows_apply
from ..errors import TrainingDiverged
from . import diagnostics


class Evaluation:
    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        """Full-train and test cost and accuracy, the gradient's largest entry, ‖W‖: one sync.

        Without test rows (a split the caller made, e.g. scikit-learn's ``fit``) there are no test values."""
        if self.batch_size is None and hasattr(self.optimizer, "cost_and_gradient"):
            # Newton's next step starts from this very pair (it reads the cost on the host anyway)
            cost, gradient = self.optimizer.cost_and_gradient(
                self.x_train, self.y_train, self.w_train, self.l2_rows
            )
            train_cost = torch.tensor(cost, dtype=self.dtype, device=self.device)
        else:
            train_cost, gradient = self._cost_and_gradient(self.x_train, self.y_train, self.w_train)
        self._last_gradient = gradient
        weights = [p.detach().reshape(-1) for p in self.model.penalized_parameters()]
        tags = ["train/cost", "train/accuracy", "train/grad_norm", "train/weight_norm"]
        values = [
            train_cost.to(self.dtype),
            self._accuracy(self.x_train, self.y_train),
            gradient.abs().max().to(self.dtype),
            torch.cat(weights).norm().to(self.dtype),
        ]
        if self.has_test:
            test_cost, _ = self._cost_and_gradient(self.x_test, self.y_test, None, need_gradient=False)
            tags += ["test/cost", "test/accuracy"]
            values += [test_cost.to(self.dtype), self._accuracy(self.x_test, self.y_test)]
        return dict(zip(tags, torch.stack(values).tolist()))

    def _cost_and_gradient(self, x, y, sample_weight, need_gradient: bool = True):
        """(J, the flat gradient over all parameters or None) on (x, y), without a host sync."""
        if hasattr(self.reduced, "cost_and_grads"):
            cost, grads = self.reduced.cost_and_grads(x, y, sample_weight=sample_weight, with_cost=True)
            return cost, torch.cat([g.reshape(-1) for g in grads])
        params = [p for p in self.model.parameters() if p.requires_grad]
        with torch.enable_grad():
            cost = self.model.cost(x.to(self.dtype), y, sample_weight=sample_weight)
            grads = torch.autograd.grad(cost, params) if need_gradient else None
        return cost.detach(), (torch.cat([g.reshape(-1) for g in grads]) if need_gradient else None)

    def _accuracy(self, x, y):
        predicted = self.model.loss.predict(rows_apply(self.model, x.to(dtype=self.dtype)))
        return self.group.global_mean((predicted.to(y.dtype) == y).to(self.dtype))

    def _gradients_by_name(self) -> dict | None:
        """Per-parameter gradients for TensorBoard, for networks (``layered`` models)."""
        if not getattr(self.model, "layered", True):
            return None
        named = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        pieces = self._last_gradient.split([p.numel() for _, p in named])
        return {name: piece.view_as(p) for (name, p), piece in zip(named, pieces)}

    def _diverged(self, seen_at: int) -> None:
        """Replay from the last good state, checking each step, to name the first bad iteration."""
        first_bad = seen_at
        if self.last_good is not None:
            self._restore(self.last_good)
            for it in range(self.iteration, seen_at + 1):
                x, y, s = self._batch(it)
                cost, gradient = self._cost_and_gradient(x, y, s)
                params = [p.detach().reshape(-1) for p in self.model.parameters()]
                finite = torch.isfinite(torch.cat([cost.reshape(1).to(self.dtype), gradient, *params]))
                if not bool(finite.all()) or it == seen_at:
                    first_bad = it
                    break
                self.step(x, y, s)
            self._restore(self.last_good)
            if self.save:
                save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._with_record(self.last_good))
        kept = (
            f"; the last good state (iteration {self.iteration}) is in {self.run_dir / CHECKPOINT_NAME}"
            if self.last_good is not None and self.save
            else ""
        )
        raise TrainingDiverged(
            f"training diverged at iteration {first_bad}: the cost or a gradient is not finite "
            f"(optimizer {self.config.optimizer.name}; {self._divergence_advice()}){kept}"
        )

    def _divergence_advice(self) -> str:
        opt, capabilities = self.config.optimizer, self.capabilities
        with torch.no_grad():
            weights = [p.detach().abs().max() for p in self.model.parameters() if p.numel()]
            weight_max = float(torch.stack(weights).nan_to_num(nan=0.0).max()) if weights else 0.0
            data_max = (
                None
                if is_stream(self.x_train) or not self.x_train.numel()
                else float(self.x_train.abs().max())
            )
        return diagnostics.divergence_advice(
            opt.name,
            opt.lr,
            capabilities.has_lr and not capabilities.needs_closure,
            capabilities.needs_closure,
            weight_max,
            data_max,
            self.model.l2,
            self.dtype,
        )
