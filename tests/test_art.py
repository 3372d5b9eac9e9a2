"""Texture synthesis and style transfer: hand-written image gradients, the VGG-19 loader, the command."""

import json
import logging
import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from torch_logreg.art import images, stylize
from torch_logreg.art import run as art_run
from torch_logreg.art.config import art_config
from torch_logreg.art.layers import Branch, Conv, FeatureNetwork, Pool, ReLU
from torch_logreg.art.objective import Objective, Weights, autograd_gradient
from torch_logreg.art.random_net import random_multiscale_network
from torch_logreg.art.synthesize import GradientCheckFailed
from torch_logreg.art.vgg19 import WeightsError, expected_shapes, vgg19_network
from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.cli import EXIT_DIVERGED, main
from torch_logreg.errors import ConfigError, DataError

pytest.importorskip("sklearn")  # the built-in photographs


def picture(size=24, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, size, size + 4, generator=gen, dtype=dtype)


def random_vgg19_state_dict(seed=0) -> dict:
    """Random weights in torchvision's VGG-19 layout, classifier keys included (the loader ignores them)."""
    gen = torch.Generator().manual_seed(seed)
    state = {
        name: torch.randn(*shape, generator=gen)
        * (0.1 if name.endswith("bias") else (2 / np.prod(shape[1:])) ** 0.5)
        for name, shape in expected_shapes().items()
    }
    state["classifier.0.weight"] = torch.zeros(4, 8)
    return state


@pytest.fixture
def vgg_weights(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(random_vgg19_state_dict(), path)
    return path


def tiny_network(pooling="avg") -> FeatureNetwork:
    """conv 3×3 → ReLU → pool → conv 3×3 (stride 2) → ReLU: every kind of layer, at a size a test affords."""
    gen = torch.Generator().manual_seed(0)
    layers = [
        Conv(torch.randn(4, 3, 3, 3, generator=gen), torch.randn(4, generator=gen), 1, 1),
        ReLU(),
        Pool(pooling, 2),
        Conv(torch.randn(5, 4, 3, 3, generator=gen), None, 2, 1),
        ReLU(),
    ]
    return FeatureNetwork(
        [Branch(layers, {"relu1": 1, "relu2": 4})],
        ["relu1", "relu2"],
        ["relu2"],
        mean=torch.tensor([0.5, 0.4, 0.3]),
        std=torch.tensor([0.2, 0.25, 0.3]),
    )


NETWORKS = {
    "random": lambda: random_multiscale_network(0, width=8),
    "avg": lambda: tiny_network("avg"),
    "max": lambda: tiny_network("max"),
}


@pytest.mark.parametrize("network", list(NETWORKS))
def test_image_gradient_by_hand_equals_autograd_in_float64(network):
    """Style (a blend of two), content and TV together, back through the hand-written layers."""
    net = NETWORKS[network]().to(torch.float64)
    objective = Objective(
        net,
        Weights(content=2.0, style=100.0, tv=0.5),
        [picture(24, 1), picture(24, 2)],
        [1.0, 3.0],
        content=picture(24, 3),
    )
    image = picture(24, 4)
    _, _, hand = objective.loss_and_grad(image)
    torch.testing.assert_close(hand, autograd_gradient(objective, image), atol=1e-10, rtol=1e-7)


def test_vgg19_image_gradient_by_hand_equals_autograd_in_float64(vgg_weights):
    net = vgg19_network(vgg_weights, "avg").to(torch.float64)
    objective = Objective(net, Weights(2.0, 100.0, 0.0), [picture(32, 1)], [1.0], content=picture(32, 2))
    image = picture(32, 3)
    torch.testing.assert_close(
        objective.loss_and_grad(image)[2], autograd_gradient(objective, image), atol=1e-10, rtol=1e-7
    )


@pytest.mark.parametrize("layer", [Conv, ReLU, Pool])
def test_a_broken_layer_backward_is_caught_by_the_check(monkeypatch, layer):
    objective = Objective(
        tiny_network().to(torch.float64),
        Weights(1.0, 1.0, 0.0),
        [picture(16, 1)],
        [1.0],
        content=picture(16, 2),
    )
    image = picture(16, 3)
    right = layer.backward
    monkeypatch.setattr(layer, "backward", lambda self, grad, saved: 0.9 * right(self, grad, saved))
    assert not torch.allclose(objective.loss_and_grad(image)[2], autograd_gradient(objective, image))


def test_check_grad_compares_the_first_step_with_autograd_and_stops_a_broken_backward(
    monkeypatch, tmp_path, capsys, caplog
):
    caplog.set_level(logging.INFO, logger="torch_logreg.art")
    stylize(size=24, iterations=2, width=4, check_grad=True)
    assert "check_grad: hand-written vs autograd image gradient, largest difference" in caplog.text
    right = ReLU.backward
    monkeypatch.setattr(ReLU, "backward", lambda self, grad, saved: 0.9 * right(self, grad, saved))
    with pytest.raises(GradientCheckFailed, match="differs from autograd's"):
        stylize(size=24, iterations=2, width=4, check_grad=True)
    stylize(size=24, iterations=2, width=4)  # unchecked, the broken backward goes unnoticed
    assert (
        main(["art", "art.size=24", "art.width=4", "art.check_grad=true", "--run-dir", str(tmp_path / "run")])
        == EXIT_DIVERGED
    )
    err = capsys.readouterr().err
    assert err.startswith("error: art.check_grad: ") and err.count("\n") == 1


def test_vgg19_features_equal_conv2d_applied_directly(vgg_weights):
    state = torch.load(vgg_weights, weights_only=True)
    net = vgg19_network(vgg_weights, "max")
    image = picture(32, dtype=torch.float32)
    features, _ = net.features(image)
    x = (image - torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).reshape(1, 3, 1, 1)
    x = F.relu(F.conv2d(x, state["features.0.weight"], state["features.0.bias"], padding=1))
    torch.testing.assert_close(features["relu1_1"], x)
    x = F.relu(F.conv2d(x, state["features.2.weight"], state["features.2.bias"], padding=1))
    x = F.max_pool2d(x, 2)
    x = F.relu(F.conv2d(x, state["features.5.weight"], state["features.5.bias"], padding=1))
    torch.testing.assert_close(features["relu2_1"], x)
    assert set(features) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"}
    assert features["relu5_1"].shape == (1, 512, 2, 2)


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda s: s.pop("features.10.weight"), "key features.10.weight is missing"),
        (
            lambda s: s.__setitem__("features.2.weight", torch.zeros(64, 64, 5, 5)),
            "key features.2.weight has shape",
        ),
        (lambda s: s.__setitem__("features.37.weight", torch.zeros(1)), "unexpected key features.37.weight"),
    ],
)
def test_a_wrong_layout_names_the_first_key_that_does_not_fit(tmp_path, change, named):
    state = random_vgg19_state_dict()
    change(state)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match=named):
        vgg19_network(path)


def test_texture_style_loss_falls_by_orders_of_magnitude(tmp_path):
    """flower.jpg at 48 px, 60 L-BFGS evaluations (the README's 128 px run reaches ≥ 10,000×)."""
    folder = tmp_path / "run"
    assert main(["art", "art.size=48", "art.iterations=60", "--run-dir", str(folder)]) == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["iterations"] == 60
    assert metrics["final"]["style"] * 100 < metrics["initial"]["style"]
    result = Image.open(folder / "result.png")
    assert max(result.size) == 48 and result.mode == "RGB"
    assert Image.open(folder / "content_style_result.png").size[0] > 2 * 48


def test_style_transfer_from_python_with_every_option():
    image = stylize(
        "china.jpg",
        ["flower.jpg", "china.jpg"],
        size=32,
        iterations=4,
        style_blend=[2, 1],
        original_colors=True,
        scales=2,
        tv_weight=1.0,
        optimizer="adam",
        style_scale=0.5,
        check_grad=True,
        dtype="float64",
    )
    assert image.shape == (1, 3, 21, 32) and image.dtype == torch.float32
    assert 0 <= float(image.min()) and float(image.max()) <= 1


def test_sigint_saves_the_image_and_resume_takes_the_steps_of_an_uninterrupted_run(
    tmp_path, capsys, monkeypatch
):
    """A real SIGINT at evaluation 4 of 8 (Adam, so that the steps are exact): result.png and a checkpoint,
    exit 130 with the command that continues; --resume then ends on the uninterrupted run's image,
    bit for bit."""
    args = ["art", "art.size=24", "art.width=4", "art.optimizer=adam", "art.iterations=8", "art.save_every=0"]
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main([*args, "--run-dir", str(whole)]) == 0

    log = art_run._log

    def interrupt_at_4(writer, image, losses, progress, config):
        log(writer, image, losses, progress, config)
        if progress.step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(art_run, "_log", interrupt_at_4)
    assert main([*args, "--run-dir", str(stopped)]) == 128 + signal.SIGINT
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"stopped: interrupted by SIGINT at iteration 4; result.png and a "
        f"checkpoint saved in {stopped}, continue with: train.py art "
        f"--run-dir {stopped} --resume"
    )
    assert (stopped / "result.png").is_file() and not (stopped / "metrics.json").exists()
    assert load_checkpoint(stopped)["art"]["iteration"] == 3  # the 4th evaluation's update is still to come
    monkeypatch.setattr(art_run, "_log", log)

    assert main(["art", "--run-dir", str(stopped), "--resume"]) == 0
    assert json.loads((stopped / "metrics.json").read_text())["iterations"] == 8
    assert torch.equal(load_checkpoint(stopped)["model"]["image"], load_checkpoint(whole)["model"]["image"])
    assert (stopped / "result.png").read_bytes() == (whole / "result.png").read_bytes()


def test_resume_goes_on_with_more_iterations(tmp_path):
    folder = tmp_path / "run"
    args = ["art", "art.size=24", "art.width=4", "art.save_every=3", "--run-dir", str(folder)]
    assert main([*args, "art.iterations=3"]) == 0
    assert main(["art", "--run-dir", str(folder), "--resume", "art.iterations=6"]) == 0
    assert json.loads((folder / "metrics.json").read_text())["iterations"] == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--style", "{not_image}"], "not an image that can be decoded"),
        (["--style", "{missing}"], "no such image file"),
        (["art.network=vgg19", "art.weights={missing}"], "no such file"),
        (["art.network=vgg19"], "needs art.weights"),
        (["art.network=vgg19", "art.weights={not_image}"], "not a readable state_dict"),
        (["art.network=vgg19", "art.weights={wrong}"], "key features.10.weight is missing"),
        (["--content", "{not_image}"], "not an image that can be decoded"),
        (["art.size=4096", "art.width=1024", "art.style_scale=8"], "more than the"),
        (["art.sise=64"], "did you mean art.size"),
        (["art.iterations=-1"], "art.iterations must be"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, args, message):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a picture")
    wrong = random_vgg19_state_dict()
    del wrong["features.10.weight"]
    torch.save(wrong, tmp_path / "wrong.pth")
    args = [
        a.format(not_image=not_image, missing=tmp_path / "missing.jpg", wrong=tmp_path / "wrong.pth")
        for a in args
    ]
    assert main(["art", *args, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_config_keys_are_typed_and_ranged():
    config = art_config(["art.size=256", "art.style_blend=[1, 2]", "art.original_colors=true"])
    assert (config.size, config.style_blend, config.original_colors) == (256, [1.0, 2.0], True)
    with pytest.raises(ConfigError, match="art.optimizer"):
        art_config(["art.optimizer=sgd"])


def test_keep_colors_keeps_the_results_luminance_and_the_contents_chrominance():
    """YIQ: Y from the result, I and Q from the content (mid-range pictures, so no value is clamped)."""
    result = 0.3 + 0.4 * picture(dtype=torch.float32)
    content = 0.4 + 0.2 * picture(seed=5, dtype=torch.float32)
    kept = images.keep_colors(result, content)

    def yiq(image):
        return torch.einsum("ij,njhw->nihw", images._RGB_TO_YIQ, image)

    torch.testing.assert_close(yiq(kept)[:, 0], yiq(result)[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(yiq(kept)[:, 1:], yiq(content)[:, 1:], atol=1e-5, rtol=0)


def test_built_in_images_are_scikit_learns():
    with pytest.raises(DataError):
        images.load_image("tulip.jpg", 32)
    assert images.load_image("flower.jpg", 64).shape == (1, 3, 43, 64)
