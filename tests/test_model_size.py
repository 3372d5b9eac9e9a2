"""A model too large to allocate is one line naming the key and the bytes, before anything is allocated."""

import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main

from torch_logreg.errors import ConfigError
from torch_logreg.nn.model_size import check_model_fits
from torch_logreg.nn.models import build_model
from torch_logreg.training.config import load_config


@pytest.mark.parametrize("hidden", ["[20000000000]", "[16, 30000000000]", "[4000000000, 4000000000]"])
def test_a_huge_hidden_layer_names_the_key_and_the_bytes(tmp_path, capsys, hidden):
    done = run_main(capsys, *QUIET, "model.name=mlp", f"model.hidden={hidden}", "--run-dir", tmp_path / "run")
    assert done.status == 2
    line = assert_one_error_line(done.err, "model.hidden=", "bytes")
    assert "Traceback" not in done.err and not (tmp_path / "run").exists(), line


def test_a_logistic_model_on_too_many_features_names_the_features():
    config = load_config(None, [])
    with pytest.raises(ConfigError, match=r"model.name=logistic on 1000000000 features and 1000 classes: .* bytes"):
        check_model_fits(build_model, config.model, 10**9, 1000, torch.float64, torch.device("cpu"), 10**9)


def test_a_model_that_fits_passes_the_check():
    config = load_config(None, ["model.name=mlp", "model.hidden=[64]"])
    check_model_fits(build_model, config.model, 30, 2, torch.float64, torch.device("cpu"), 10**9)
