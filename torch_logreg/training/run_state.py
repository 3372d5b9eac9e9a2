"""What a checkpoint holds of a training run, and how the run returns to it: the ``Trainer``'s state methods.

A mixin, so that ``Trainer`` reads in one sitting: it uses the trainer's ``model``,
``optimizer``, ``split``, ``config``, ``history`` and ``run_dir``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoint import CHECKPOINT_NAME, save_checkpoint
from ..checkpoint_fields import check_optimizer_fits, check_resumable, check_weights_fit
from ..errors import CheckpointError
from ..saved_model import model_record


class RunState:
    def _state(self, seconds: float, record: bool = True) -> dict:
        """What a checkpoint holds now.  ``record=False`` leaves out the model record (architecture,
        classes, feature names, standardizer: ``_with_record`` adds it when the state is written), for
        the snapshot each log step keeps to replay a divergence from."""
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        clone = lambda sd: {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in sd.items()}  # noqa: E731
        return {
            **(self._record() if record else {}),
            "model": clone(self.model.state_dict()),  # on the run's device, for a bitwise resume
            "target": self.config.data.target,
            "config": self.config_dict,
            "data_fingerprint": self.fingerprint,
            "optimizer": _deep_clone(self.optimizer.state_dict()),
            "iteration": self.iteration,
            "rng": rng,
            "history": {k: list(v) for k, v in self.history.items()},
            "seconds": seconds,
        }

    def _record(self) -> dict:
        split = self.split
        return model_record(self.model, split.standardizer, split.classes, split.feature_names)

    def _with_record(self, state: dict) -> dict:
        """A snapshot taken with ``record=False``, whole, while the model holds its weights."""
        return {**self._record(), **state}

    def _restore(self, state: dict) -> None:
        where = Path(self.run_dir or ".") / CHECKPOINT_NAME
        check_resumable(state, where)
        check_weights_fit(self.model, state["model"], where)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(_deep_clone(state["optimizer"]))
            check_optimizer_fits(self.optimizer, where)
            self.iteration = int(state["iteration"])
            torch.set_rng_state(state["rng"]["torch"])
            if "cuda" in state["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
            # Like TensorBoard's purge_step: entries from here on are logged again as the run goes on.
            history = {
                ("test" + k[3:] if k.startswith("val_") else k): v for k, v in state["history"].items()
            }
            keep = sum(1 for it in history["iteration"] if it < self.iteration)
            self.history = {k: list(history.get(k, [])[:keep]) for k in self.history}
            self.seconds_before = float(state.get("seconds", 0.0))
        except CheckpointError:
            raise
        except (KeyError, RuntimeError, ValueError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(f"{self.run_dir}: checkpoint does not fit this config ({first})") from None

    def _save(self, seconds: float) -> None:
        if self.save:
            save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state(self.seconds_before + seconds))

    def _save_checked(self, seconds: float) -> None:
        # Never replace a good checkpoint with a non-finite one.
        if all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._save(seconds)
        else:
            self._diverged(self.iteration)


def _deep_clone(value):
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _deep_clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_clone(v) for v in value]
    return value
