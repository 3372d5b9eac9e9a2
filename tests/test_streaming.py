"""Streaming: data read block by block from .npy files trains the weights of data held in memory,
with resident memory bounded by ``data.memory_limit``, not by the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_logreg.data import stream_statistics, streaming
from torch_logreg.errors import ConfigError
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]


def write_table(path: Path, m: int, n: int, dtype=np.float64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n)).astype(dtype)
    y = (rng.random(m) < 1 / (1 + np.exp(-(x @ rng.normal(size=n) / np.sqrt(n))))).astype(dtype)
    np.save(path, np.column_stack([x, y]))
    return path


def weights(result) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).double() for p in result.model.parameters()])


def relative(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max())


BASE = ["train.print_cost=false", "train.device=cpu", "model.l2=0.3"]
STREAM = ["data.stream=true", "data.memory_limit=20000"]  # 256-row blocks: 1001 rows are four


@pytest.mark.parametrize("optimizer, iterations", [("gd", 100), ("newton", 50), ("lbfgs", 50)])
def test_streamed_full_batch_training_equals_training_in_memory_in_float64(tmp_path, optimizer, iterations):
    path = write_table(tmp_path / "data.npy", 1001, 5)
    config = BASE + [
        f"data.path={path}",
        "train.dtype=float64",
        f"optimizer.name={optimizer}",
        f"train.iterations={iterations}",
    ]
    in_memory, streamed = (
        train(load_config(None, config), save=False),
        train(load_config(None, config + STREAM), save=False),
    )
    assert relative(weights(streamed), weights(in_memory)) < 1e-12
    assert streamed.metrics["test_auc"] == pytest.approx(in_memory.metrics["test_auc"], abs=1e-12)


def test_a_float32_file_streams_in_float32_within_1e_4_of_the_float64_reference(tmp_path):
    path = write_table(tmp_path / "data.npy", 301, 5, dtype=np.float32)
    config = BASE + [f"data.path={path}", "optimizer.name=gd", "train.iterations=5"]
    reference = train(load_config(None, config + ["train.dtype=float64"] + STREAM), save=False)
    streamed = train(load_config(None, config + ["train.dtype=float32"] + STREAM), save=False)
    assert streamed.model.weight.dtype == torch.float32
    assert relative(weights(streamed), weights(reference)) < 1e-4


def test_a_resumed_streamed_run_reuses_the_saved_statistics(tmp_path, monkeypatch):
    path = write_table(tmp_path / "data.npy", 301, 5)
    config = BASE + [f"data.path={path}", "train.dtype=float64", "optimizer.name=gd"] + STREAM
    train(load_config(None, config + ["train.iterations=20"]), tmp_path / "run")

    def no_second_pass(stream):
        raise AssertionError("the statistics pass ran again")

    monkeypatch.setattr(stream_statistics, "local_statistics", no_second_pass)
    resumed = train(load_config(None, config + ["train.iterations=40"]), tmp_path / "run", resume=True)
    monkeypatch.undo()
    straight = train(load_config(None, config + ["train.iterations=40"]), save=False)
    assert relative(weights(resumed), weights(straight)) < 1e-12


def test_streamed_mini_batches_visit_every_row_once_per_epoch_block_by_block(tmp_path):
    path = write_table(tmp_path / "data.npy", 1000, 3)
    stream = streaming.RowStream([streaming.NpyFile(path)], np.arange(1000) % 4 != 0, block_rows=256)
    batches = streaming.BlockBatches(stream, batch_size=50, seed=0)
    assert batches.per_epoch == 4 + 4 + 4 + 4  # 192, 192, 192, 174 kept rows: ⌈·/50⌉ batches each
    table = np.load(path)[np.arange(1000) % 4 != 0, :-1]
    for epoch in range(2):
        seen = []
        for it in range(epoch * batches.per_epoch, (epoch + 1) * batches.per_epoch):
            x, rows = batches.batch(it)
            np.testing.assert_array_equal(x.numpy(), table[rows.numpy()])
            seen.append(rows)
        assert sorted(torch.cat(seen).tolist()) == list(range(750))


def test_streamed_sgd_trains_and_resumes_to_the_same_weights(tmp_path):
    path = write_table(tmp_path / "data.npy", 3001, 5)
    config = BASE + [
        f"data.path={path}",
        "train.dtype=float64",
        "optimizer.name=sgd",
        "optimizer.lr=0.1",
        "optimizer.momentum=0.9",
        "train.batch_size=64",
        "data.stream=true",
        "data.memory_limit=200000",
    ]  # 520-row blocks
    straight = train(load_config(None, config + ["train.iterations=90"]), save=False)
    in_memory = train(load_config(None, config[:-2] + ["train.iterations=90"]), save=False)
    # Other batches than one global permutation's, but the same descent.
    assert straight.metrics["train_cost"] == pytest.approx(in_memory.metrics["train_cost"], rel=0.05)
    assert straight.metrics["train_cost"] < straight.history["train_cost"][0] - 0.01
    train(load_config(None, config + ["train.iterations=50"]), tmp_path / "run")
    resumed = train(load_config(None, config + ["train.iterations=90"]), tmp_path / "run", resume=True)
    assert relative(weights(resumed), weights(straight)) < 1e-12


@pytest.mark.parametrize(
    "text, size",
    [("512MiB", 512 << 20), ("2GiB", 2 << 30), ("1.5GB", 1_500_000_000), (4096, 4096), ("4096", 4096)],
)
def test_memory_limits_take_bytes_or_sizes_with_units(text, size):
    assert streaming.parse_size(text) == size


def test_a_bad_memory_limit_names_the_key():
    with pytest.raises(ConfigError, match="data.memory_limit must be bytes or a size such as 512MiB"):
        load_config(None, ["data.memory_limit=lots"])


# The peak resident set of this process alone: VmHWM.  (Linux's ru_maxrss keeps the high-water
# mark of the process that forked it across fork and exec: a child of a large pytest would
# report pytest's peak.)
PEAK = """
import json, sys
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train
train(load_config(None, sys.argv[1:]), save=False)
status = open("/proc/self/status").read()
print(json.dumps(int(status.split("VmHWM:")[1].split()[0]) * 1024))
"""


@pytest.mark.slow
def test_streaming_keeps_the_peak_resident_set_far_below_the_file(tmp_path):
    path = write_table(tmp_path / "big.npy", 80_000, 127, dtype=np.float32)  # 41 MB
    size = path.stat().st_size
    small = write_table(tmp_path / "small.npy", 301, 127, dtype=np.float32)

    def peak(overrides) -> int:
        # One thread: on a busy machine, OpenMP threads waiting on each other would dominate the time.
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK,
                *BASE,
                "optimizer.name=gd",
                "train.iterations=2",
                "train.threads=1",
                *overrides,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.splitlines()[-1])

    baseline = peak([f"data.path={small}"])  # torch and the package, on a tiny file
    streamed = peak([f"data.path={path}", "data.stream=true", "data.memory_limit=4MiB"])
    print(
        f"peak resident set (VmHWM): baseline {baseline / 2**20:.0f} MiB, "
        f"streaming a {size / 2**20:.0f} MiB file {streamed / 2**20:.0f} MiB"
    )
    assert streamed - baseline < 0.5 * size  # in memory, the float64 copies alone take 2 × size


@pytest.mark.parametrize("where", ["training rows", "test file"])
@pytest.mark.parametrize("standardize", [True, False])
def test_a_non_finite_value_in_streamed_data_names_its_file_row_and_column(
    tmp_path, capsys, where, standardize
):
    """Streamed data are checked as rows in memory are, in the pass the stream already makes: not reported
    later as a divergence with advice about the learning rate."""
    from reliability_helpers import QUIET, assert_one_error_line, run_main

    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(size=(200, 3)), rng.integers(0, 2, 200)]).astype(np.float32)
    train_path, test_path = tmp_path / "train.npy", tmp_path / "test.npy"
    bad = rows.copy()
    bad[137, 2] = np.nan
    np.save(train_path, bad if where == "training rows" else rows)
    np.save(test_path, bad if where == "test file" else rows)
    done = run_main(
        capsys,
        f"data.path={train_path}",
        f"data.test_path={test_path}",
        "data.stream=true",
        f"data.standardize={str(standardize).lower()}",
        "train.iterations=3",
        *QUIET,
        "--run-dir",
        tmp_path / "run",
    )
    assert done.status == 2
    named = train_path if where == "training rows" else test_path
    message = assert_one_error_line(
        done.err, str(named), "row index 137", "column index 2", "nan is not finite"
    )
    assert "diverged" not in message and "optimizer.lr" not in message
