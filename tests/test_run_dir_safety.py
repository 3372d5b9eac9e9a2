"""A run folder that holds a run is never overwritten by accident: without --resume or --overwrite
it is refused and left byte for byte as it was, and --overwrite empties only a run."""

from __future__ import annotations

import json

import pytest
from reliability_helpers import QUIET, assert_one_error_line, run_main, snapshot

from torch_logreg.checkpoint import load_checkpoint, temp_name
from torch_logreg.training.run_dir import RunDirError, prepare_run_dir


@pytest.fixture
def finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    done = run_main(capsys, "train.iterations=4", "train.log_every=2", *QUIET, "--run-dir", run)
    assert done.status == 0, done.err
    return run


def test_an_existing_run_is_refused_and_left_unchanged(finished_run, capsys):
    before = snapshot(finished_run)
    done = run_main(capsys, "train.iterations=6", *QUIET, "--run-dir", finished_run)

    assert done.status == 2
    assert_one_error_line(done.err, str(finished_run), "already holds a run", "--resume", "--overwrite")
    assert snapshot(finished_run) == before


def test_resume_continues_the_run_in_place(finished_run, capsys):
    done = run_main(capsys, "--resume", finished_run, "train.iterations=6")
    assert done.status == 0, done.err
    assert load_checkpoint(finished_run)["iteration"] == 6
    assert json.loads((finished_run / "metrics.json").read_text())["iterations"] == 6


def test_overwrite_replaces_the_run(finished_run, capsys):
    old_events = set(finished_run.glob("events.out.tfevents.*"))
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", finished_run, "--overwrite")
    assert done.status == 0, done.err
    assert load_checkpoint(finished_run)["iteration"] == 2
    assert not old_events & set(finished_run.glob("events.out.tfevents.*"))


@pytest.mark.parametrize("flags", [[], ["--overwrite"]], ids=["plain", "--overwrite"])
@pytest.mark.parametrize("layout", ["user files", "a subfolder"])
def test_a_folder_that_is_not_just_a_run_is_never_emptied(tmp_path, capsys, layout, flags):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes\n")
    if layout == "a subfolder":
        (folder / "config.yaml").write_text("train: {}\n")  # looks like a run, but holds more
        (folder / "src").mkdir()
        (folder / "src" / "main.py").write_text("print('hi')\n")
    before = snapshot(folder)

    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", folder, *flags)
    assert done.status == 2
    assert_one_error_line(done.err, str(folder), "torch_logreg did not write")
    assert snapshot(folder) == before


def test_a_bad_override_on_resume_leaves_the_run_unchanged(finished_run, capsys):
    before = snapshot(finished_run)
    for bad in (["data.path=/no/such.csv"], ["optimizer.lr=-1"], ["train.device=tpu"]):
        done = run_main(capsys, "--resume", finished_run, *bad)
        assert done.status == 2, bad
        assert_one_error_line(done.err)
    assert snapshot(finished_run) == before


def test_bad_data_with_overwrite_leaves_the_old_run_unchanged(finished_run, capsys):
    before = snapshot(finished_run)
    done = run_main(capsys, "data.path=/no/such.csv", *QUIET, "--run-dir", finished_run, "--overwrite")
    assert done.status == 2
    assert snapshot(finished_run) == before


def test_resume_needs_a_checkpoint_and_the_same_folder(tmp_path, finished_run, capsys):
    done = run_main(capsys, "--resume", tmp_path / "empty")
    assert done.status == 2
    assert_one_error_line(done.err, "empty", "no such checkpoint")
    done = run_main(capsys, "--resume", finished_run, "--run-dir", tmp_path / "other")
    assert done.status == 2
    assert_one_error_line(done.err, "--resume DIR continues the run in DIR")


def test_a_run_dir_that_is_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "taken"
    path.write_text("keep me\n")
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", path)
    assert done.status == 2
    assert_one_error_line(done.err, "taken", "not a folder")
    assert path.read_text() == "keep me\n"


def test_resume_clears_what_a_killed_write_left_behind(finished_run):
    leftover = temp_name(finished_run / "checkpoint.pt")
    leftover.write_bytes(b"half a checkpoint")
    prepare_run_dir(finished_run, "default", resume=True)
    assert not leftover.exists() and (finished_run / "checkpoint.pt").is_file()


# ---------------------------------------------------------------- the Python API's words


def test_the_python_api_names_its_arguments_not_the_flags(finished_run):
    from torch_logreg.training.config import load_config
    from torch_logreg.training.trainer import train

    before = snapshot(finished_run)
    with pytest.raises(RunDirError) as raised:
        train(load_config(None, [*QUIET, "train.iterations=2"]), finished_run)
    assert str(raised.value) == (
        f"{finished_run}: already holds a run; pass resume=True to continue it or "
        f"overwrite=True to replace it"
    )
    assert raised.value.command_line == (
        f"{finished_run}: already holds a run; pass --resume to continue it or --overwrite to replace it"
    )
    assert snapshot(finished_run) == before


def test_a_folder_that_is_not_a_run_is_refused_in_each_callers_words(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(RunDirError) as raised:
        prepare_run_dir(tmp_path, "default", overwrite=True)
    assert str(raised.value).endswith("choose a new or empty run_dir (overwrite=True deletes only runs)")
    assert raised.value.command_line.endswith(
        "choose a new or empty --run-dir (--overwrite deletes only runs)"
    )
    assert "--" not in str(raised.value).replace(str(tmp_path), "")


def test_resume_without_a_folder_names_the_arguments():
    with pytest.raises(RunDirError, match=r"^resume=True needs run_dir, the run folder to continue$"):
        prepare_run_dir(None, "default", resume=True)
