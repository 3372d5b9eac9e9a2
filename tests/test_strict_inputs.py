"""Every file is read strictly and by name, and whatever is wrong in it gives one line, never a traceback.

The property-based tests feed generated bad input to the CSV reader, the YAML loader and the
checkpoint loader: each must end in a ``UserInputError`` (one ``error:`` line on the command line)
or load cleanly."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import QUIET, assert_one_error_line, run_main

from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.data.read_table import load_table, parse_number
from torch_logreg.errors import CheckpointError, ConfigError, DataError, UserInputError
from torch_logreg.training.config import load_config
from torch_logreg.training.metrics import strict_json
from torch_logreg.training.yaml_loading import load_yaml_text

ROWS = "".join(
    f"{i % 7 * 0.5},{(i * 3) % 5 - 2},{int(i % 7 * 0.5 + (i * 3) % 5 - 2 > 1)}\n" for i in range(60)
)


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("cell", ["1_000", "0x10", "١٢", "1e", "--1", "1.2.3", "1,5", "", "e5", "Infinity!"])
def test_a_cell_that_is_not_a_plain_number_is_refused_with_its_place(cell):
    with pytest.raises(DataError, match=r"rows.csv: line 7, column 'b': .* is not a number"):
        parse_number(cell, "rows.csv", 7, "b")


@pytest.mark.parametrize(
    "cell, value", [("1", 1.0), (" -2.5 ", -2.5), ("1e5", 1e5), (".5", 0.5), ("3.", 3.0), ("+7E-2", 0.07)]
)
def test_decimal_and_exponent_forms_are_read(cell, value):
    assert parse_number(cell, "rows.csv", 2, "a") == value


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1e999", "-2E400"])
def test_nan_and_inf_are_read_only_to_be_refused_by_name(cell):
    with pytest.raises(DataError, match="is not finite"):
        parse_number(cell, "rows.csv", 3, "a")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_any_cell_is_a_finite_float_or_one_clear_refusal(cell):
    try:
        value = parse_number(cell, "rows.csv", 2, "a")
    except DataError as error:
        assert "rows.csv: line 2, column 'a'" in str(error) and "\n" not in str(error)
    else:
        assert math.isfinite(value) and value == float(cell) and "_" not in cell


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet='ab,\n"x1.e_ -;', max_size=80))
def test_a_generated_csv_loads_or_gives_one_clear_error(tmp_path, text):
    path = tmp_path / "gen.csv"
    path.write_text(text)
    try:
        load_table(path)
    except UserInputError as error:
        assert str(error) and "Traceback" not in str(error)


def test_a_non_numeric_column_that_is_not_the_label_says_how_to_choose_the_label(tmp_path, capsys):
    path = tmp_path / "pets.csv"
    path.write_text(
        "species,weight,height\n" + "".join(f"{'dog' if i % 2 else 'cat'},{i},{i * 2}\n" for i in range(20))
    )
    done = run_main(capsys, f"data.path={path}", *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "column 'species'", "last column", "data.target=NAME")


def test_training_refuses_two_columns_with_the_same_name(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("a,a,y\n" + ROWS)
    with pytest.raises(DataError, match="column 'a' appears 2 times"):
        load_table(path)


# ---------------------------------------------------------------- the test file, by name


def _train(tmp_path, test_text):
    train_path, test_path = tmp_path / "train.csv", tmp_path / "test.csv"
    train_path.write_text("a,b,y\n" + ROWS)
    test_path.write_text(test_text)
    from torch_logreg.training.trainer import train

    config = load_config(
        None,
        [
            f"data.path={train_path}",
            f"data.test_path={test_path}",
            "data.target=y",
            "train.iterations=50",
            *QUIET,
        ],
    )
    return train(config, save=False)


def test_the_test_file_is_read_by_column_name_not_position(tmp_path):
    same = _train(tmp_path, "a,b,y\n" + ROWS).metrics
    swapped_rows = "".join(
        f"{r.split(',')[1]},{r.split(',')[0]},{r.split(',')[2]}\n" for r in ROWS.splitlines()
    )
    swapped = _train(tmp_path, "b,a,y\n" + swapped_rows).metrics
    assert swapped["test_accuracy"] == same["test_accuracy"] and swapped["test_cost"] == same["test_cost"]


@pytest.mark.parametrize("header, named", [("a,y\n", "missing column 'b'"), ("a,b,c,y\n", "column 'c'")])
def test_a_test_file_with_missing_or_extra_features_is_refused(tmp_path, header, named):
    rows = (
        ROWS
        if header.count(",") == 2
        else "".join(r.rsplit(",", 1)[0] + ",1," + r.rsplit(",", 1)[1] + "\n" for r in ROWS.splitlines())
    )
    if header == "a,y\n":
        rows = "".join(f"{r.split(',')[0]},{r.split(',')[2]}\n" for r in ROWS.splitlines())
    with pytest.raises(DataError, match=named):
        _train(tmp_path, header + rows)


# ---------------------------------------------------------------- YAML


def test_a_key_given_twice_names_the_key_and_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("optimizer:\n  lr: 0.1\n  name: gd\n  lr: 0.5\n")
    with pytest.raises(ConfigError, match=r"key 'lr' is given twice \(lines 2 and 4\)"):
        load_config(path)


def test_nested_aliases_are_refused_in_bounded_space(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(
            f"l{level}: &l{level} [" + ", ".join([f"*{'a' if level == 1 else f'l{level - 1}'}"] * 10) + "]"
        )
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "alias" in str(raised.value) and len(str(raised.value)) < 300


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab: -\n&*[]{},'\"!#12", max_size=60))
def test_any_yaml_text_loads_or_is_one_clear_error(text):
    import yaml

    try:
        load_yaml_text(text)
    except yaml.YAMLError as error:
        assert str(error)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="abtrainoptimzelr: -\n&*[]{},.=0123", max_size=60))
def test_a_generated_config_file_loads_or_gives_one_config_error(tmp_path, text):
    path = tmp_path / "gen.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as error:
        assert len(str(error)) < 2000


# ---------------------------------------------------------------- checkpoints and metrics


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_as_a_checkpoint_load_or_are_refused_as_one_checkpoint_error(tmp_path, data):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(data)
    try:
        load_checkpoint(path)
    except CheckpointError as error:
        assert str(path) in str(error) or "checkpoint" in str(error)


def test_metrics_json_is_strict_json_with_a_reason_for_each_missing_number():
    text = strict_json({"test_auc": float("nan"), "train_cost": 0.25, "grad_norm": float("inf")})
    values = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in metrics.json"))
    assert values["test_auc"] is None and "one class" in values["undefined"]["test_auc"]
    assert values["grad_norm"] is None and values["train_cost"] == 0.25


def test_a_one_class_test_set_writes_null_auc_not_nan(tmp_path):
    train_path, test_path = tmp_path / "train.csv", tmp_path / "test.csv"
    train_path.write_text("a,b,y\n" + ROWS)
    test_path.write_text("a,b,y\n" + "".join(r for r in ROWS.splitlines(keepends=True) if r.endswith("1\n")))
    from torch_logreg.training.trainer import train

    config = load_config(
        None,
        [
            f"data.path={train_path}",
            f"data.test_path={test_path}",
            "data.target=y",
            "train.iterations=20",
            *QUIET,
        ],
    )
    train(config, tmp_path / "run")
    text = (tmp_path / "run" / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["test_auc"] is None


@pytest.mark.parametrize(
    "field, value", [("iteration", "abc"), ("config", [1]), ("model", {"w": "x"}), ("seconds", "soon")]
)
def test_a_checkpoint_with_a_wrong_type_names_the_checkpoint_and_the_field(tmp_path, capsys, field, value):
    run = tmp_path / "run"
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", run)
    assert done.status == 0, done.err
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state[field] = value
    torch.save(state, run / "checkpoint.pt")
    for command in (
        ["--resume", run, "train.iterations=4"],
        ["evaluate", "--checkpoint", run, "--data", tmp_path / "none.csv"],
    ):
        done = run_main(capsys, *command)
        assert done.status == 2
        named = "'w'" if field == "model" else repr(field)
        assert_one_error_line(done.err, str(run / "checkpoint.pt"), named)


def test_a_csv_passed_as_a_checkpoint_is_not_a_checkpoint(tmp_path, capsys):
    path = tmp_path / "rows.csv"
    path.write_text("a,b,y\n" + ROWS)
    done = run_main(capsys, "predict", "--checkpoint", path, "--data", path)
    assert done.status == 2
    message = assert_one_error_line(done.err, str(path), "not a checkpoint")
    assert "run code" not in message


def test_a_model_too_large_to_allocate_names_the_key_and_the_bytes(tmp_path, capsys):
    done = run_main(
        capsys, "model.name=mlp", "model.hidden=[20000000000]", *QUIET, "--run-dir", tmp_path / "run"
    )
    assert done.status == 2
    assert_one_error_line(done.err, "model.hidden=[20000000000]", "2,560,000,000,004 bytes")
    assert not (tmp_path / "run").exists()


def test_strict_json_names_a_nested_value_that_is_not_finite():
    """art's metrics.json nests its losses: a NaN there is null with its dotted key, not a crash."""
    import json

    from torch_logreg.training.metrics import strict_json

    text = strict_json({"final": {"style": float("nan"), "tv": 0.5}, "iterations": 3})
    assert json.loads(text) == {
        "final": {"style": None, "tv": 0.5},
        "iterations": 3,
        "undefined": {"final.style": "not finite (nan)"},
    }
