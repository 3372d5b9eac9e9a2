"""SIGINT or SIGTERM: finish the step, save a checkpoint, close TensorBoard, exit 130 or 143; then
``--resume`` ends with the same weights, bit for bit, as a run that was never stopped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from reliability_helpers import QUIET, ROOT, run_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

LOG_EVERY = 1000
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # same threads in every run: bitwise sums


def cost_steps(run_dir) -> list[int]:
    """The steps of ``1_cost/train`` as TensorBoard shows them (purged duplicates dropped)."""
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return [event.step for event in accumulator.Scalars("1_cost/train")]


def start_and_interrupt(run_dir, signum: int) -> tuple[subprocess.CompletedProcess, int]:
    """Start a very long run, wait until it is training, send ``signum``; return the result."""
    child = subprocess.Popen(
        [
            sys.executable,
            "train.py",
            "train.iterations=1000000000",
            f"train.log_every={LOG_EVERY}",
            "train.checkpoint_every=0",
            "train.device=cpu",
            "--run-dir",
            str(run_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ONE_THREAD},
    )
    try:
        seen = []
        for line in child.stdout:  # the first cost line: the loop is running
            seen.append(line)
            if line.startswith("Cost after iteration 0:"):
                break
        else:
            raise AssertionError(f"training never started: {''.join(seen)}{child.stderr.read()}")
        time.sleep(random.uniform(0.2, 0.5))
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return subprocess.CompletedProcess(child.args, child.returncode, "".join(seen) + out, err), 128 + signum


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path, signum):
    run = tmp_path / "run"
    done, expected_status = start_and_interrupt(run, signum)

    assert done.returncode == expected_status, done.stderr
    name = signal.Signals(signum).name
    assert f"{name}: finishing this step, then saving a checkpoint" in done.stderr  # a notice, not progress
    assert "Traceback" not in done.stderr
    stopped_at = load_checkpoint(run)["iteration"]
    assert done.stderr.strip().splitlines()[-1] == (
        f"stopped: interrupted by {name} at iteration {stopped_at}; "
        f"checkpoint saved, continue with --resume {run}"
    )
    assert stopped_at > 0
    # The writer was closed: every log step before the signal is on disk.
    assert cost_steps(run) == list(range(0, stopped_at, LOG_EVERY))

    total = (stopped_at // LOG_EVERY + 2) * LOG_EVERY
    resumed = run_script("--resume", run, f"train.iterations={total}", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = train(
            load_config(
                None,
                [
                    f"train.iterations={total}",
                    f"train.log_every={LOG_EVERY}",
                    "train.checkpoint_every=0",
                    *QUIET,
                ],
            ),
            tmp_path / "whole",
        )
    finally:
        torch.set_num_threads(threads)
    final = load_checkpoint(run)
    assert final["iteration"] == total
    assert torch.equal(final["model"]["weight"], whole.model.weight.detach())
    assert torch.equal(final["model"]["bias"], whole.model.bias.detach())
    # TensorBoard shows each step once, and every one of them.
    assert cost_steps(run) == list(range(0, total + 1, LOG_EVERY))
    assert final["history"]["iteration"] == list(range(0, total + 1, LOG_EVERY))


@pytest.mark.slow
@pytest.mark.parametrize("where", ["importing torch", "reading the data"])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path, where):
    """A Ctrl-C before training starts: ``error: interrupted``, status 130, no traceback.  The interrupt is
    raised deterministically by a stand-in module (torch itself, or the CSV reader) on the child's path."""
    import subprocess
    import sys

    from reliability_helpers import ROOT

    probe = tmp_path / "probe"
    probe.mkdir()
    if where == "importing torch":
        (probe / "torch").mkdir()
        (probe / "torch" / "__init__.py").write_text("raise KeyboardInterrupt\n")
        args = []
    else:
        (probe / "sitecustomize.py").write_text(
            "import torch_logreg.data.split as split\n"
            "def interrupted(*args, **kwargs):\n    raise KeyboardInterrupt\n"
            "split.load_table = interrupted\n"
        )
        data = tmp_path / "rows.csv"
        data.write_text("a,y\n1,0\n2,1\n")
        args = [f"data.path={data}", "train.print_cost=false"]
    done = subprocess.run(
        [sys.executable, "train.py", *args, "--run-dir", str(tmp_path / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{probe}{os.pathsep}{ROOT}"},
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "error: interrupted"
    assert not (tmp_path / "run").exists()


def test_a_signal_in_a_run_that_saves_nothing_does_not_claim_a_checkpoint(monkeypatch):
    """train(save=False) (scikit-learn's fit) writes nothing: a SIGTERM says there is nothing to resume."""
    from torch_logreg.training import trainer as trainer_module
    from torch_logreg.training.trainer import TrainingInterrupted

    real_step_at = trainer_module.Trainer.step_at

    def step_then_signal(self, it):
        real_step_at(self, it)
        if it == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the loop: it ends this step, then stops

    monkeypatch.setattr(trainer_module.Trainer, "step_at", step_then_signal)
    config = load_config(None, ["train.iterations=50", "train.print_cost=false"])
    with pytest.raises(TrainingInterrupted) as stopped:
        train(config, save=False)
    assert stopped.value.run_dir is None and stopped.value.iteration == 4
    assert str(stopped.value) == (
        "interrupted by SIGTERM at iteration 4; this run saves nothing (save=False), "
        "so there is nothing to resume"
    )
    assert "checkpoint" not in stopped.value.command_line
