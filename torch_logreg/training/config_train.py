"""The ``train.*`` keys: how long, on which device and in which precision, what is logged and saved."""

from __future__ import annotations

from typing import Literal

from .config_keys import Float, Int, Text, _Section, key


class TrainConfig(_Section):
    _section = "train"

    iterations: Int = key(2000, "optimizer steps", ge=0)
    batch_size: Int | None = key(
        None, "null is the full batch, as in the document", ge=1, expected=">= 1 or null (full batch)"
    )
    log_every: Int = key(100, "log (and read values from the device) every N steps", ge=1)
    device: Text = key(
        "auto",
        "`cpu`, `cuda`, `cuda:N`; `auto` picks CUDA when present; an explicit `cuda` "
        "without a GPU is an error",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        expected="auto, cpu, cuda or cuda:N",
    )
    dtype: Literal["float32", "float64"] = key("float32", "`float32` or `float64`, end to end")
    x_dtype: Literal["float32", "bfloat16"] | None = key(
        None,
        "null (= `train.dtype`), `float32`, or `bfloat16`: X stored in bf16 on CUDA (fused kernel, float32 "
        "accumulation)",
    )
    tol: Float = key(
        0.0,
        "`gd`, `sgd`, `adam`: stop when the cost changes by less than this between two log "
        "steps (0: run every iteration)",
        ge=0,
    )
    print_cost: bool = key(True, 'print "Cost after iteration i" at each log step')
    checkpoint_every: Int = key(
        500, "also checkpoint every N steps (0: only at the end and on interruption)", ge=0
    )
    summary: bool = key(
        False, "print a statsmodels-style coefficient table at the end (logistic regression only)"
    )
    threads: Int | None = key(
        None,
        "torch threads per process (null: torch's default, and one thread while "
        "training on CPU data under 32 MB; under torchrun, the cores ÷ the workers on "
        "this machine)",
        ge=1,
        expected=">= 1 or null",
    )
