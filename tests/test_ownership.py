"""torch_logreg deletes or overwrites only what it made, and one process writes a run folder at a time.

Each test states one guarantee of the README's "What torch_logreg never does"."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import QUIET, ROOT, assert_one_error_line, run_main, snapshot

from torch_logreg import checkpoint as checkpoint_module
from torch_logreg.training.run_dir import (
    LOCK_NAME,
    MARKER_NAME,
    RUN_FILES,
    RunDirError,
    RunLock,
    open_run_dir,
    prepare_run_dir,
)


@pytest.fixture
def finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", run)
    assert done.status == 0, done.err
    return run


def test_a_new_run_folder_carries_the_projects_marker(finished_run):
    marker = json.loads((finished_run / MARKER_NAME).read_text())
    assert marker["project"] == "torch_logreg"


@pytest.mark.parametrize("where", ["the current folder", "a parent of it"])
def test_overwrite_never_empties_the_current_folder_or_a_parent(finished_run, capsys, monkeypatch, where):
    """Even a folder that holds only a run is not emptied while the user stands in it (or below it)."""
    inside = finished_run / "sub" if where == "a parent of it" else finished_run
    before = snapshot(finished_run)
    if (
        where == "a parent of it"
    ):  # a subfolder would make the run folder not-a-run; stand in a sibling's child
        inside = finished_run.parent / "elsewhere"
        inside.mkdir()
        monkeypatch.chdir(inside)
        target = Path("..")
    else:
        monkeypatch.chdir(finished_run)
        target = Path(".")
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", target, "--overwrite")
    assert done.status == 2
    if where == "a parent of it":  # the parent holds the run folder and 'elsewhere': not a run at all
        assert_one_error_line(done.err, "torch_logreg did not write")
    else:
        assert_one_error_line(done.err, "is the current folder")
    assert snapshot(finished_run) == before


def test_overwrite_of_a_project_folder_with_a_config_yaml_deletes_nothing(tmp_path, capsys, monkeypatch):
    (tmp_path / "config.yaml").write_text("train: {iterations: 3}\n")
    (tmp_path / "data.csv").write_text("a,y\n1,0\n")
    (tmp_path / "notes.md").write_text("my notes\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", ".", "--overwrite")
    assert done.status == 2
    assert_one_error_line(done.err, "'data.csv'", "torch_logreg did not write")
    assert snapshot(tmp_path) == before


def test_a_run_folder_from_before_the_marker_is_adopted_when_it_holds_only_run_files(finished_run, capsys):
    """Older releases wrote no marker: a folder of nothing but a run's files is still a run."""
    (finished_run / MARKER_NAME).unlink()
    (finished_run / LOCK_NAME).unlink()
    done = run_main(capsys, "--resume", finished_run, "train.iterations=3")
    assert done.status == 0, done.err
    assert (finished_run / MARKER_NAME).is_file()


def test_a_markerless_folder_with_anything_else_in_it_is_not_a_run(finished_run, capsys):
    (finished_run / MARKER_NAME).unlink()
    (finished_run / "my_analysis.ipynb").write_text("{}")
    before = snapshot(finished_run)
    done = run_main(capsys, "train.iterations=3", *QUIET, "--run-dir", finished_run, "--overwrite")
    assert done.status == 2
    assert_one_error_line(done.err, "'my_analysis.ipynb'", "torch_logreg did not write")
    assert snapshot(finished_run) == before
    # resuming deletes nothing: the user's file beside the run stays, untouched
    done = run_main(capsys, "--resume", finished_run, "train.iterations=3")
    assert done.status == 0, done.err
    assert (finished_run / "my_analysis.ipynb").read_text() == "{}"


run_file_names = st.sampled_from(sorted(RUN_FILES - {LOCK_NAME}) + ["events.out.tfevents.1.host.1.0"])
user_file_names = st.text(alphabet="abcdefghij_.", min_size=1, max_size=12).filter(
    lambda name: (
        name not in RUN_FILES
        and name not in (".", "..")
        and not name.startswith("events.out.tfevents")
        and not name.startswith(".")
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ours=st.lists(run_file_names, max_size=4),
    theirs=st.lists(user_file_names, min_size=1, max_size=3),
    subfolder=st.booleans(),
)
def test_overwrite_never_deletes_a_folder_holding_anything_it_did_not_write(
    tmp_path_factory, ours, theirs, subfolder
):
    folder = tmp_path_factory.mktemp("mixed")
    for name in {*ours, *theirs}:
        (folder / name).write_text(name)
    if subfolder:
        (folder / "sub").mkdir()
        (folder / "sub" / "keep.txt").write_text("keep")
    before = snapshot(folder)
    with pytest.raises(RunDirError, match="did not write"):
        prepare_run_dir(folder, "default", overwrite=True)
    assert snapshot(folder) == before


def test_predict_never_replaces_an_existing_file_unless_asked(finished_run, tmp_path, capsys):
    data = tmp_path / "rows.csv"
    done = run_main(
        capsys,
        "predict",
        "--checkpoint",
        finished_run,
        "--data",
        ROOT / "torch_logreg" / "data" / "datasets" / "breast_cancer.csv",
    )
    assert done.status == 0, done.err
    existing = tmp_path / "predictions.csv"
    existing.write_text("precious\n")
    source = ROOT / "torch_logreg" / "data" / "datasets" / "breast_cancer.csv"
    done = run_main(capsys, "predict", "--checkpoint", finished_run, "--data", source, "--out", existing)
    assert done.status == 2
    assert_one_error_line(done.err, str(existing), "already exists", "--overwrite")
    assert existing.read_text() == "precious\n"
    done = run_main(
        capsys, "predict", "--checkpoint", finished_run, "--data", source, "--out", existing, "--overwrite"
    )
    assert done.status == 0, done.err
    assert existing.read_text().startswith("prediction")
    assert not data.exists()


@pytest.mark.parametrize("name", ["config.yaml", "metrics.json", MARKER_NAME, "command.txt"])
def test_predict_never_writes_a_run_folders_own_files_even_when_asked(finished_run, capsys, name):
    source = ROOT / "torch_logreg" / "data" / "datasets" / "breast_cancer.csv"
    before = snapshot(finished_run)
    done = run_main(
        capsys,
        "predict",
        "--checkpoint",
        finished_run,
        "--data",
        source,
        "--out",
        finished_run / name,
        "--overwrite",
    )
    assert done.status == 2
    assert_one_error_line(done.err, "run folder's own files")
    assert snapshot(finished_run) == before


def test_a_full_disk_names_the_users_file_not_the_temporary_one(tmp_path, monkeypatch):
    def full_disk(fd):  # where a full disk or a quota surfaces for a buffered write
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = tmp_path / "predictions.csv"
    monkeypatch.setattr(checkpoint_module.os, "fsync", full_disk)
    with pytest.raises(OSError) as raised:
        checkpoint_module.atomic_write_text(out, "x" * 100_000)
    assert raised.value.filename == str(out) and raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes into read-only folders"
)
def test_a_read_only_folder_names_the_users_file(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError) as raised:
            checkpoint_module.atomic_write_text(folder / "out.csv", "x")
        assert raised.value.filename == str(folder / "out.csv")
    finally:
        folder.chmod(0o700)


def test_a_folder_that_cannot_take_a_temporary_file_names_the_users_file(tmp_path, monkeypatch):
    """The read-only case as root sees it: creating the temporary file fails."""

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".hidden.tmp"))

    monkeypatch.setattr(checkpoint_module, "_create_temp", refuse)
    with pytest.raises(OSError) as raised:
        checkpoint_module.atomic_write_text(tmp_path / "metrics.json", "{}")
    assert raised.value.filename == str(tmp_path / "metrics.json")


def test_a_second_writer_is_refused_with_the_holders_pid(finished_run, capsys):
    folder, lock = open_run_dir(finished_run, "default", resume=True)
    try:
        before = snapshot(finished_run)
        done = run_main(capsys, "--resume", finished_run, "train.iterations=3")
        assert done.status == 2
        assert_one_error_line(done.err, str(finished_run), f"pid {os.getpid()}")
        assert snapshot(finished_run) == before
    finally:
        lock.release()
    done = run_main(capsys, "--resume", finished_run, "train.iterations=3")
    assert done.status == 0, done.err


@pytest.mark.slow
def test_a_lock_left_by_a_killed_process_does_not_block_the_next_run(finished_run):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from torch_logreg.training.run_dir import RunLock; "
                "from pathlib import Path; "
                f"lock = RunLock(Path({str(finished_run)!r})); print('held', flush=True); time.sleep(60)"
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=f"pid {holder.pid}"):
            RunLock(finished_run)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the flock as soon as the process is gone
        try:
            RunLock(finished_run).release()
            break
        except RunDirError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.mark.parametrize(
    "overrides, name",
    [
        (["data.name=digits"], "digits-softmax-"),
        (["data.name=flower", "model.name=mlp"], "flower-mlp-"),
        ([], "breast_cancer-logistic-"),
        (["--config", ROOT / "configs" / "flower_mlp.yaml"], "flower_mlp-"),
    ],
)
def test_a_run_is_named_after_its_config_file_or_its_data_and_model(
    tmp_path, capsys, monkeypatch, overrides, name
):
    monkeypatch.chdir(tmp_path)
    done = run_main(capsys, *overrides, "train.iterations=2", *QUIET)
    assert done.status == 0, done.err
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith(name)
