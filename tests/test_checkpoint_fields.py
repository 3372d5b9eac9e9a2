"""A checkpoint that loads with weights_only but holds the wrong things is one line naming file and field."""

import copy
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import QUIET, assert_one_error_line, run_main

from torch_logreg import load_model
from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.errors import CheckpointError, UserInputError
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "run"
    train(load_config(None, [*QUIET, "train.iterations=3"]), folder)
    return folder


@pytest.fixture(scope="module")
def good_state(run):
    return torch.load(run / "checkpoint.pt", weights_only=True)


BROKEN = {
    "iteration": (lambda s: s.update(iteration="abc"), "'iteration'"),
    "negative iteration": (lambda s: s.update(iteration=-1), "'iteration'"),
    "iteration as bool": (lambda s: s.update(iteration=True), "'iteration'"),
    "weight shape": (lambda s: s["model"].update(weight=torch.zeros(3, 3)), "'model.weight'"),
    "weight dtype": (lambda s: s["model"].update(weight=s["model"]["weight"].long()), "'model.weight'"),
    "weight not finite": (lambda s: s["model"]["weight"].fill_(math.nan), "'model.weight'"),
    "bias missing": (lambda s: s["model"].pop("bias"), "'model.bias'"),
    "optimizer missing": (lambda s: s.pop("optimizer"), "'optimizer'"),
    "optimizer wrong": (lambda s: s.update(optimizer={"state": 1}), "'optimizer'"),
    "rng": (lambda s: s["rng"].update(torch=torch.zeros(3)), "'rng.torch'"),
    "history": (lambda s: s["history"].update(iteration=["x"]), "'history.iteration'"),
    "config": (lambda s: s.update(config=[1]), "config"),
    "seconds": (lambda s: s.update(seconds=math.inf), "'seconds'"),
    "classes": (lambda s: s.update(classes=[[0], 1]), "'classes'"),
    "standardizer": (lambda s: s.update(standardizer={"mean": 1, "std": 2}), "'standardizer.mean'"),
}


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "lbfgs"])
def test_optimizer_state_of_the_wrong_shape_is_named(tmp_path, capsys, optimizer):
    folder = tmp_path / "run"
    overrides = [
        *QUIET,
        f"optimizer.name={optimizer}",
        "optimizer.momentum=0.9" if optimizer == "sgd" else "optimizer.lr=0.01",
        "train.iterations=3",
    ]
    train(load_config(None, overrides), folder)
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    states = state["optimizer"]["state"]
    key, entry = next(iter(states.items()))
    name = next(name for name, value in entry.items() if torch.is_tensor(value) and value.dim() > 0)
    entry[name] = torch.zeros(7, 3)
    torch.save(state, folder / "checkpoint.pt")
    done = run_main(capsys, "--resume", folder, "train.iterations=6")
    assert done.status == 2
    assert_one_error_line(done.err, str(folder), f"'optimizer.state.{key}.{name}'")


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_checkpoint_of_wrong_types_is_one_line_naming_the_field(tmp_path, capsys, run, good_state, case):
    import shutil

    change, field = BROKEN[case]
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    state = copy.deepcopy(good_state)
    change(state)
    torch.save(state, folder / "checkpoint.pt")
    done = run_main(capsys, "--resume", folder, "train.iterations=6")
    assert done.status == 2
    assert_one_error_line(done.err, str(folder), field)


def test_a_csv_passed_as_checkpoint_is_not_a_checkpoint(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n1,2,0\n3,4,1\n")
    done = run_main(capsys, "predict", "--checkpoint", data, "--data", data)
    line = assert_one_error_line(done.err, "data.csv", "not a checkpoint")
    assert "run code" not in line and done.status == 2


def test_an_empty_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(path)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=4)
    | st.builds(torch.zeros, st.integers(0, 3))
    | st.builds(lambda n: torch.zeros(n, dtype=torch.uint8), st.integers(0, 3)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(
    [
        "model",
        "iteration",
        "optimizer",
        "rng",
        "history",
        "config",
        "classes",
        "seconds",
        "feature_names",
        "standardizer",
        "architecture",
        "target",
        "data_fingerprint",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_fields, _values, min_size=1, max_size=3))
def test_any_generated_checkpoint_is_a_model_or_one_clean_error(tmp_path_factory, good_state, changes):
    state = {**copy.deepcopy(good_state), **changes}
    path = tmp_path_factory.mktemp("gen") / "checkpoint.pt"
    torch.save(state, path)
    try:
        load_model(path)
    except UserInputError as error:
        assert "\n" not in str(error) and str(path) in str(error)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_a_checkpoint_or_one_clean_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "checkpoint.pt"
    path.write_bytes(data)
    with pytest.raises(UserInputError) as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value)
