"""The CNN: the same network as stock PyTorch, gradchecked whole, trained by the same trainer."""

import json

import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main
from torch import nn

from torch_logreg import CNN, load_model
from torch_logreg.checkpoint import load_checkpoint, save_checkpoint
from torch_logreg.nn import functional as LF
from torch_logreg.nn import models
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

CPU = ["train.print_cost=false", "train.device=cpu"]


def small_cnn(num_classes=10, pool="max", activation="relu", image_shape=(2, 7, 6), **kwargs):
    torch.manual_seed(0)
    in_features = image_shape[0] * image_shape[1] * image_shape[2]
    return CNN(
        in_features,
        image_shape,
        channels=(3, 4),
        kernel_size=3,
        pool=pool,
        hidden=(5,),
        num_classes=num_classes,
        activation=activation,
        dtype=torch.float64,
        **kwargs,
    )


def stock_copy(model: CNN) -> nn.Sequential:
    """The same network in stock PyTorch (nn.Conv2d, nn.MaxPool2d, nn.Linear), with model's weights."""
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[model.activation]
    pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}.get(model.pool)
    layers, channels = [], model.image_shape[0]
    for conv, pools in zip(model.convolutions, model.pooled):
        stock = nn.Conv2d(
            channels, conv.out_channels, conv.kernel_size, padding=conv.padding, dtype=torch.float64
        )
        stock.load_state_dict(conv.state_dict())
        layers += [stock, act(), *([pool(2)] if pools else [])]
        channels = conv.out_channels
    layers.append(nn.Flatten())
    *hidden, output = model.dense_layers
    for layer in hidden:
        stock = nn.Linear(*reversed(layer.weight.shape), dtype=torch.float64)
        stock.load_state_dict(layer.state_dict())
        layers += [stock, act()]
    stock = nn.Linear(*reversed(output.weight.shape), dtype=torch.float64)
    stock.load_state_dict(output.state_dict())
    return nn.Sequential(*layers, stock)


@pytest.mark.parametrize("pool", ["max", "avg", "none"])
@pytest.mark.parametrize("num_classes", [2, 4])
def test_logits_and_gradients_equal_the_same_network_in_stock_pytorch(pool, num_classes):
    model = small_cnn(num_classes, pool, l2=0.3)
    stock = stock_copy(model)
    x = torch.randn(9, 2 * 7 * 6, dtype=torch.float64)
    y = torch.arange(9) % num_classes
    logits = stock(x.view(9, 2, 7, 6))
    expected = logits.squeeze(-1) if num_classes == 2 else logits
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-12)

    model.cost(x, y.double() if num_classes == 2 else y).backward()
    if num_classes == 2:
        data_cost = nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), y.double())
    else:
        data_cost = nn.functional.cross_entropy(logits, y)
    weights = [p for name, p in stock.named_parameters() if name.endswith("weight")]
    (data_cost + 0.3 / (2 * 9) * sum((w**2).sum() for w in weights)).backward()
    for mine, theirs in zip(model.parameters(), stock.parameters()):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=0, atol=1e-12)


def test_the_whole_cnn_passes_gradcheck_in_float64():
    model = small_cnn(3, "max", "tanh", image_shape=(1, 5, 5), l2=0.2)
    x = torch.randn(4, 25, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 1])
    names = [name for name, _ in model.named_parameters()]

    class Cost(nn.Module):  # the cost as a module, so functional_call can swap in gradcheck's parameters
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.cost(x, y)

    def cost(x, *values):
        return torch.func.functional_call(Cost(), {f"model.{n}": v for n, v in zip(names, values)}, (x,))

    values = [p.detach().clone().requires_grad_() for p in model.parameters()]
    assert torch.autograd.gradcheck(cost, (x, *values), atol=1e-8, rtol=1e-6)


def test_rows_and_images_give_the_same_logits_and_the_sample_shape_is_the_image():
    model = small_cnn()
    x = torch.randn(3, 2, 7, 6, dtype=torch.float64)
    assert torch.equal(model(x), model(x.reshape(3, -1)))
    assert model.sample_shape == (2, 7, 6)
    assert models.architecture(model)["sample_shape"] == [2, 7, 6]


def test_init_is_he_for_relu_and_xavier_otherwise_with_zero_biases():
    assert small_cnn(activation="relu").init == "he" and small_cnn(activation="tanh").init == "xavier"
    model = small_cnn(activation="tanh")
    assert all(torch.all(layer.bias == 0) for layer in [*model.convolutions, *model.dense_layers])
    bound = 3**0.5 * nn.init.calculate_gain("tanh") * (2 / (2 * 9 + 3 * 9)) ** 0.5  # Xavier's for conv1
    assert model.convolutions[0].weight.abs().max() <= bound


def test_a_pool_stops_when_the_image_is_one_pixel_wide():
    model = CNN(4, (1, 2, 2), channels=(2, 2, 2), hidden=(3,), num_classes=2)
    assert model.pooled == [True, False, False] and model.flat_features == 2
    assert model(torch.zeros(5, 4)).shape == (5,)


# ---------------------------------------------------------------- through the trainer


def tiny_digits(*overrides):
    return load_config(
        None,
        [
            *CPU,
            "data.name=digits",
            "model.name=cnn",
            "model.channels=[4]",
            "model.hidden=[8]",
            "model.activation=tanh",
            *overrides,
        ],
    )


def test_training_with_check_grad_equals_training_with_plain_autograd_to_1e_10():
    """50 full-batch gd steps in float64: the hand-written backward (checked against autograd at each
    log step) and plain autograd through stock ops give the same weights."""
    common = [
        "train.dtype=float64",
        "optimizer.name=gd",
        "optimizer.lr=0.1",
        "train.iterations=50",
        "train.log_every=10",
        "model.l2=0.5",
    ]
    checked = train(tiny_digits(*common, "model.check_grad=true"), save=False)
    with LF.plain_autograd():
        plain = train(tiny_digits(*common), save=False)
    pairs = zip(checked.model.parameters(), plain.model.parameters())
    worst = max((a - b).abs().max().item() for a, b in pairs)
    assert worst <= 1e-10
    assert checked.history["train_cost"][-1] < checked.history["train_cost"][0]


def test_a_digits_cnn_saves_loads_resumes_bitwise_and_shows_its_filters(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    common = [
        "optimizer.name=adam",
        "optimizer.lr=0.01",
        "train.batch_size=64",
        "train.log_every=10",
        "train.checkpoint_every=0",
    ]
    whole = train(tiny_digits(*common, "train.iterations=30"), tmp_path / "whole")
    train(tiny_digits(*common, "train.iterations=12"), tmp_path / "part")
    resumed = train(tiny_digits(*common, "train.iterations=30"), tmp_path / "part", resume=True)
    for a, b in zip(resumed.model.parameters(), whole.model.parameters()):
        assert torch.equal(a, b)
    assert "model/first_layer_filters" in EventAccumulator(str(tmp_path / "whole")).Reload().Tags()["images"]
    state = load_checkpoint(tmp_path / "whole")
    assert state["architecture"]["sample_shape"] == [1, 8, 8]

    loaded = load_model(tmp_path / "whole")
    assert isinstance(loaded.model, CNN) and loaded.model.sample_shape == (1, 8, 8)
    # A checkpoint from before sample shapes (no "sample_shape") still loads and predicts the same.
    del state["architecture"]["sample_shape"]
    save_checkpoint(tmp_path / "old.pt", state)
    x = torch.rand(5, 64, dtype=torch.float64) * 16
    assert torch.equal(load_model(tmp_path / "old.pt").predict_proba(x), loaded.predict_proba(x))


def test_rows_of_flattened_pixels_need_data_image_shape(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    table = np.hstack([rng.random((40, 12)), (np.arange(40) % 2)[:, None]])
    np.save(tmp_path / "pixels.npy", table)
    outcome = run_main(
        capsys,
        *QUIET,
        f"data.path={tmp_path / 'pixels.npy'}",
        "model.name=cnn",
        "--run-dir",
        tmp_path / "run",
    )
    assert outcome.status == 2
    assert_one_error_line(outcome.err, "model.name=cnn", "data.image_shape")
    assert not (tmp_path / "run").exists()
    outcome = run_main(
        capsys,
        *QUIET,
        f"data.path={tmp_path / 'pixels.npy'}",
        "data.image_shape=[5, 5]",
        "model.name=cnn",
        "--run-dir",
        tmp_path / "run",
    )
    assert outcome.status == 2
    assert_one_error_line(outcome.err, "data.image_shape", "25", "12")
    config = load_config(
        None,
        [
            *CPU,
            f"data.path={tmp_path / 'pixels.npy'}",
            "data.image_shape=[3, 2, 2]",
            "model.name=cnn",
            "model.channels=[2]",
            "train.iterations=3",
        ],
    )
    result = train(config, save=False)
    assert result.model.sample_shape == (3, 2, 2)


def test_the_cnn_keys_are_the_cnn_declaration_and_shared_head_keys_are_the_mlps():
    assert CNN.config_keys == ("hidden", "activation", "channels", "kernel_size", "pool")
    assert models.models_using("hidden") == ("mlp", "cnn") and models.models_using("pool") == ("cnn",)
    from torch_logreg.training.config import ignored_keys

    assert ignored_keys(load_config(None, ["model.name=mlp", "model.pool=avg"])) == [
        "model.pool=avg is ignored: model.name=mlp does not use it (used by cnn)"
    ]
    assert json.dumps(load_config(None, ["model.name=cnn"]).to_dict()["model"]["channels"]) == "[16, 32]"
