"""Images as data: a folder of class sub-folders, per-channel standardization, shifted copies, predict."""

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_helpers import QUIET, assert_one_error_line, run_main

from torch_logreg.data import load_split
from torch_logreg.data.augment import shifted_copies
from torch_logreg.data.split import Standardizer
from torch_logreg.errors import DataError
from torch_logreg.inference import evaluate_file, predict_file
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train


def photo_folder(root, colour=True, per_class=10):
    """Two classes a CNN tells apart at once: a bright square top-left (``left``) or bottom-right
    (``right``)."""
    rng = np.random.default_rng(0)
    for name, corner in (("left", (slice(0, 6), slice(0, 6))), ("right", (slice(6, 12), slice(6, 12)))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (12, 12, 3), dtype=np.uint8)
            pixels[corner] = 230
            image = Image.fromarray(pixels if colour else pixels[..., 0])
            image.save(root / name / f"{i}.png" if i % 2 else root / name / f"{i}.jpg", quality=95)
    return root


def test_a_folder_reads_as_rows_of_channels_resized_with_its_classes(tmp_path):
    folder = photo_folder(tmp_path / "photos")
    split = load_split(load_config(None, [f"data.path={folder}", "data.image_size=[6, 4]"]).data, 0)
    assert split.sample_shape == (3, 6, 4) and split.classes == ["left", "right"]
    assert split.x_train.shape[1] == 3 * 6 * 4 and split.x_train.shape[0] + split.x_test.shape[0] == 20
    assert 0 <= split.x_test_raw.min() and split.x_test_raw.max() <= 1
    grey = photo_folder(tmp_path / "grey", colour=False)
    grey_config = load_config(None, [f"data.path={grey}", "data.image_size=[6, 6]"])
    assert load_split(grey_config.data, 0).sample_shape == (1, 6, 6)


def test_standardization_of_images_is_per_channel():
    x = torch.cat([torch.full((4, 4), 1.0), torch.full((4, 4), 10.0)], 1) + torch.arange(4.0)[:, None]
    fitted = Standardizer.fit(x, (2, 2, 2))
    assert torch.equal(fitted.mean, torch.tensor([2.5] * 4 + [11.5] * 4))
    assert torch.allclose(fitted.std, torch.full((8,), 1.25**0.5))
    rows = Standardizer.fit(x)  # a table: per column
    assert torch.equal(rows.mean, x.mean(0))


def test_shifted_copies_move_each_image_one_pixel_each_way_with_the_edge_repeated():
    image = torch.arange(9.0).reshape(1, 9)  # [[0 1 2] [3 4 5] [6 7 8]]
    x, y = shifted_copies(image, torch.tensor([1.0]), (3, 3), 1)
    assert x.shape == (5, 9) and y.tolist() == [1.0] * 5
    down, up, right, left = (copy.reshape(3, 3).tolist() for copy in x[1:])
    assert down == [[0, 1, 2], [0, 1, 2], [3, 4, 5]] and up == [[3, 4, 5], [6, 7, 8], [6, 7, 8]]
    assert right == [[0, 0, 1], [3, 3, 4], [6, 6, 7]] and left == [[1, 2, 2], [4, 5, 5], [7, 8, 8]]
    with pytest.raises(DataError, match="data.shift needs images"):
        shifted_copies(image, torch.tensor([1.0]), None, 1)


def test_a_folder_trains_a_cnn_and_predict_writes_one_row_per_image_with_its_path(tmp_path):
    folder = photo_folder(tmp_path / "photos")
    config = load_config(
        None,
        [
            *QUIET,
            f"data.path={folder}",
            "data.image_size=[12, 12]",
            "model.name=cnn",
            "model.channels=[4]",
            "model.hidden=[8]",
            "model.activation=relu",
            "optimizer.name=adam",
            "optimizer.lr=0.01",
            "train.iterations=60",
        ],
    )
    result = train(config, tmp_path / "run")
    assert result.metrics["train_accuracy"] == 1.0
    lines = predict_file(tmp_path / "run", folder).splitlines()
    assert lines[0] == "path,prediction,p_right" and len(lines) == 21
    rows = [line.split(",") for line in lines[1:]]
    assert all(row[1] == ("left" if "/left/" in row[0] else "right") for row in rows)
    one = predict_file(tmp_path / "run", folder / "right" / "1.png").splitlines()
    assert one[1].startswith(f"{folder / 'right' / '1.png'},right,")
    scores = evaluate_file(tmp_path / "run", folder)
    assert scores | {"log_loss": 0} == {
        "rows": 20,
        "accuracy": 1.0,
        "auc": 1.0,
        "f1": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "log_loss": 0,
    }


@pytest.mark.parametrize(
    "bad, named", [(b"not a picture", "1.png"), (None, "notes.txt")], ids=["undecodable", "not-an-image"]
)
def test_a_file_that_is_not_an_image_is_refused_naming_it(tmp_path, capsys, bad, named):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    if bad is None:
        (folder / "left" / "notes.txt").write_text("hello")
    else:
        (folder / "left" / "1.png").write_bytes(bad)
    outcome = run_main(capsys, *QUIET, f"data.path={folder}", "model.name=cnn", "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, named)
    assert not (tmp_path / "run").exists()


def test_shifted_copies_of_rows_of_pixels_need_them_in_memory(tmp_path):
    from torch_logreg.data.shards import load_for_training
    from torch_logreg.training import distributed

    np.save(
        tmp_path / "pixels.npy",
        np.hstack([np.random.default_rng(0).random((40, 16)), (np.arange(40) % 2)[:, None]]),
    )
    common = [f"data.path={tmp_path / 'pixels.npy'}", "data.image_shape=[4, 4]", "data.shift=1"]
    split = load_for_training(load_config(None, common).data, 0, distributed.Solo(), None)
    assert split.x_train.shape == (5 * 30, 16) and split.x_test.shape == (10, 16)
    with pytest.raises(DataError, match="data.shift=1 needs every training row in memory"):
        load_for_training(load_config(None, [*common, "data.stream=true"]).data, 0, distributed.Solo(), None)


def test_a_model_trained_on_rows_of_pixels_refuses_image_files_instead_of_misreading_them(tmp_path, capsys):
    """The digits are rows of 0-16; an image file is read as [0, 1]: predict and evaluate refuse it in one
    line (exit 2), writing nothing, where they would otherwise print confident wrong classes."""
    config = load_config(
        None,
        [
            "data.name=digits",
            "model.name=cnn",
            "model.channels=[2]",
            "model.hidden=[4]",
            "train.iterations=2",
            "train.print_cost=false",
        ],
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(config, tmp_path / "run")
    picture = tmp_path / "seven.png"
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(picture)
    for command in (
        ["predict", "--checkpoint", str(tmp_path / "run"), "--data", str(picture)],
        ["evaluate", "--checkpoint", str(tmp_path / "run"), "--data", str(tmp_path)],
    ):
        done = run_main(capsys, *command)
        assert done.status == 2 and done.out == ""
        assert_one_error_line(done.err, "image files are read as pixels in [0, 1]", "data.name=digits")
