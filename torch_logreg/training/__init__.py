"""Training: the config, the loop and everything it writes.

- ``config.py``: the config schema (pydantic), YAML, overrides; ``config_keys.py``: a key's machinery;
  ``config_yaml.py``: strict YAML; ``config_data/model/optimizer/train.py``: each section's keys.
- ``trainer.py``: the loop: logging, checkpoints, signals (``train``, ``TrainResult``).
- ``evaluation.py``: what a log step reads in one sync, and where a run turned non-finite;
  ``console.py``: ``print_cost``'s stdout.
- ``assemble.py``: putting a run together, one plain function per job (data, model, optimizer...).
- ``run_state.py``: a run's checkpointed state; ``classification_report.py``: the end of a run.
- ``steps.py``: one step: autograd, hand-written, CUDA graph, fused kernel.
- ``optim.py``: gd, Newton, L-BFGS; ``capabilities.py``: what an optimizer declares it can do.
- ``optimizers.py``: the registry of the optimizers a config names, with their capabilities.
- ``run_dir.py``: the run folder, never silently reusing one that holds a run.
- ``resume.py``: what a resumed run may change.
- ``tb_logging.py``: TensorBoard; ``images.py``: the end-of-run pictures; ``learning_curves.py``;
  ``drawing.py``: what the pictures share (colours, text, ticks).
- ``metrics.py``: accuracy, AUC, F1, precision, recall, log loss (torch).
- ``diagnostics.py``: the warnings: convergence, rising cost, separation, singular designs.
- ``distributed.py``: torchrun: the process group, the reducing model wrapper, agreement at start.

Checkpoints are written and read by ``torch_logreg.checkpoint``, beside the saved models that
use them too. ``torch_logreg.train`` is the ``train`` function of ``trainer.py``; this package
re-exports nothing.
"""
