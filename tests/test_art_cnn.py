"""art.network=cnn: a CNN the project trained on a folder of images as the feature network."""

from __future__ import annotations

import warnings

import pytest
from reliability_helpers import assert_one_error_line
from test_image_folder import photo_folder

from torch_logreg.art import stylize
from torch_logreg.art.cnn_features import cnn_network
from torch_logreg.art.layers import ReLU
from torch_logreg.art.synthesize import GradientCheckFailed
from torch_logreg.cli import main
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

CNN = [
    "model.name=cnn",
    "model.activation=relu",
    "model.channels=[3,4]",
    "model.hidden=[4]",
    "train.iterations=3",
    "train.print_cost=false",
]


def trained(tmp_path, data) -> str:
    run = tmp_path / "cnn"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(load_config(None, [*data, *CNN]), run)
    return str(run)


@pytest.mark.parametrize("colour", [True, False], ids=["rgb", "grey"])
def test_a_cnn_run_is_a_feature_network_whose_hand_written_gradient_is_autograds(
    tmp_path, monkeypatch, colour
):
    folder = photo_folder(tmp_path / "photos", colour=colour)
    run = trained(tmp_path, [f"data.path={folder}", "data.image_size=[12,12]"])
    network = cnn_network(run)
    assert network.style_layers == ["relu1", "relu2"] and network.content_layers == ["relu2"]
    options = {"size": 24, "iterations": 3, "network": "cnn", "weights": run}
    image = stylize("china.jpg", "flower.jpg", check_grad=True, dtype="float64", **options)
    assert image.shape[:2] == (1, 3) and 0 <= float(image.min()) and float(image.max()) <= 1
    right = ReLU.backward  # the check catches a broken backward through the CNN's layers
    monkeypatch.setattr(ReLU, "backward", lambda self, grad, saved: 0.9 * right(self, grad, saved))
    with pytest.raises(GradientCheckFailed):
        stylize("china.jpg", "flower.jpg", check_grad=True, dtype="float64", **options)


def test_a_cnn_trained_on_rows_of_numbers_or_not_a_cnn_is_one_line(tmp_path, capsys):
    digits = trained(tmp_path, ["data.name=digits"])
    assert (
        main(
            [
                "art",
                "art.network=cnn",
                f"art.weights={digits}",
                "art.size=16",
                "art.iterations=1",
                "--run-dir",
                str(tmp_path / "art"),
            ]
        )
        == 2
    )
    assert_one_error_line(
        capsys.readouterr().err, f"art.weights={digits}", "rows of numbers", "data.name=digits"
    )
    assert not (tmp_path / "art").exists()

    logistic = tmp_path / "logistic"
    train(load_config(None, ["train.iterations=2", "train.print_cost=false"]), logistic)
    assert (
        main(
            [
                "art",
                "art.network=cnn",
                f"art.weights={logistic}",
                "art.size=16",
                "art.iterations=1",
                "--run-dir",
                str(tmp_path / "art"),
            ]
        )
        == 2
    )
    assert_one_error_line(capsys.readouterr().err, "not a CNN")
