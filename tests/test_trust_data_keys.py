"""Data keys the data cannot use, and test data of another kind: said as what they are, never silence."""

import json

import numpy as np
import pytest
from reliability_helpers import QUIET, assert_one_error_line, run_main
from test_image_folder import photo_folder

from torch_logreg import IgnoredKeyWarning
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

SHORT = [*QUIET, "train.iterations=3"]


def rows_csv(path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    lines = ["a,b,label"] + [f"{p:.6f},{q:.6f},{int(p + q > 0)}" for p, q in x]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "overrides, named",
    [
        (["data.image_size=[8, 8]"], ["data.image_size=[8, 8] is ignored", "holds rows"]),
        (["data.stream=true"], ["data.stream=true is ignored", "rows.csv is read whole"]),
    ],
)
def test_a_data_key_that_a_csv_cannot_use_is_one_warning_and_a_metrics_field(tmp_path, overrides, named):
    csv = rows_csv(tmp_path / "rows.csv")
    config = load_config(None, [*SHORT, f"data.path={csv}", *overrides])
    with pytest.warns(IgnoredKeyWarning) as caught:
        train(config, tmp_path / "run")
    lines = [str(w.message) for w in caught if w.category is IgnoredKeyWarning]
    assert len(lines) == 1 and all(part in lines[0] for part in named), lines
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert any(named[0] in line for line in metrics["warnings"]), metrics["warnings"]


def test_stream_on_built_in_data_is_said_to_be_ignored(tmp_path):
    config = load_config(None, [*SHORT, "data.stream=true"])
    with pytest.warns(IgnoredKeyWarning, match="data.name=breast_cancer is built in and read whole"):
        train(config, tmp_path / "run")


def test_keys_the_data_uses_say_nothing(tmp_path, recwarn):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    config = load_config(None, [*SHORT, f"data.path={folder}", "data.image_size=[6, 6]"])
    train(config, tmp_path / "run")
    assert not [w for w in recwarn if w.category is IgnoredKeyWarning]


def test_a_data_key_set_to_its_default_says_nothing_as_other_keys_do(tmp_path, recwarn):
    csv = rows_csv(tmp_path / "rows.csv")
    train(load_config(None, [*SHORT, f"data.path={csv}", "data.image_size=[32, 32]"]), tmp_path / "run")
    assert not [w for w in recwarn if w.category is IgnoredKeyWarning]


@pytest.mark.parametrize("images_for", ["train", "test"])
def test_test_data_of_the_other_kind_is_refused_as_such(tmp_path, capsys, images_for):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    csv = rows_csv(tmp_path / "rows.csv")
    path, test_path = (folder, csv) if images_for == "train" else (csv, folder)
    outcome = run_main(
        capsys, *SHORT, f"data.path={path}", f"data.test_path={test_path}", "--run-dir", tmp_path / "run"
    )
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(test_path), "same kind")
    assert not (tmp_path / "run").exists()
