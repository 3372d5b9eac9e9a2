"""What the dashboards are built from: the tags a run writes, read back as TensorBoard reads them, and
the pictures."""

import logging
import math

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from torch_logreg.training import images
from torch_logreg.training.tb_logging import RunWriter, applicable_hparams, histogram_summary


def read_back(run_dir) -> EventAccumulator:
    return EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0}).Reload()


def summary_events(run_dir) -> int:
    (path,) = run_dir.glob("events.out.tfevents.*")
    return sum(1 for event in EventFileLoader(str(path)).Load() if event.HasField("summary"))


# ------------------------------------------------------------------ histograms


def test_histogram_counts_every_finite_value_in_buckets_that_end_at_the_maximum():
    values = np.array([0.0, 0.0, 1.0, 2.0, 3.0, np.inf])
    histo = histogram_summary("weights/weight", values).value[0].histo
    assert histo.num == 5 and sum(histo.bucket) == 5
    assert histo.min == 0.0 and histo.max == 3.0 and histo.bucket_limit[-1] == 3.0
    assert list(histo.bucket_limit) == sorted(histo.bucket_limit)
    assert histo.sum == 6.0 and histo.sum_squares == 14.0


def test_histogram_buckets_grow_with_the_square_root_of_the_count():
    assert len(histogram_summary("w", np.linspace(0, 1, 30)).value[0].histo.bucket) == 6
    assert len(histogram_summary("w", np.linspace(0, 1, 10_000)).value[0].histo.bucket) == 30


def test_histogram_of_a_constant_is_one_bucket_around_it():
    histo = histogram_summary("weights/bias", np.zeros(1)).value[0].histo
    assert list(histo.bucket) == [1.0] and histo.min == -0.5 and histo.max == 0.5


# ------------------------------------------------------------------ scalars, parameters, gradients


def test_a_bias_is_a_scalar_a_few_weights_are_scalars_and_many_are_a_histogram(tmp_path):
    torch.manual_seed(0)
    wide, narrow = (
        torch.nn.Linear(30, 1).double(),
        torch.nn.Linear(2, 3).double(),
    )  # 30 weights; 6 weights, 3 biases
    writer = RunWriter(tmp_path)
    writer.scalars(0, {"train/cost": 0.5}, wide)
    writer.close()
    events = read_back(tmp_path)
    assert events.Tags()["histograms"] == ["weights/weight"]
    assert events.Scalars("weights/bias")[0].value == pytest.approx(wide.bias.item())

    writer = RunWriter(tmp_path / "narrow")
    writer.scalars(0, {}, narrow)
    writer.close()
    events = read_back(tmp_path / "narrow")
    assert events.Tags()["histograms"] == []
    assert sorted(events.Tags()["scalars"]) == [f"weights/bias/{i}" for i in range(3)] + [
        f"weights/weight/{i}" for i in range(6)
    ]
    assert events.Scalars("weights/weight/5")[0].value == pytest.approx(narrow.weight[2, 1].item())


def test_gradients_are_histograms_and_each_layer_gets_one_norm_scalar(tmp_path):
    """Per-entry gradient scalars are noise at any width: the entries go to histograms, and the scalars
    are one norm per layer, in a group that sorts after the learning curves."""
    grads = {
        "layer1.weight": torch.full((16, 2), 0.5),
        "layer1.bias": torch.full((4,), 2.0),
        "layer2.weight": torch.tensor([[3.0]]),
        "layer2.bias": torch.tensor([4.0]),
    }
    writer = RunWriter(tmp_path)
    writer.scalars(7, {"train/cost": 0.1}, grads=grads)
    writer.close()
    events = read_back(tmp_path)
    assert sorted(events.Tags()["histograms"]) == [f"weights_grad/{name}" for name in sorted(grads)]
    assert sorted(events.Tags()["scalars"]) == [
        "1_cost/train",
        "weights_grad/layer1.norm",
        "weights_grad/layer2.norm",
    ]
    value = lambda tag: events.Scalars(tag)[0].value  # noqa: E731
    assert value("weights_grad/layer1.norm") == pytest.approx(
        math.sqrt(32 * 0.25 + 4 * 4.0)
    )  # 32 entries of 0.5, 4 of 2
    assert value("weights_grad/layer2.norm") == pytest.approx(5.0)  # √(3² + 4²)


def test_a_log_step_is_one_event_whatever_it_holds(tmp_path):
    # The writer thread pays ~100 µs of Python per event: one per log step keeps logging cheap.
    writer = RunWriter(tmp_path)
    model = torch.nn.Linear(30, 1)
    for step in range(3):
        writer.scalars(
            step,
            {"train/cost": 1.0, "test/cost": 2.0},
            model,
            grads={name: torch.ones_like(p) for name, p in model.named_parameters()},
        )
    writer.close()
    assert summary_events(tmp_path) == 3


# ------------------------------------------------------------------ hparams


def config(data=None, model=None, optimizer=None):
    base = {
        "seed": 0,
        "name": "run",
        "data": {
            "name": "breast_cancer",
            "path": None,
            "test_path": None,
            "target": None,
            "labels": None,
            "test_fraction": 0.25,
            "standardize": True,
            "samples": 1000,
            "features": 2,
            "noise": 1.0,
            "classes": 2,
        },
        "model": {
            "name": "logistic",
            "init": "zeros",
            "l2": 0.0,
            "check_grad": False,
            "hidden": [4],
            "activation": "tanh",
            "class_weight": None,
        },
        "optimizer": {
            "name": "gd",
            "lr": 0.5,
            "momentum": 0.0,
            "hessian_rows": "auto",
            "grad_tol": None,
            "tolerance_change": 0.0,
            "history_size": 100,
        },
        "train": {
            "iterations": 2000,
            "batch_size": None,
            "log_every": 100,
            "device": "auto",
            "dtype": "float32",
        },
    }
    for section, changes in (("data", data), ("model", model), ("optimizer", optimizer)):
        base[section].update(changes or {})
    return base


DATA_KEYS = {
    "data.name",
    "data.path",
    "data.test_path",
    "data.target",
    "data.labels",
    "data.samples",
    "data.features",
    "data.noise",
    "data.classes",
}


@pytest.mark.parametrize(
    "data, shown",
    [
        ({}, {"data.name"}),
        ({"name": "digits"}, {"data.name"}),
        ({"name": "flower"}, {"data.name"}),
        ({"name": "spirals", "classes": 3}, {"data.name", "data.classes"}),
        ({"name": "synthetic"}, {"data.name", "data.samples", "data.features", "data.noise", "data.classes"}),
        (
            {"path": "rows.csv", "target": "y", "labels": {"B": 0, "M": 1}},
            {"data.path", "data.test_path", "data.target", "data.labels"},
        ),
    ],
    ids=["breast_cancer", "digits", "flower", "spirals", "synthetic", "file"],
)
def test_the_hparams_table_shows_only_the_data_keys_that_describe_the_data(data, shown):
    hp = applicable_hparams(config(data=data))
    assert DATA_KEYS & hp.keys() == shown
    assert {"data.test_fraction", "data.standardize", "seed", "train.iterations"} <= hp.keys()


def test_hparams_values_are_what_tensorboard_takes():
    hp = applicable_hparams(
        config(data={"path": "rows.csv", "labels": {"B": 0, "M": 1}}, model={"name": "mlp"})
    )
    assert hp["data.path"] == "rows.csv" and hp["data.test_path"] == "None"
    assert hp["data.labels"] == "{'B': 0, 'M': 1}" and hp["model.hidden"] == "[4]"


@pytest.mark.parametrize(
    "optimizer, only_here",
    [
        ("gd", set()),
        ("adam", set()),
        ("sgd", {"optimizer.momentum"}),
        ("newton", {"optimizer.hessian_rows", "optimizer.grad_tol"}),
        ("lbfgs", {"optimizer.tolerance_change", "optimizer.history_size", "optimizer.grad_tol"}),
    ],
)
def test_the_hparams_table_shows_only_the_keys_the_optimizer_reads(optimizer, only_here):
    specific = {
        "optimizer.momentum",
        "optimizer.hessian_rows",
        "optimizer.grad_tol",
        "optimizer.tolerance_change",
        "optimizer.history_size",
    }
    hp = applicable_hparams(config(optimizer={"name": optimizer}))
    assert specific & hp.keys() == only_here
    assert {"optimizer.name", "optimizer.lr"} <= hp.keys()


def test_network_keys_show_for_an_mlp_only():
    assert not {"model.hidden", "model.activation"} & applicable_hparams(config()).keys()
    assert {"model.hidden", "model.activation"} <= applicable_hparams(config(model={"name": "mlp"})).keys()


def test_final_writes_a_typed_session_and_no_experiment_that_would_fix_the_columns(tmp_path):
    writer = RunWriter(tmp_path)
    writer.final(
        100,
        config(model={"check_grad": True}, optimizer={"name": "newton"}),
        {"test_accuracy": 0.9, "train_cost": 0.2},
    )
    writer.close()
    events = read_back(tmp_path)
    assert events.Tags()["scalars"] == []  # no one-dot charts above the learning curves
    content = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" not in content  # one run's experiment would hide the other runs' keys
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams.keys() == applicable_hparams(config(optimizer={"name": "newton"})).keys()
    kind = {key: value.WhichOneof("kind") for key, value in start.hparams.items()}
    assert kind["data.name"] == kind["optimizer.name"] == "string_value"
    assert kind["model.class_weight"] == "string_value"  # None, as "None"
    assert kind["model.check_grad"] == kind["data.standardize"] == "bool_value"
    assert start.hparams["model.check_grad"].bool_value is True
    assert kind["optimizer.lr"] == kind["seed"] == "number_value"
    assert start.hparams["optimizer.lr"].number_value == 0.5
    end = HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
    assert end.status == 1  # STATUS_SUCCESS


# ------------------------------------------------------------------ PR curves, text, graph


def test_two_classes_get_one_pr_curve_and_k_classes_one_per_class(tmp_path):
    torch.manual_seed(0)
    writer = RunWriter(tmp_path / "binary")
    writer.pr_curves(5, torch.tensor([0.0, 1.0, 1.0, 0.0]), torch.tensor([0.2, 0.9, 0.6, 0.4]), [0, 1])
    writer.close()
    assert read_back(tmp_path / "binary").Tags()["tensors"] == ["test/pr_curve"]

    writer = RunWriter(tmp_path / "three")
    writer.pr_curves(
        5, torch.tensor([0.0, 1.0, 2.0, 2.0]), torch.softmax(torch.randn(4, 3), 1), ["cat", "dog", "emu"]
    )
    writer.close()
    events = read_back(tmp_path / "three")
    assert sorted(events.Tags()["tensors"]) == ["test/pr_curve/cat", "test/pr_curve/dog", "test/pr_curve/emu"]
    assert events.Tensors("test/pr_curve/emu")[0].step == 5


def test_text_and_graph_are_written_and_an_untraceable_model_is_skipped(tmp_path, caplog):
    class Untraceable(torch.nn.Module):
        def forward(self, x):
            return x if x.sum().item() > 0 else -x  # data-dependent Python: tracing cannot record it

    writer = RunWriter(tmp_path)
    writer.text(0, "run/config", "**lr** 0.5")
    writer.graph(
        torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)), torch.zeros(3, 2)
    )
    with caplog.at_level(logging.DEBUG, logger="torch_logreg.training.tb_logging"):
        writer.graph(Untraceable(), {"not": "a tensor"})
    writer.close()
    events = read_back(tmp_path)
    assert "run/config/text_summary" in events.Tags()["tensors"]
    assert events.Tags()["graph"]
    assert "model graph not logged" in caplog.text


# ------------------------------------------------------------------ pictures


def read_image(run_dir, tag) -> np.ndarray:
    import io

    from PIL import Image

    encoded = read_back(run_dir).Images(tag)[-1].encoded_image_string
    return np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))


def test_confusion_matrix_counts_true_rows_against_predicted_columns(tmp_path):
    y, pred = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 2, 0])
    assert images.confusion_counts(y, pred, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    writer = RunWriter(tmp_path)
    writer.confusion_matrix(3, y, pred, ["setosa", "versicolor", "virginica"])
    writer.close()
    picture = read_image(tmp_path, "test/confusion_matrix")
    assert picture.shape[0] >= 3 * 36 and picture.shape[1] >= 3 * 36  # cells big enough to read a count


def caption_height(grid: np.ndarray, tile: int) -> int:
    """The height in pixels of the first caption's ink: from below the first tile's frame to a blank row."""
    band = grid[
        8 + tile + 1 :, : grid.shape[1] // 4
    ]  # the first column; the tile's frame ends at row 8 + tile
    inked = (band.min(axis=2) < 160).any(axis=1)
    first = int(np.argmax(inked))
    return int(np.argmin(inked[first:]))


def test_misclassified_grid_shows_up_to_16_wrong_images_with_captions_readable_at_card_width():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 17, size=(200, 8, 8))
    y = rng.integers(0, 10, 200)
    three_wrong = y.copy()
    three_wrong[[5, 50, 150]] = (y[[5, 50, 150]] + 1) % 10
    one_row = images.misclassified_image(digits, y, three_wrong, list(range(10)))
    all_wrong = images.misclassified_image(digits, y, (y + 1) % 10, list(range(10)))
    tile = 96  # 8×8 pixels enlarged 12 times
    assert tile < one_row.shape[0] < 2 * tile and one_row.shape[1] > 3 * tile
    assert 4 * tile < all_wrong.shape[0] < 4 * (tile + 50)  # 4 rows of 4: 16 of the 200
    # TensorBoard draws an image at most at its card's width (~450 px): 4 columns fit unscaled,
    # so the 24-px captions reach the screen at 24 px
    assert all_wrong.shape[1] <= 480
    assert caption_height(all_wrong, tile) >= 14  # digits about 16 px tall (10 px at the old 13-px size)
    assert (
        images.misclassified_image(digits, y, y, list(range(10))).shape[0] < tile
    )  # a line saying there are none


def test_misclassified_is_logged_under_test(tmp_path):
    writer = RunWriter(tmp_path)
    writer.misclassified(1, torch.rand(10, 8, 8), torch.zeros(10), torch.ones(10), [0, 1])
    writer.close()
    assert read_back(tmp_path).Tags()["images"] == ["test/misclassified"]


def sectors(k):
    """A model that is sure of class c in the c-th of k angular sectors around the origin."""

    def proba_fn(grid):
        sector = ((torch.atan2(grid[:, 1], grid[:, 0]) + math.pi) / (2 * math.pi) * k).long().clamp(max=k - 1)
        return torch.nn.functional.one_hot(sector, k).double()

    return proba_fn


@pytest.mark.parametrize("k", [3, 5])
def test_k_class_regions_are_drawn_in_k_colours(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(60, 2))
    picture = images.decision_regions_image(
        x, rng.integers(0, k, 60), sectors(k), list(range(k)), ["a", "b"], True
    )
    pixels = picture.reshape(-1, 3).astype(int)
    palette = images.region_colors(10).astype(int)  # the k used, then colours that must not show
    share = [(pixels == color).all(axis=1).mean() for color in palette]
    assert all(s > 0.03 for s in share[:k]) and all(s < 0.001 for s in share[k:])  # < 0.001: text edges


def test_binary_regions_shade_each_side_and_draw_the_half_probability_line():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    x[:, 0] += np.sign(x[:, 0])  # no point sits on the line to hide it
    y = (x[:, 0] > 0).astype(int)
    plot = images.decision_regions_image(
        x, y, lambda g: torch.sigmoid(5 * g[:, 0]), [0, 1], ["a", "b"], False, size=64
    )
    inside = plot[36:96, 76:136].astype(int)  # inside the plot area: top 34, left 74, 64 pixels a side
    # The black line x1 = 0 runs top to bottom between the two shades.
    rows_with_line = 0
    for row in inside:
        line = np.flatnonzero((row == 0).all(axis=1))
        if line.size:
            rows_with_line += 1
            left, right = row[: line.min() - 1].mean(axis=0), row[line.max() + 2 :].mean(axis=0)
            assert left[2] > left[0] and right[0] > right[2]  # blue for 0, red for 1
    assert rows_with_line == len(inside)


def test_decision_regions_are_logged_with_axes_around_the_plot(tmp_path):
    writer = RunWriter(tmp_path)
    x = torch.randn(30, 2, dtype=torch.float64)
    writer.decision_regions(
        9,
        x,
        (x[:, 0] > 0).double(),
        lambda g: torch.sigmoid(g[:, 0]),
        ["no", "yes"],
        ["radius", "texture"],
        standardized=True,
    )
    writer.close()
    picture = read_image(tmp_path, "test/decision_boundary")
    assert picture.shape[0] > 300 and picture.shape[1] > 300  # the 300-pixel plot and its axes


def test_no_tag_is_named_val(tmp_path):
    writer = RunWriter(tmp_path)
    writer.scalars(0, {"train/cost": 1.0, "test/cost": 1.0}, torch.nn.Linear(2, 1))
    writer.pr_curves(1, torch.tensor([0.0, 1.0]), torch.tensor([0.3, 0.6]), [0, 1])
    writer.confusion_matrix(1, torch.tensor([0, 1]), torch.tensor([0, 0]), [0, 1])
    writer.close()
    tags = read_back(tmp_path).Tags()
    every = [tag for kind in ("scalars", "histograms", "images", "tensors") for tag in tags[kind]]
    assert every and not [tag for tag in every if tag.startswith("val/")]


def test_a_network_run_prints_no_deprecation_warning_and_opens_on_the_learning_curves(tmp_path):
    import subprocess
    import sys

    from reliability_helpers import ROOT

    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "default",
            "train.py",
            "model.name=mlp",
            "model.hidden=[4]",
            "train.iterations=3",
            "train.print_cost=false",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "FutureWarning" not in done.stderr
        and "DeprecationWarning" not in done.stderr
        and "jit" not in done.stderr
    )
    from tensorboard_order import first_page

    groups = [group for group, _ in first_page(tmp_path / "run")]
    assert groups == ["1_cost", "2_accuracy", "test", "train", "weights", "weights_grad"]


# ------------------------------------------------------------------ what TensorBoard's first page shows


def test_tensorboards_tag_order_as_ported_compares_numbers_as_numbers_and_puts_breaks_first():
    from functools import cmp_to_key

    from tensorboard_order import compare_tag_names

    tags = [
        "weights_grad/norm",
        "weights/b",
        "train/cost",
        "test/cost",
        "accuracy/test",
        "2_accuracy/test",
        "1_cost/train",
        "layer10.norm",
        "layer2.norm",
        "a+/a",
        "a/a",
    ]
    assert sorted(tags, key=cmp_to_key(compare_tag_names)) == [
        "1_cost/train",
        "2_accuracy/test",
        "a/a",
        "a+/a",
        "accuracy/test",
        "layer2.norm",
        "layer10.norm",
        "test/cost",
        "train/cost",
        "weights/b",
        "weights_grad/norm",
    ]


@pytest.mark.filterwarnings("ignore::torch_logreg.errors.DesignWarning")  # the digits' blank border pixels
def test_tensorboard_opens_on_the_learning_curve_then_the_accuracy(tmp_path):
    """A real run, read back in the order TensorBoard's Time Series lays out its cards: the cost
    (test and train on one row), then the accuracy, then the other metrics, and the weights last."""
    from tensorboard_order import first_page

    from torch_logreg import load_config, train

    train(
        load_config(
            None, ["data.name=digits", "train.iterations=20", "train.log_every=10", "train.print_cost=false"]
        ),
        tmp_path / "run",
    )
    page = first_page(tmp_path / "run")
    assert page[0] == ("1_cost", ["1_cost/test", "1_cost/train"])
    assert page[1] == ("2_accuracy", ["2_accuracy/test", "2_accuracy/train"])
    assert [group for group, _ in page[2:]] == ["test", "train", "weights"]  # a network adds weights_grad
    assert "test/misclassified" in page[2][1] and not any(
        "cost" in tag or "accuracy" in tag for _, cards in page[2:] for tag in cards
    )


def tensorboards_hparams_table(logdir):
    """The HParams table's columns as TensorBoard's own backend builds them for every run under ``logdir``."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment

    runs = plugin_event_multiplexer.EventMultiplexer()
    runs.AddRunsFromDirectory(str(logdir))
    runs.Reload()
    tb = base_plugin.TBContext(
        logdir=str(logdir),
        multiplexer=runs,
        data_provider=data_provider.MultiplexerDataProvider(runs, str(logdir)),
    )
    return get_experiment.Handler(
        context.RequestContext(), backend_context.Context(tb), "", api_pb2.GetExperimentRequest()
    ).run()


def test_the_hparams_table_puts_the_keys_that_differ_first_typed_and_the_cost_and_accuracy_metrics(tmp_path):
    from tensorboard.plugins.hparams import api_pb2

    for name, optimizer in (("gd", {"name": "gd", "lr": 0.5}), ("adam", {"name": "adam", "lr": 0.1})):
        writer = RunWriter(tmp_path / name)
        writer.scalars(
            10,
            {
                "train/cost": 0.3,
                "test/cost": 0.4,
                "train/accuracy": 0.9,
                "test/accuracy": 0.8,
                "test/auc": 0.9,
                "train/learning_rate": 0.5,
            },
            torch.nn.Linear(2, 1),
        )
        writer.final(10, config(optimizer=optimizer))
        writer.close()
    table = tensorboards_hparams_table(tmp_path)
    columns = {info.name: info for info in table.hparam_infos}
    # TensorBoard ticks the first five keys and the first five metrics
    assert [info.name for info in table.hparam_infos[:2]] == ["optimizer.lr", "optimizer.name"]
    assert all(info.differs for info in table.hparam_infos[:2]) and not table.hparam_infos[2].differs
    assert columns["optimizer.name"].type == api_pb2.DATA_TYPE_STRING
    assert sorted(columns["optimizer.name"].domain_discrete) == ["adam", "gd"]  # a choice
    assert columns["data.standardize"].type == api_pb2.DATA_TYPE_BOOL  # a boolean, not 1.0000
    assert list(columns["data.standardize"].domain_discrete) == [True]
    assert columns["optimizer.lr"].type == api_pb2.DATA_TYPE_FLOAT64
    interval = columns["optimizer.lr"].domain_interval
    assert (interval.min_value, interval.max_value) == (0.1, 0.5)
    assert [metric.name.tag for metric in table.metric_infos][:5] == [
        "1_cost/test",
        "1_cost/train",
        "2_accuracy/test",
        "2_accuracy/train",
        "test/auc",
    ]
