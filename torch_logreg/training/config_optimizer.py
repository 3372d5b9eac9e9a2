"""The ``optimizer.*`` keys: the optimizer the registry names, and the keys some optimizers read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .config_keys import Float, Int, _Section, key
from .optimizers import OPTIMIZERS

OptimizerName = Literal[tuple(OPTIMIZERS)]  # type: ignore[valid-type]  # the registry's names


class OptimizerConfig(_Section):
    _section = "optimizer"

    name: OptimizerName = key("gd", ", ".join(spec.help for spec in OPTIMIZERS.values()))
    lr: Float = key(0.5, "α, the learning rate (not used by `newton`)", gt=0)
    momentum: Float = key(0.0, "`sgd` only", ge=0)
    hessian_rows: Literal["auto"] | Annotated[int, Field(ge=0)] = key(
        "auto",
        "`newton` only: 0 builds the Hessian from every row; k > 0 from k rows drawn once (seeded by "
        "`seed`), while the gradient and the line search use every row; `auto`: every row, or 100 rows "
        "per parameter once there are more than 10 parameters and more than twice that many rows",
        expected="auto or an integer >= 0 (0: every row)",
        kind="auto or an integer",
    )
    grad_tol: Float | None = key(
        None,
        "`newton` and `lbfgs` stop when the full-batch gradient's largest entry "
        "falls below this (null: scaled to `train.dtype`)",
        gt=0,
    )
    tolerance_change: Float = key(0.0, "`lbfgs` only: stop when the cost or the step changes by less", ge=0)
    history_size: Int = key(100, "`lbfgs` only: the number of past updates kept", ge=1)
