"""The config schema: its keys and defaults, overrides typed by the field, what it refuses and what it
warns about, and the README table generated from it.
(Error wording for today's keys: test_config_errors.py.)"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from torch_logreg.errors import ConfigError, ConfigTypeError
from torch_logreg.training.config import (
    DTYPE_BOUNDED,
    SECTIONS,
    Config,
    check_config,
    config_from_dict,
    config_table_markdown,
    ignored_keys,
    load_config,
    save_config,
    valid_keys,
)

ROOT = Path(__file__).resolve().parents[1]

# CONTRACT.md "Config keys": every key and its default.
CONTRACT_DEFAULTS = {
    "seed": 0,
    "data.name": "breast_cancer",
    "data.path": None,
    "data.test_path": None,
    "data.target": None,
    "data.labels": None,
    "data.test_fraction": 0.25,
    "data.standardize": True,
    "data.image_shape": None,
    "data.image_size": [32, 32],
    "data.shift": 0,
    "data.samples": 1000,
    "data.features": 2,
    "data.noise": 1.0,
    "data.classes": 2,
    "model.name": "logistic",
    "model.init": None,
    "model.l2": 0.0,
    "model.check_grad": False,
    "model.hidden": [4],
    "model.activation": "tanh",
    "model.channels": [16, 32],
    "model.kernel_size": 3,
    "model.pool": "max",
    "model.class_weight": None,
    "optimizer.name": "gd",
    "optimizer.lr": 0.5,
    "optimizer.momentum": 0.0,
    "optimizer.hessian_rows": "auto",
    "optimizer.grad_tol": None,
    "optimizer.tolerance_change": 0.0,
    "optimizer.history_size": 100,
    "train.iterations": 2000,
    "train.batch_size": None,
    "train.log_every": 100,
    "train.device": "auto",
    "train.dtype": "float32",
    "train.x_dtype": None,
    "train.tol": 0.0,
    "train.print_cost": True,
    "train.checkpoint_every": 500,
    "train.summary": False,
    "train.threads": None,
    "data.stream": False,
    "data.memory_limit": None,
}


def value_of(config: Config, dotted: str):
    head, _, name = dotted.rpartition(".")
    return getattr(getattr(config, head) if head else config, name)


def test_the_schema_holds_exactly_the_contract_keys_with_their_defaults():
    config = Config()
    assert sorted(valid_keys()) == sorted(CONTRACT_DEFAULTS)
    assert {key: value_of(config, key) for key in valid_keys()} == CONTRACT_DEFAULTS


def test_every_key_has_help_text_that_names_its_allowed_values():
    for dotted in valid_keys():
        head, _, name = dotted.rpartition(".")
        info = (SECTIONS[head] if head else Config).model_fields[name]
        assert len(info.description or "") > 5, dotted
        for choice in _literal_choices(info.annotation):
            assert f"`{choice}`" in info.description, (dotted, choice)


def _literal_choices(annotation) -> list:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [c for arg in typing.get_args(annotation) for c in _literal_choices(arg)]


def test_the_number_of_classes_is_not_a_key():
    with pytest.raises(ConfigError, match="unknown key 'model.num_classes'"):
        load_config(None, ["model.num_classes=3"])


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.hidden=[16,8]", [16, 8]),
        ("model.hidden=[3]", [3]),
        ("optimizer.hessian_rows=auto", "auto"),
        ("optimizer.hessian_rows=500", 500),
        ("optimizer.hessian_rows=0", 0),
        ("model.class_weight=balanced", "balanced"),
        ("model.class_weight={M: 2, B: 0.5}", {"M": 2, "B": 0.5}),
        ("model.class_weight=null", None),
        ("model.init=null", None),
        ("model.init=xavier", "xavier"),
        ("model.name=mlp", "mlp"),
        ("model.activation=relu", "relu"),
        ("optimizer.grad_tol=1e-8", 1e-8),
        ("optimizer.grad_tol=none", None),
        ("optimizer.tolerance_change=1e-12", 1e-12),
        ("optimizer.history_size=10", 10),
        ("data.name=digits", "digits"),
        ("data.classes=3", 3),
        ("data.labels={M: 1, B: 0, X: 2}", {"M": 1, "B": 0, "X": 2}),  # any number of labels
        ("data.labels={1: cat, 2: dog}", {1: "cat", 2: "dog"}),  # to strings
        ("data.target=1", "1"),  # a str field keeps the text: a column named "1"
        ("train.summary=yes", True),
        ("train.x_dtype=bfloat16", "bfloat16"),
    ],
)
def test_an_override_is_typed_by_its_field(override, expected):
    dotted = override.partition("=")[0]
    value = value_of(load_config(None, [override]), dotted)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "override, error, named",
    [
        ("model.hidden=[0]", ConfigError, "model.hidden must be a non-empty list of integers >= 1, got [0]"),
        ("model.hidden=[]", ConfigError, "model.hidden must be a non-empty list of integers >= 1, got []"),
        ("model.hidden=16", ConfigTypeError, "model.hidden must be a list of integers, got '16'"),
        ("model.hidden=[1.5]", ConfigTypeError, "model.hidden must be a list of integers, got '[1.5]'"),
        ("optimizer.hessian_rows=some", ConfigTypeError, "optimizer.hessian_rows must be auto or an integer"),
        (
            "model.class_weight={M: 0}",
            ConfigError,
            "model.class_weight must be null, balanced or a mapping of labels to weights > 0, got {'M': 0}",
        ),
        (
            "model.class_weight=equal",
            ConfigTypeError,
            "model.class_weight must be null, balanced or a mapping",
        ),
        (
            "model.init=glorot",
            ConfigError,
            "model.init must be null or one of zeros, uniform, xavier, he, got 'glorot'",
        ),
        ("model.name=svm", ConfigError, "model.name must be one of logistic, mlp, cnn, got 'svm'"),
        ("model.activation=gelu", ConfigError, "model.activation must be one of tanh, relu, sigmoid"),
        ("optimizer.grad_tol=0", ConfigError, "optimizer.grad_tol must be null or > 0, got 0.0"),
        ("optimizer.tolerance_change=-1", ConfigError, "optimizer.tolerance_change must be >= 0, got -1.0"),
        ("optimizer.history_size=0", ConfigError, "optimizer.history_size must be >= 1, got 0"),
        ("data.classes=1", ConfigError, "data.classes must be >= 2, got 1"),
        (
            "data.name=mnist",
            ConfigError,
            "data.name must be one of breast_cancer, synthetic, digits, flower, spirals",
        ),
        ("train.summary=perhaps", ConfigTypeError, "train.summary must be true or false, got 'perhaps'"),
        ("model.l2=null", ConfigTypeError, "model.l2 cannot be null (expected a number)"),
    ],
)
def test_a_bad_value_for_a_contract_key_names_the_key(override, error, named):
    with pytest.raises(error) as raised:
        load_config(None, [override])
    assert str(raised.value).startswith(f"override: {named}")


def test_assignment_in_python_is_validated_and_counts_as_set():
    config = Config()
    with pytest.raises(ConfigError, match=r"^config: model.hidden must be a non-empty list of integers >= 1"):
        config.model.hidden = [8, 0]
    assert config.model.hidden == [4]
    config.model.hidden = [8, 2]
    assert ignored_keys(config) == [
        "model.hidden=[8, 2] is ignored: model.name=logistic does not use it (used by mlp, cnn)"
    ]


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    "override, suggestion",
    [
        ("optimizer.learning_rate=0.1", "optimizer.lr"),  # the last part, by its initials
        ("optimizer.momentm=0.9", "optimizer.momentum"),
        ("optimizer.history=5", "optimizer.history_size"),
        ("train.lr=0.1", "optimizer.lr"),  # the right key in another section
        ("model.activaton=relu", "model.activation"),
    ],
)
def test_did_you_mean_looks_at_the_last_part_of_the_key(override, suggestion):
    with pytest.raises(
        ConfigError,
        match=rf"unknown key '{override.partition('=')[0]}' "
        rf"\(did you mean {suggestion}\?\)",
    ):
        load_config(None, [override])


def test_every_unknown_key_in_a_file_is_reported_in_one_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optimizer:\n  learning_rate: 0.1\n  momentom: 0.9\ntrain:\n  iteration: 5\nseeed: 1\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        f"{path}: unknown keys 'optimizer.learning_rate' (did you mean optimizer.lr?), "
        "'optimizer.momentom' (did you mean optimizer.momentum?), "
        "'train.iteration' (did you mean train.iterations?), 'seeed' (did you mean seed?); "
    )
    assert "optimizer keys: name, lr, momentum" in message and "train keys: iterations" in message


def test_a_file_with_an_unknown_key_sets_nothing(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optimizer:\n  lr: 0.1\n  lrr: 0.2\n")
    config = Config()
    from torch_logreg.training.config import update

    with pytest.raises(ConfigError):
        update(config, yaml.safe_load(path.read_text()), source=str(path))
    assert config == Config()


# ---------------------------------------------------------------- finite in the training dtype


@pytest.mark.parametrize("dotted", DTYPE_BOUNDED)
def test_a_value_past_float32s_range_is_refused_in_float32_and_taken_in_float64(dotted):
    assert dotted in (
        "optimizer.lr",
        "optimizer.momentum",
        "optimizer.grad_tol",
        "optimizer.tolerance_change",
        "model.l2",
        "train.tol",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(None, [f"{dotted}=1e39"])
    assert str(raised.value) == (
        f"override: {dotted}=1e+39 is not finite in train.dtype=float32 (largest 3.403e+38)"
    )
    assert value_of(load_config(None, [f"{dotted}=1e39", "train.dtype=float64"]), dotted) == 1e39
    assert value_of(load_config(None, [f"{dotted}=3e38"]), dotted) == 3e38  # finite in float32


def test_the_dtype_check_sees_the_file_and_the_overrides_together(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("optimizer:\n  lr: 1e39\ntrain:\n  dtype: float64\n")
    assert load_config(path).optimizer.lr == 1e39
    with pytest.raises(ConfigError, match="optimizer.lr=1e\\+39 is not finite in train.dtype=float32"):
        load_config(path, ["train.dtype=float32"])
    config = Config()
    config.optimizer.lr = 1e39  # one key cannot see another's value: check_config does
    with pytest.raises(ConfigError, match="^config: optimizer.lr=1e\\+39 is not finite"):
        check_config(config)


# ---------------------------------------------------------------- keys that the choice ignores


@pytest.mark.parametrize(
    "overrides, warned",
    [
        (
            ["optimizer.momentum=0.9"],
            ["optimizer.momentum=0.9 is ignored: optimizer.name=gd does not use it (used by sgd)"],
        ),
        (
            ["optimizer.name=adam", "optimizer.hessian_rows=100"],
            ["optimizer.hessian_rows=100 is ignored: optimizer.name=adam does not use it (used by newton)"],
        ),
        (
            [
                "optimizer.name=newton",
                "optimizer.history_size=5",
                "optimizer.tolerance_change=1e-9",
                "optimizer.lr=0.1",
            ],
            [
                "optimizer.lr=0.1 is ignored: optimizer.name=newton does not use it "
                "(used by gd, sgd, adam, lbfgs)",
                "optimizer.tolerance_change=1e-09 is ignored: optimizer.name=newton does not use it "
                "(used by lbfgs)",
                "optimizer.history_size=5 is ignored: optimizer.name=newton does not use it (used by lbfgs)",
            ],
        ),
        (["optimizer.grad_tol=1e-6"], []),  # gd reports converged by it, though it runs every iteration
        (
            ["model.hidden=[16,8]", "model.activation=relu"],
            [
                "model.hidden=[16, 8] is ignored: model.name=logistic does not use it (used by mlp, cnn)",
                "model.activation=relu is ignored: model.name=logistic does not use it (used by mlp, cnn)",
            ],
        ),
        (
            ["model.name=mlp", "train.summary=true"],
            ["train.summary=true is ignored: model.name=mlp does not use it (used by logistic)"],
        ),
    ],
)
def test_a_key_set_for_another_optimizer_or_model_gets_one_warning_line_each(overrides, warned):
    assert ignored_keys(load_config(None, overrides)) == warned


@pytest.mark.parametrize(
    "overrides",
    [
        [],  # defaults are never warned about
        ["optimizer.name=sgd", "optimizer.momentum=0.9"],
        ["optimizer.name=newton", "optimizer.hessian_rows=100", "optimizer.grad_tol=1e-10"],
        [
            "optimizer.name=lbfgs",
            "optimizer.history_size=5",
            "optimizer.tolerance_change=1e-9",
            "optimizer.lr=1",
        ],
        ["model.name=mlp", "model.hidden=[16,8]", "model.activation=relu"],
        ["optimizer.momentum=0"],  # set, but to the default: nothing is lost
    ],
)
def test_keys_that_the_choice_uses_are_not_warned_about(overrides):
    assert ignored_keys(load_config(None, overrides)) == []


def test_a_resumed_config_warns_about_what_differs_from_the_defaults():
    saved = load_config(None, ["optimizer.momentum=0.9"]).to_dict()
    assert ignored_keys(config_from_dict(saved)) == ignored_keys(
        load_config(None, ["optimizer.momentum=0.9"])
    )
    assert ignored_keys(config_from_dict(Config().to_dict())) == []


# ---------------------------------------------------------------- round trips


def test_to_dict_round_trips_through_config_from_dict_and_config_yaml(tmp_path):
    config = load_config(
        None,
        [
            "model.name=mlp",
            "model.hidden=[16,8]",
            "optimizer.hessian_rows=7",
            "data.labels={M: 1, B: 0}",
            "model.class_weight=balanced",
            "train.dtype=float64",
        ],
    )
    config.name = "mine"
    assert config_from_dict(config.to_dict()) == config
    save_config(config, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved == config.to_dict()
    assert list(saved) == ["seed", "data", "model", "optimizer", "train", "name"]


# ---------------------------------------------------------------- the README


def test_the_readme_config_table_is_the_one_generated_from_the_schema():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Config") :]
    start = section.index("| key | default | meaning |")
    table = section[start : section.index("\n\n", start) + 1]
    assert table == config_table_markdown(), (
        "paste torch_logreg.training.config.config_table_markdown() into the README"
    )
    assert [row.split("|")[1].strip().strip("`") for row in table.splitlines()[2:]] == valid_keys()


def test_which_model_keys_apply_follows_from_the_models_own_declarations(monkeypatch):
    """A model declares the ``model.*`` keys only it reads: ignored_keys and the hparams rules follow."""
    from torch_logreg.nn import models
    from torch_logreg.nn.mlp import MLP
    from torch_logreg.training.tb_logging import applicable_hparams

    class WideMLP(MLP):
        name = "wide_mlp"

    monkeypatch.setitem(models.MODELS, "wide_mlp", WideMLP)
    assert models.models_using("hidden") == ("mlp", "cnn", "wide_mlp")
    assert "used by mlp, cnn, wide_mlp" in ignored_keys(load_config(None, ["model.hidden=[8]"]))[0]
    assert "model.hidden" not in applicable_hparams(Config().to_dict())


def test_each_optimizer_keys_help_names_the_optimizers_that_read_it():
    """The "`sgd` only" of a key's help is written by hand: it must say what the registry declares."""
    import re

    from torch_logreg.training.config_optimizer import OptimizerConfig
    from torch_logreg.training.optimizers import optimizers_using

    checked = 0
    for name, info in OptimizerConfig.model_fields.items():
        said = re.match(r"`(\w+)` only", info.description or "")
        if said:
            assert optimizers_using(name) == (said.group(1),), name
            checked += 1
        elif name not in ("name", "grad_tol"):
            assert len(optimizers_using(name)) != 1, f"optimizer.{name}'s help should say which one reads it"
    assert checked >= 3
