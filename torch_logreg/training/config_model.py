"""The ``model.*`` keys: those every model reads, then each model's own, from its declaration.

Each model declares its own keys, once, in its own file (``MLPKeys`` in ``nn/mlp.py``, ``CNNKeys`` in
``nn/cnn.py``; logistic regression has none), and the registry ``nn.models.MODELS`` maps ``model.name``
to the model.  From those declarations follow: the keys of this section, their help text (naming the
models that read each), ``used_by``/``ignored_keys``, the README table, ``--help`` and the TensorBoard
hparams.

Why one flat section and not a pydantic union discriminated on ``name``: a key of another model must
be accepted and warned about, not refused (``model.name=logistic`` with ``model.hidden=[16, 8]`` trains,
saying "model.hidden=[16, 8] is ignored: model.name=logistic does not use it (used by mlp, cnn)"), keys
arrive in any order (``model.hidden=[8] model.name=mlp``, a YAML file with ``hidden:`` above ``name:``),
and ``config.model.name = "mlp"`` is set in place on the section (scikit-learn's estimator does).  A
union's member for ``logistic`` would have to hold every other model's keys to allow all three, which is
this flat section under another name, and switching ``name`` would have to replace the section object.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, create_model
from pydantic.fields import FieldInfo

from ..nn.models import MODELS, model_name_help, models_using
from .config_keys import Float, _Section, key


def _positive_weights(weights: dict) -> dict:
    if not weights or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w < float("inf")
        for w in weights.values()
    ):
        raise ValueError("weights")
    return weights


ModelName = Literal[tuple(MODELS)]  # type: ignore[valid-type]  # the model registry's names


class _ModelKeys(_Section):
    """The keys every model reads; each model's own keys are its declaration (``Classifier.keys``)."""

    _section = "model"

    name: ModelName = key("logistic", model_name_help())
    init: Literal["zeros", "uniform", "xavier", "he"] | None = key(
        None,
        "`zeros` (the document), `uniform` (U(±1/√n), like `nn.Linear`), `xavier`, `he`; "
        "null: each model's own ("
        + ", ".join(f"{m.init_help or f'`{m.default_init}`'} for `{name}`" for name, m in MODELS.items())
        + ")",
    )
    l2: Float = key(
        0.0,
        "(l2/2m)·‖W‖² over the full training count m, for every optimizer; scikit-learn's "
        "`C = 1/l2`; biases are not penalized",
        ge=0,
    )
    check_grad: bool = key(
        False,
        "at each log step, compare the hand-written gradients with autograd's and log the largest difference",
    )


def _declared_model_keys() -> dict:
    """Each model's declared keys, once each in registry order, as (type, field) with the help text
    naming the models that read it: ``model.hidden`` is "`mlp` and `cnn`: the hidden layers' widths"."""
    fields = {}
    for model in MODELS.values():
        for name, info in model.keys.model_fields.items() if model.keys is not None else ():
            if name not in fields:
                users = models_using(name)
                said = (
                    f"`{users[0]}` only"
                    if len(users) == 1
                    else ", ".join(f"`{user}`" for user in users[:-1]) + f" and `{users[-1]}`"
                )
                described = FieldInfo.merge_field_infos(info, description=f"{said}: {info.description}")
                fields[name] = (info.annotation, described)
    return fields


# The model section: the common keys, every model's declared keys, then class_weight; ``ignored_keys`` warns
# of a key that the chosen model does not declare.
ModelConfig = create_model(
    "ModelConfig",
    __base__=_ModelKeys,
    **_declared_model_keys(),
    class_weight=(
        Literal["balanced"] | Annotated[dict, AfterValidator(_positive_weights)] | None,
        key(
            None,
            "null (every row weighs 1), `balanced` (n / (K·count of the class)), or label → weight, "
            "e.g. `{M: 2}`",
            expected="null, balanced or a mapping of labels to weights > 0",
            kind="null, balanced or a mapping",
        ),
    ),
)
ModelConfig._section = "model"
