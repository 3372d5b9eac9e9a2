"""Checkpoints never run code when loaded, survive kill -9 mid-write, and get normal permissions."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import signal
import stat
import time

import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main, run_script

import torch_logreg
from torch_logreg import checkpoint as ckpt
from torch_logreg.errors import CheckpointError
from torch_logreg.inference import load_model, predict_file
from torch_logreg.training.config import load_config
from torch_logreg.training.run_dir import remove_stale_temp_files
from torch_logreg.training.trainer import train


class RunsAShellCommand:
    """Unpickling this calls os.system(command): what a crafted checkpoint would do."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def plant(run_dir, marker, how: str):
    """A run folder whose checkpoint.pt runs ``touch marker`` if it is ever unpickled."""
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {"model": RunsAShellCommand(f"touch {marker}"), "config": {}}
    path = run_dir / "checkpoint.pt"
    if how == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as out:
            pickle.dump(payload, out, protocol=int(how.removeprefix("pickle-")))
    return run_dir


HOW = ["torch.save", "pickle-2", "pickle-5"]


@pytest.fixture(params=["", "1"], ids=["default-env", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"])
def force_no_weights_only(request, monkeypatch):
    if request.param:
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", request.param)
    else:
        monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    return request.param


def test_the_planted_checkpoint_really_would_run_code(tmp_path):
    # Control: an unrestricted load runs the command, so the refusals below mean something.
    marker = tmp_path / "MARKER"
    run = plant(tmp_path / "run", marker, "torch.save")
    torch.load(run / "checkpoint.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    "loader",
    [torch_logreg.load_model, load_model, ckpt.load_checkpoint],
    ids=["torch_logreg.load_model", "inference.load_model", "load_checkpoint"],
)
def test_a_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, force_no_weights_only, how, loader):
    marker = tmp_path / "MARKER"
    run = plant(tmp_path / "run", marker, how)

    with pytest.raises(CheckpointError, match="checkpoint.pt: refused to load: .*could run code"):
        loader(run)
    assert not marker.exists()


@pytest.mark.parametrize("how", HOW)
def test_resume_and_predict_refuse_a_crafted_checkpoint_with_one_line(
    tmp_path, capsys, force_no_weights_only, how
):
    marker = tmp_path / "MARKER"
    run = plant(tmp_path / "run", marker, how)
    before = (run / "checkpoint.pt").read_bytes()

    done = run_main(capsys, "--resume", run, *QUIET)
    assert done.status == 2
    assert_one_error_line(done.err, "checkpoint.pt", "refused to load")
    (tmp_path / "x.csv").write_text("a\n1\n")
    done = run_main(capsys, "predict", "--checkpoint", run, "--data", tmp_path / "x.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "checkpoint.pt", "refused to load")
    assert not marker.exists()
    assert (run / "checkpoint.pt").read_bytes() == before


def test_the_script_refuses_a_crafted_checkpoint_even_when_the_environment_forces_unsafe_loads(tmp_path):
    marker = tmp_path / "MARKER"
    run = plant(tmp_path / "run", marker, "torch.save")
    done = run_script("--resume", run, env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "refused to load")
    assert not marker.exists()


def test_loads_pass_weights_only_true_explicitly(tmp_path, monkeypatch):
    train(load_config(None, ["train.iterations=1", *QUIET]), tmp_path / "run")
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    load_model(tmp_path / "run")
    assert calls and all(kwargs.get("weights_only") is True for kwargs in calls)


def test_a_truncated_or_foreign_checkpoint_is_one_clear_error(tmp_path):
    train(load_config(None, ["train.iterations=1", *QUIET]), tmp_path / "run")
    whole = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        load_model(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a torch_logreg checkpoint"):
        load_model(tmp_path / "other.pt")
    torch.save({"model": {"weight": torch.zeros(3)}, "config": {"model": {"l2": 0.0}}}, tmp_path / "flat.pt")
    with pytest.raises(CheckpointError, match="flat.pt: not a torch_logreg checkpoint"):
        load_model(tmp_path / "flat.pt")


def _format_2(**changes) -> dict:
    from torch_logreg.inference import model_record

    state = {**model_record(torch_logreg.LogisticRegression(3, num_classes=3)), "target": None, "config": {}}
    return {**state, **changes}


ARGS = {"in_features": 3, "num_classes": 3, "l2": 0.0, "init": "zeros"}


@pytest.mark.parametrize(
    "state, named",
    [
        (
            _format_2(architecture={"name": "transformer", "args": ARGS}),
            "unknown model 'transformer' (known: logistic",
        ),
        (
            _format_2(architecture={"name": "logistic", "args": {**ARGS, "in_features": 10**12}}),
            "'weight' is (3, 3) in the checkpoint, (3, 1000000000000) in the model",
        ),
        (
            _format_2(architecture={"name": "logistic", "args": {**ARGS, "num_classes": 2}}),
            "'weight' is (3, 3) in the checkpoint, (1, 3) in the model",
        ),
        (
            _format_2(architecture={"name": "logistic", "args": {**ARGS, "depth": 4}}),
            "unexpected keyword argument 'depth'",
        ),
        (
            _format_2(architecture={"name": "logistic", "args": {**ARGS, "in_features": -1}}),
            "in_features must be >= 1",
        ),
        (
            _format_2(architecture={"name": "logistic", "args": [3, 3]}),
            "architecture must be {'name': ..., 'args'",
        ),
        (_format_2(architecture="logistic"), "architecture must be {'name': ..., 'args'"),
        (_format_2(classes=[0, 1]), "classes [0, 1] do not fit a model of 3 classes"),
        (_format_2(feature_names=["a"]), "feature_names do not fit a model of 3 features"),
        (_format_2(standardizer={"mean": torch.zeros(2), "std": torch.ones(2)}), "do not have shape (3,)"),
    ],
    ids=[
        "unknown-name",
        "huge-in-features",
        "wrong-classes-arg",
        "unknown-arg",
        "bad-arg",
        "args-not-a-dict",
        "not-a-dict",
        "classes",
        "feature-names",
        "standardizer",
    ],
)
def test_an_architecture_or_record_that_does_not_fit_is_one_clear_error(tmp_path, state, named):
    ckpt.save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError) as raised:
        load_model(tmp_path / "bad.pt")
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'bad.pt'}: not a torch_logreg checkpoint (") and named in message
    assert "\n" not in message


# ---------------------------------------------------------------- kill -9 mid-write


def state(fill: float) -> dict:
    return {"model": {"weight": torch.full((2_000_000,), fill)}, "fill": fill}  # 8 MB of float32


# The children are forked and run no torch op (a forked OpenMP pool can hang): they get their
# states built here, and only serialize and write them.


def _write_forever(path, states):
    for i in range(10**9):
        ckpt.save_checkpoint(path, states[i % len(states)])


def _write_half_then_wait(path, new_state, ready):
    """Write half of the new checkpoint into the temporary file, tell the parent, and hang."""

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            os.fsync(self.handle.fileno())
            ready.set()
            time.sleep(600)

    real_fdopen = os.fdopen
    ckpt.os.fdopen = lambda fd, mode: HalfWriter(real_fdopen(fd, mode))
    ckpt.save_checkpoint(path, new_state)


def _fork():
    return multiprocessing.get_context("fork")


def test_kill_9_in_the_middle_of_a_write_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    ckpt.save_checkpoint(path, state(1.0))
    before = path.read_bytes()
    ready = _fork().Event()
    child = _fork().Process(target=_write_half_then_wait, args=(path, state(2.0), ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)

    assert child.exitcode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert ckpt.load_checkpoint(path)["fill"] == 1.0
    partial = [p for p in tmp_path.iterdir() if ckpt.is_temp_file(p)]
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(before)  # the half-written new one
    assert remove_stale_temp_files(tmp_path) == partial and not partial[0].exists()


def test_kill_9_at_random_moments_always_leaves_a_whole_checkpoint(tmp_path):
    # Every kill must leave a whole checkpoint. Where a kill lands is up to the scheduler: on a
    # fast disk most of a save is torch.save into memory, with no temporary file yet. So it keeps
    # killing (at least 6 times, at most 60) until one kill has landed mid-write; the exact
    # mid-write case is pinned down deterministically by the test above.
    path = tmp_path / "checkpoint.pt"
    ckpt.save_checkpoint(path, state(0.0))
    states = [state(1.0), state(2.0)]
    rng = random.Random(0)
    kills = caught_mid_write = 0
    while kills < 6 or (caught_mid_write == 0 and kills < 60):
        child = _fork().Process(target=_write_forever, args=(path, states))
        child.start()
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        kills += 1

        loaded = ckpt.load_checkpoint(path)
        assert loaded["fill"] in (0.0, 1.0, 2.0)
        assert torch.equal(loaded["model"]["weight"], state(loaded["fill"])["model"]["weight"])
        caught_mid_write += len(remove_stale_temp_files(tmp_path))
    assert caught_mid_write >= 1, f"none of {kills} kills landed while a new checkpoint was being written"


# ---------------------------------------------------------------- permissions


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)

    saved = os.umask(0o022)
    yield set_mask
    os.umask(saved)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_users_normal_permissions(tmp_path, capsys, umask, mask, mode):
    umask(mask)
    run = tmp_path / "run"
    done = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", run)
    assert done.status == 0, done.err
    predict_file(run, _raw_rows(tmp_path / "rows.csv"), tmp_path / "predictions.csv")

    for path in [
        run / "checkpoint.pt",
        run / "config.yaml",
        run / "command.txt",
        run / "metrics.json",
        tmp_path / "predictions.csv",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path.name


def _raw_rows(path):
    from torch_logreg.data import load_breast_cancer

    x, _, names = load_breast_cancer()
    path.write_text(
        ",".join(names) + "\n" + "\n".join(",".join(f"{v:.6g}" for v in row) for row in x[:3].tolist()) + "\n"
    )
    return path
