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
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from reliability_helpers import QUIET, ROOT, run_script
from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

LOG_EVERY = 1000
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # same threads in every run: bitwise sums


def cost_steps(run_dir) -> list[int]:
    """The steps of ``train/cost`` as TensorBoard shows them (purged duplicates dropped)."""
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return [event.step for event in accumulator.Scalars("train/cost")]


def start_and_interrupt(run_dir, signum: int) -> tuple[subprocess.CompletedProcess, int]:
    """Start a very long run, wait until it is training, send ``signum``; return the result."""
    child = subprocess.Popen(
        [sys.executable, "train.py", "train.iterations=1000000000", f"train.log_every={LOG_EVERY}",
         "train.checkpoint_every=0", "train.device=cpu", "--run-dir", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD})
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
    assert f"{name}: finishing this step, then saving a checkpoint" in done.stderr  # a notice, beside "stopped:"
    assert "Traceback" not in done.stderr
    stopped_at = load_checkpoint(run)["iteration"]
    assert done.stderr.strip().splitlines()[-1] == (
        f"stopped: interrupted by {name} at iteration {stopped_at}; checkpoint saved, continue with --resume {run}")
    assert stopped_at > 0
    # The writer was closed: every log step before the signal is on disk.
    assert cost_steps(run) == list(range(0, stopped_at, LOG_EVERY))

    total = (stopped_at // LOG_EVERY + 2) * LOG_EVERY
    resumed = run_script("--resume", run, f"train.iterations={total}", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = train(load_config(None, [f"train.iterations={total}", f"train.log_every={LOG_EVERY}",
                                         "train.checkpoint_every=0", *QUIET]), tmp_path / "whole")
    finally:
        torch.set_num_threads(threads)
    final = load_checkpoint(run)
    assert final["iteration"] == total
    assert torch.equal(final["model"]["weight"], whole.model.weight.detach())
    assert torch.equal(final["model"]["bias"], whole.model.bias.detach())
    # TensorBoard shows each step once, and every one of them.
    assert cost_steps(run) == list(range(0, total + 1, LOG_EVERY))
    assert final["history"]["iteration"] == list(range(0, total + 1, LOG_EVERY))


# ---------------------------------------------------------------- Ctrl-C while starting

_INTERRUPT_IMPORT = """
import sys
class Interrupt:  # Ctrl-C arriving while {module} is being imported
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
"""


@pytest.mark.parametrize("module", ["torch", "numpy", "yaml"])
@pytest.mark.parametrize("entry", ["train.py", "torch-logreg"])
def test_ctrl_c_while_importing_is_one_line_and_exit_130(tmp_path, module, entry):
    start = "import runpy; runpy.run_path('train.py', run_name='__main__')" if entry == "train.py" else \
        "from torch_logreg.cli import main; sys.exit(main())"  # what the installed console script runs
    code = _INTERRUPT_IMPORT.format(module=module) + f"sys.argv = ['{entry}', '--run-dir', {str(tmp_path / 'r')!r}]\n" \
        + start
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")


def test_ctrl_c_while_reading_a_csv_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    from reliability_helpers import run_main
    from torch_logreg.data import split

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    monkeypatch.setattr(split, "parse_cells", interrupted)
    done = run_main(capsys, *QUIET, f"data.path={data}", "--run-dir", tmp_path / "run")
    assert (done.status, done.err) == (130, "error: interrupted\n") and not (tmp_path / "run").exists()


def test_a_real_sigint_early_in_start_up_never_prints_a_traceback(tmp_path):
    process = subprocess.Popen([sys.executable, "train.py", *QUIET, "--run-dir", str(tmp_path / "run")], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)  # Python is up; torch is being imported, or the run has started
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert process.returncode in (0, 130), err  # 0: the tiny run finished before the signal
