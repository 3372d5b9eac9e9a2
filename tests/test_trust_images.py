"""A hostile user's images: folders of classes, 16-bit files, predictions written where the images are."""

import warnings

import numpy as np
import pytest
from PIL import Image
from reliability_helpers import QUIET, assert_one_error_line, run_main
from test_image_folder import photo_folder

from torch_logreg.art.images import open_picture, to_tensor
from torch_logreg.data.image_folder import decode_image, read_image
from torch_logreg.errors import DataError
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

TINY_CNN = [
    *QUIET,
    "data.image_size=[6, 6]",
    "model.name=cnn",
    "model.channels=[2]",
    "model.hidden=[4]",
    "optimizer.name=adam",
    "train.iterations=2",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder, the folder of photos it was trained on)."""
    root = tmp_path_factory.mktemp("trained")
    folder = photo_folder(root / "photos", per_class=3)
    with warnings.catch_warnings():  # two steps on six photos: separable, and it says so
        warnings.simplefilter("ignore")
        train(load_config(None, [*TINY_CNN, f"data.path={folder}"]), root / "run")
    return root / "run", folder


def test_predict_never_writes_into_the_folder_of_images_it_reads_even_with_overwrite(trained, capsys):
    run, folder = trained
    image = folder / "left" / "1.png"
    before = image.read_bytes()
    for out, flags in ((image, ["--overwrite"]), (folder / "left" / "predictions.csv", [])):
        outcome = run_main(capsys, "predict", "--checkpoint", run, "--data", folder, "--out", out, *flags)
        assert outcome.status == 2
        assert_one_error_line(outcome.err, str(out), "inside the input folder")
    assert image.read_bytes() == before  # the photo is still the user's photo
    assert not (folder / "left" / "predictions.csv").exists()  # so the folder still reads as images


def test_an_empty_class_folder_is_refused_naming_it_not_dropped(tmp_path, capsys):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    (folder / "zebra").mkdir()
    outcome = run_main(capsys, *TINY_CNN, f"data.path={folder}", "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(folder / "zebra"), "no images")
    assert not (tmp_path / "run").exists()


def sixteen_bit_png(path, value):
    Image.fromarray(np.full((4, 6), value, dtype=np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    return path


@pytest.mark.parametrize("value", [1000, 32768, 65535])
def test_a_sixteen_bit_png_is_read_at_its_own_scale_in_folders_and_in_art(tmp_path, value):
    # Before: folders scaled each image by its own largest value (every flat image read as white) and
    # art clipped at 255 (anything above 255 of 65535 read as white).
    png = sixteen_bit_png(tmp_path / "deep.png", value)
    expected = round(255 * value / 65535) / 255
    assert np.allclose(read_image(png, (1, 2, 3)), expected)
    assert np.allclose(read_image(png, (3, 2, 3)), expected)
    assert np.allclose(to_tensor(open_picture(str(png))).numpy(), expected)


def test_float_pixels_without_a_scale_are_refused_naming_the_file(tmp_path):
    inside, outside = tmp_path / "inside.tif", tmp_path / "outside.tif"
    Image.fromarray(np.full((3, 3), 0.25, dtype=np.float32)).save(inside)
    Image.fromarray(np.full((3, 3), 7.0, dtype=np.float32)).save(outside)
    assert np.asarray(decode_image(inside)).max() == round(0.25 * 255)
    with pytest.raises(DataError, match="outside.tif: float pixels outside"):
        decode_image(outside)


def test_evaluate_on_rows_of_one_class_says_the_auc_is_undefined_instead_of_printing_nan(
    trained, tmp_path, capsys
):
    run, folder = trained
    (tmp_path / "only" / "left").mkdir(parents=True)
    for file in (folder / "left").iterdir():
        (tmp_path / "only" / "left" / file.name).write_bytes(file.read_bytes())
    outcome = run_main(capsys, "evaluate", "--checkpoint", run, "--data", tmp_path / "only")
    assert outcome.status == 0, outcome.err
    assert "auc: undefined: the rows hold only one class" in outcome.out.splitlines()
    assert "nan" not in outcome.out


@pytest.mark.parametrize(
    "source, shape, named",
    [
        # Was exit 0: a CNN trained on the 8×8 digits read as 4×16 images.
        ("digits", "[1, 4, 16]", "not the shape of the built-in digits images ([8, 8])"),
        ("folder", "[1, 4, 4]", "does not apply to the folder of images"),
    ],
)
def test_an_image_shape_that_is_not_the_datas_own_is_refused_naming_both(
    tmp_path, capsys, source, shape, named
):
    data = "data.name=digits" if source == "digits" else f"data.path={photo_folder(tmp_path / 'photos')}"
    outcome = run_main(capsys, *TINY_CNN, data, f"data.image_shape={shape}", "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, named, f"data.image_shape {shape}")
    assert not (tmp_path / "run").exists()


def test_the_datas_own_image_shape_may_be_said_again(tmp_path):
    config = load_config(None, [*TINY_CNN, "data.name=digits", "data.image_shape=[1, 8, 8]"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert train(config, save=False).model.sample_shape == (1, 8, 8)


def test_a_broken_link_among_the_images_is_refused_naming_it_not_skipped(tmp_path, capsys):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    (folder / "left" / "gone.png").symlink_to(tmp_path / "deleted.png")
    outcome = run_main(capsys, *TINY_CNN, f"data.path={folder}", "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(folder / "left" / "gone.png"), "broken link")


def test_files_under_a_dot_folder_are_left_out_as_dot_files_are(tmp_path):
    from torch_logreg.data.image_folder import image_files

    folder = photo_folder(tmp_path / "photos", per_class=3)
    (folder / "left" / ".ipynb_checkpoints").mkdir()
    (folder / "left" / ".ipynb_checkpoints" / "0-checkpoint.png").write_bytes(b"not the class's image")
    assert len(image_files(folder)) == 6


def test_an_image_beside_the_class_folders_is_refused_naming_it_not_left_out(tmp_path, capsys):
    folder = photo_folder(tmp_path / "photos", per_class=3)
    (folder / "0.png").write_bytes((folder / "left" / "1.png").read_bytes())
    (folder / "README.md").write_text("my photos\n")  # a note beside them is fine
    outcome = run_main(capsys, *TINY_CNN, f"data.path={folder}", "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(folder / "0.png"), "outside the class sub-folders")
    (folder / "0.png").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_main(capsys, *TINY_CNN, f"data.path={folder}", "--run-dir", tmp_path / "run").status == 0


def test_a_photo_taken_turned_is_read_upright_as_a_viewer_shows_it(tmp_path):
    """EXIF orientation 6 (stored on its side, shown turned 90° clockwise): the stored top row is shown as
    the right-hand column, for the classifier's images and art's alike."""
    stored = np.zeros((4, 6, 3), np.uint8)
    stored[0] = 255  # the stored top row is white
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 6
    picture.save(tmp_path / "turned.png", exif=exif)
    upright = np.asarray(decode_image(tmp_path / "turned.png"))
    assert upright.shape == (6, 4, 3)
    assert (upright[:, -1] == 255).all() and (upright[:, :-1] == 0).all()
    pixels = read_image(tmp_path / "turned.png", (1, 6, 4)).reshape(6, 4)
    assert np.allclose(pixels[:, -1], 1.0) and np.allclose(pixels[:, :-1], 0.0)
    assert to_tensor(open_picture(str(tmp_path / "turned.png"))).shape == (1, 3, 6, 4)


def test_an_exif_block_that_cannot_be_parsed_leaves_the_photo_as_stored(tmp_path, monkeypatch):
    """Pillow's EXIF reader raises on some malformed blocks: the pixels are sound, so they are read as
    stored (as a viewer shows them), not refused and not a traceback."""
    from PIL import ImageOps

    stored = np.zeros((4, 6), np.uint8)
    stored[0] = 255
    Image.fromarray(stored).save(tmp_path / "photo.png")

    def unreadable(image):
        raise SyntaxError("not a TIFF file (header b'\\xff\\xff' not valid)")

    monkeypatch.setattr(ImageOps, "exif_transpose", unreadable)
    assert np.array_equal(np.asarray(decode_image(tmp_path / "photo.png")), stored)
