"""Putting a training run together: plain functions, each one job, that ``Trainer.__init__`` calls in order.

device and dtypes -> torchrun agreement and the checkpoint -> the data -> the model -> the
optimizer -> the fused-kernel check -> the resume check -> the run folder -> the writer.
Each takes what it needs and returns what it made; none keeps state of its own.
"""

from __future__ import annotations

import torch

from ..checkpoint import atomic_write_text, load_checkpoint
from ..data.shards import load_for_training
from ..data.split import Split, Standardizer
from ..data.streaming import device_memory, is_stream
from ..errors import ConfigError
from ..nn.classifier import Classifier, as_classifier
from ..nn.model_size import check_model_fits
from ..nn.models import build_model
from . import diagnostics, distributed
from .class_weights import class_weights
from .config import Config
from .optim import auto_hessian_rows
from .optimizers import OPTIMIZERS, make_optimizer
from .run_dir import open_run_dir, run_name

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


class NoWriter:
    """Stands in for ``RunWriter`` when a run saves nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def resolve_device(name: str) -> torch.device:
    """``auto`` is cuda when there is one, else cpu; an explicit cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"train.device={name}, but no CUDA GPU is available (use train.device=auto or cpu)"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"train.device={name}, but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return device


def resolve_dtypes(cfg, device: torch.device) -> tuple[torch.dtype, torch.dtype]:
    """(the parameters' dtype, x's dtype): ``train.x_dtype`` may differ only for the fused CUDA kernel."""
    dtype = DTYPES[cfg.dtype]
    x_dtype = DTYPES[cfg.x_dtype] if cfg.x_dtype else dtype
    if x_dtype != dtype and (device.type != "cuda" or dtype != torch.float32):
        raise ConfigError(
            f"train.x_dtype={cfg.x_dtype} needs train.device=cuda and train.dtype=float32 "
            f"(the fused kernel accumulates in float32)"
        )
    return dtype, x_dtype


def agree_on_start(group, config: Config, run_dir, resume: bool, overwrite: bool, checkpoint):
    """Under torchrun, every worker's same config, restart plan and rank 0's checkpoint.
    Returns (resume, overwrite, checkpoint or None)."""
    if group.active:
        group.check_same_config(config.to_dict())
        resume, overwrite = distributed.restart_plan(group, run_dir, resume, overwrite)
    if resume and checkpoint is None:
        checkpoint = group.agree(load_checkpoint, run_dir) if run_dir is not None else None
    if group.active and checkpoint is not None:
        checkpoint = group.broadcast(checkpoint)  # rank 0's: the other machines need not see its disk
    return resume, overwrite, checkpoint


def training_data(config: Config, group, checkpoint, data: Split | None) -> Split:
    """The caller's split, or (streamed, this worker's rows, or in memory) ``config.data``'s, standardized
    as the checkpoint's run was."""
    if data is not None:
        return data
    saved = (checkpoint or {}).get("standardizer")
    standardizer = Standardizer.from_state_dict(saved) if saved else None
    return load_for_training(config.data, config.seed, group, standardizer)


def training_model(config: Config, model, split: Split, device, dtype) -> Classifier:
    """The caller's module or ``model.name``'s, as a ``Classifier`` on the run's device and dtype; the
    resolved ``model.init`` is written back into the config, as recorded."""
    n, num_classes = split.n_features, split.num_classes
    if model is None:
        try:  # sized on the meta device first: nothing is allocated for a model that cannot fit
            check_model_fits(
                build_model,
                config.model,
                split.sample_shape,
                num_classes,
                dtype,
                device,
                lambda: device_memory(device),
            )
            model = build_model(config.model, split.sample_shape, num_classes)
        except ValueError as error:  # the model's own check of its arguments names the key
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(f"config: {error}") from None
    model = as_classifier(model, n, num_classes).to(device=device, dtype=dtype)
    if config.model.init is None and "init" in model.constructor_args():
        config.model.init = model.constructor_args()["init"]  # the resolved default, as recorded
    return model


def check_model_offers(optimizer_name: str, model, model_name: str) -> None:
    """An optimizer that needs a model method (Newton: ``hessian``) refuses a model without it, naming
    the optimizers that would do."""
    needs = OPTIMIZERS[optimizer_name].capabilities.needs_model
    missing = [method for method in needs if not hasattr(model, method)]
    if missing:
        usable = [
            name
            for name, spec in OPTIMIZERS.items()
            if all(hasattr(model, method) for method in spec.capabilities.needs_model)
        ]
        raise ConfigError(
            f"optimizer.name={optimizer_name} needs a model with a closed-form Hessian; "
            f"model.name={model_name} has none (use {', '.join(usable[:-1])} or {usable[-1]})"
        )


def training_optimizer(config: Config, model, reduced, m_total: int, grad_tol: float):
    """``optimizer.name``'s optimizer over ``reduced`` (the model, or its torchrun reduction)."""
    opt = config.optimizer
    n_params = sum(p.numel() for p in model.parameters())
    hessian_rows = auto_hessian_rows(m_total, n_params) if opt.hessian_rows == "auto" else opt.hessian_rows
    return make_optimizer(
        opt.name,
        reduced,
        opt.lr,
        opt.momentum,
        hessian_rows=hessian_rows,
        seed=config.seed,
        grad_tol=grad_tol,
        tolerance_change=opt.tolerance_change,
        history_size=opt.history_size,
    )


def check_x_dtype(cfg, model, x_train, dtype, x_dtype) -> None:
    """A narrower x than the parameters needs the model's hand-written path and, on CUDA, the fused kernel."""
    if x_dtype == dtype:
        return
    if not hasattr(model, "cost_and_grads"):
        raise ConfigError(f"train.x_dtype={cfg.x_dtype} needs a model with a hand-written fast path")
    if x_train.device.type == "cuda":
        from .. import kernels

        if not (kernels.triton_available() and kernels.supports(x_train)):
            raise ConfigError(
                f"train.x_dtype={cfg.x_dtype} needs the fused kernel: pip install 'torch_logreg[cuda]'"
            )


def run_folder(group, save: bool, run_dir, config: Config, num_classes: int, resume: bool, overwrite: bool):
    """(the run folder, its lock): made or emptied and locked by rank 0, the folder known to every worker;
    (None, None) when nothing is saved. The lock is held for the trainer's life: one writer per run folder."""
    name = run_name(config.name, config.data, config.model.name, num_classes)
    folder, lock = group.agree(
        lambda: open_run_dir(run_dir, name, resume=resume, overwrite=overwrite) if save else (None, None)
    )
    if group.active:
        folder = group.broadcast(folder)
    return folder, lock


def append_command(run_dir, command: list[str]) -> None:
    """Add this command line to the run's ``command.txt`` (a resumed run keeps every one)."""
    path = run_dir / "command.txt"
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    atomic_write_text(path, before + " ".join(command) + "\n")


def training_weights(given, class_weight, split: Split, group, device, dtype) -> torch.Tensor | None:
    """The training rows' weights: ``sample_weight`` (``given``) times ``model.class_weight``'s weight of
    each row's class; None when every row weighs 1."""
    weights = None if given is None else torch.as_tensor(given, dtype=dtype, device=device).reshape(-1)
    if class_weight is not None:
        # "balanced" counts every worker's labels, each by its sample weight
        gather = group.gather_rows
        per_class = class_weights(
            class_weight,
            split.classes,
            gather(split.y_train.to(device)).cpu(),
            None if weights is None else gather(weights).cpu(),
        )
        row = per_class.to(device, dtype)[split.y_train.long().to(device)]
        weights = row if weights is None else weights * row
    return weights


def design_warnings(model, split: Split, x_train) -> list[str]:
    """The warnings about training columns that leave a weight undetermined (``diagnostics.design_warnings``),
    for a model with a weight per feature; none for rows streamed from disk."""
    # A weight per feature is what a singular design leaves undetermined; a model that shares its weights
    # over an image's pixels (a convolution) has none, so the design warnings are not its to hear.
    per_feature = len(getattr(model, "sample_shape", (0,))) == 1
    # Images are standardized per channel: a constant pixel stays constant (not zero) after it.
    zeroed = split.standardizer is not None and split.image_shape is None
    if is_stream(x_train) or not per_feature:
        return []
    return diagnostics.design_warnings(x_train, split.feature_names, zeroed)
