"""A hostile user's art runs: a resume that changes what the run optimizes, weights that are not used."""

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_helpers import assert_one_error_line, run_main

from torch_logreg.checkpoint import load_checkpoint

pytest.importorskip("sklearn")  # the built-in photographs

SMALL = ["art.size=16", "art.width=2", "art.optimizer=adam", "art.save_every=0"]


@pytest.fixture
def three_steps(tmp_path, capsys):
    """A style-transfer run of 3 Adam steps on two small pictures of the user's:
    (run folder, style, content)."""
    rng = np.random.default_rng(0)
    style, content = tmp_path / "style.png", tmp_path / "content.png"
    for file in (style, content):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(file)
    folder = tmp_path / "run"
    outcome = run_main(
        capsys, "art", *SMALL, "art.iterations=3", "--style", style, "--content", content, "--run-dir", folder
    )
    assert outcome.status == 0, outcome.err
    return folder, style, content


@pytest.mark.parametrize(
    "change, named",
    [
        (["art.size=32"], "art.size is 32"),  # was a traceback: Adam's moments of the old shape
        (["art.lr=5"], "art.lr is 5"),  # was silently replaced by the saved lr when Adam's state loaded
        (["art.style_weight=1"], "art.style_weight"),  # metrics.json's style_loss_fell: two objectives
        (["art.seed=7"], "art.seed"),  # another random network under the same image
        (["art.iterations=2"], "below the 3 evaluations"),  # fewer than done: nothing run, exit 0
        (["--style", "flower.jpg"], "--style flower.jpg is not the image"),
        (["--content", "china.jpg"], "--content china.jpg is not the image"),
    ],
)
def test_a_resume_that_changes_the_objective_is_refused_naming_what_changed(
    three_steps, capsys, change, named
):
    folder, _, _ = three_steps
    before = {file.name: file.read_bytes() for file in folder.iterdir() if file.is_file()}
    outcome = run_main(capsys, "art", "--run-dir", folder, "--resume", "art.iterations=5", *change)
    assert outcome.status == 2
    assert_one_error_line(outcome.err, named, str(folder))
    after = {file.name: file.read_bytes() for file in folder.iterdir() if file.is_file()}
    assert after == before  # nothing rewritten: not the config, not the checkpoint


def test_a_resume_may_go_on_longer_with_the_same_images_given_again(three_steps, capsys, monkeypatch):
    folder, style, content = three_steps
    monkeypatch.chdir(style.parent)  # the same files, spelled another way
    outcome = run_main(
        capsys,
        "art",
        "--run-dir",
        folder,
        "--resume",
        "--style",
        f"./{style.name}",
        "--content",
        content.name,
        "art.iterations=5",
        "art.print_every=2",
        "art.size=16",  # set again to the value it had: not a change
    )
    assert outcome.status == 0, outcome.err
    assert load_checkpoint(folder)["art"]["step"] == 5


def test_a_key_this_run_does_not_use_is_said_once_each_not_silently_dropped(tmp_path, capsys):
    # Before: exit 0 and not a word, so the user believed the weights (or the lr, or the init) were used.
    outcome = run_main(
        capsys,
        "art",
        *SMALL,
        "art.iterations=1",
        "art.weights=vgg19.pth",
        "art.init=content",
        "art.optimizer=lbfgs",
        "art.lr=0.5",
        "--run-dir",
        tmp_path / "run",
    )
    assert outcome.status == 0, outcome.err
    warned = [line for line in outcome.err.splitlines() if line.startswith("warning: ")]
    assert warned == [
        "warning: art.weights=vgg19.pth is ignored: art.network=random does not use it (used by vgg19, cnn)",
        "warning: art.lr=0.5 is ignored: art.optimizer=lbfgs does not use it (used by adam)",
        "warning: art.init=content is ignored: a texture (no --content) does not use it (used by style "
        "transfer)",
    ]


def test_vgg19_weights_that_name_a_folder_say_so(tmp_path, capsys):
    outcome = run_main(capsys, "art", "art.size=16", "art.network=vgg19", f"art.weights={tmp_path}")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, f"art.weights={tmp_path}: is a folder")


@pytest.mark.parametrize("damage", ["repaint", "remove"])
def test_a_resume_refuses_a_style_or_content_file_that_changed_since_the_run_read_it(
    three_steps, capsys, damage
):
    # Before: the resumed run went on against the new picture and compared its losses with the old one's.
    folder, style, content = three_steps
    if damage == "repaint":
        Image.fromarray(np.zeros((20, 24, 3), dtype=np.uint8)).save(style)
        named = f"{style} changed since the run read it"
    else:
        content.unlink()
        named = f"{content} no longer exists"
    outcome = run_main(capsys, "art", "--run-dir", folder, "--resume", "art.iterations=5")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, named)
    assert load_checkpoint(folder)["art"]["step"] == 3


def _without_config(state):
    del state["art"]["config"]


def _iteration_abc(state):
    state["art"]["iteration"] = "abc"


def _style_a_number(state):
    state["art"]["style"] = 5


def _image_flat(state):
    state["model"]["image"] = torch.zeros(3)


def _adam_moments_of_another_size(state):
    for moments in state["art"]["adam"]["state"].values():
        moments["exp_avg"] = torch.zeros(1, 3, 8, 8)


@pytest.mark.parametrize(
    "damage, field",
    [
        (_without_config, "art.config"),  # was a KeyError traceback
        (_iteration_abc, "art.iteration"),  # was int('abc')
        (_style_a_number, "art.style"),  # was 'int' object is not iterable
        (_image_flat, "model.image"),  # was an interpolation error deep in the run
        (_adam_moments_of_another_size, "art.adam.exp_avg"),  # was a size mismatch inside Adam's step
    ],
)
def test_an_art_checkpoint_with_a_wrong_field_is_one_line_naming_it(three_steps, capsys, damage, field):
    folder, _, _ = three_steps
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    damage(state)
    torch.save(state, folder / "checkpoint.pt")
    outcome = run_main(capsys, "art", "--run-dir", folder, "--resume", "art.iterations=5")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(folder / "checkpoint.pt"), f"field '{field}'")


@pytest.mark.parametrize("flags", [["--style", ""], ["--style", "flower.jpg,"], ["--content", ""]])
def test_an_empty_image_name_is_refused_as_such(tmp_path, capsys, flags):
    # Before: --style "" silently used flower.jpg; "a.jpg," and --content "" said
    # ": no such image file (a folder)".
    outcome = run_main(capsys, "art", *SMALL, *flags, "--run-dir", tmp_path / "run")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, "an empty image name in --style or --content")
    assert not (tmp_path / "run").exists()
