"""torchrun data parallelism: two workers (gloo, CPU) train the same model as one process.

The workers sum their rows' cost and gradient and all-reduce the sums, so in float64
their final weights equal one process's to rounding: 1e-10 relative for gd, newton,
mini-batch sgd and the MLP; 1e-8 for lbfgs, whose line search may branch differently
on a one-ulp difference.  Each launch costs seconds, so one launch trains many configs
(``distributed_worker.py``); the command line itself is exercised by the two-node,
restart and bad-input tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_logreg.checkpoint import load_checkpoint
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
WORKER = str(ROOT / "tests" / "distributed_worker.py")
LAUNCH_TIMEOUT = 240


def write_logistic(path: Path, m: int, n: int = 5, classes: int = 2, seed: int = 0) -> Path:
    """(m, n + 1) float64 .npy: features, then labels drawn from a logistic (softmax) model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n))
    logits = x @ rng.normal(size=(n, classes))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) < rng.random((m, 1))).sum(1)
    np.save(path, np.column_stack([x, y]).astype(np.float64))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    odd = write_logistic(folder / "odd.npy", 301)
    table = np.load(odd)
    shards = folder / "shards"
    shards.mkdir()
    for i, part in enumerate(np.array_split(table, 3)):  # 101, 100, 100 rows: one table
        np.save(shards / f"part-{i}.npy", part)
    return {
        "odd": odd,
        "even": write_logistic(folder / "even.npy", 300, seed=1),
        "three": write_logistic(folder / "three.npy", 301, classes=3, seed=2),
        "train": write_logistic(folder / "train.npy", 201, seed=3),
        "test": write_logistic(folder / "test.npy", 99, seed=4),
        "shards": shards,
        "folder": folder,
        "long": write_logistic(folder / "long.npy", 1501, seed=5),  # 256-row blocks: 3 per worker
    }


def torchrun(
    args: list[str], *, nproc: int = 2, timeout: float = LAUNCH_TIMEOUT, extra: tuple = (), **popen
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [TORCHRUN, "--standalone", f"--nproc_per_node={nproc}", *extra, *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, **popen
    )


def final_weights(run_dir: Path) -> torch.Tensor:
    state = load_checkpoint(run_dir)["model"]
    return torch.cat([value.reshape(-1).double() for value in state.values()])


def one_process(overrides: list[str]) -> torch.Tensor:
    result = train(load_config(None, overrides), save=False)
    return torch.cat([p.detach().reshape(-1).double() for p in result.model.parameters()])


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


BASE = ["train.dtype=float64", "train.print_cost=false", "train.log_every=1000", "train.device=cpu"]
# (name, data key, overrides, tolerance): each trained by two workers in one launch and by one process here.
CASES = [
    ("gd, odd rows, l2", "odd", ["optimizer.name=gd", "train.iterations=200", "model.l2=0.5"], 1e-10),
    ("gd, even rows", "even", ["optimizer.name=gd", "train.iterations=200"], 1e-10),
    ("newton, l2", "odd", ["optimizer.name=newton", "train.iterations=50", "model.l2=0.5"], 1e-10),
    ("newton, 3 classes", "three", ["optimizer.name=newton", "train.iterations=50", "model.l2=0.5"], 1e-10),
    # the workers' Hessian sample is one process's: the rows are drawn from the global row index
    (
        "newton, sampled Hessian",
        "long",
        ["optimizer.name=newton", "optimizer.hessian_rows=300", "train.iterations=50", "model.l2=0.5"],
        1e-10,
    ),
    (
        "sgd mini-batches",
        "odd",
        [
            "optimizer.name=sgd",
            "optimizer.momentum=0.9",
            "optimizer.lr=0.05",
            "train.batch_size=32",
            "train.iterations=60",
            "model.l2=0.5",
        ],
        1e-10,
    ),
    (
        "adam mini-batches, balanced",
        "odd",
        [
            "optimizer.name=adam",
            "optimizer.lr=0.05",
            "train.batch_size=50",
            "train.iterations=40",
            "model.class_weight=balanced",
        ],
        1e-10,
    ),
    (
        "mlp gd",
        "even",
        ["model.name=mlp", "model.hidden=[4]", "optimizer.name=gd", "train.iterations=150", "model.l2=0.1"],
        1e-10,
    ),
    (
        "lbfgs, converged",
        "odd",
        ["optimizer.name=lbfgs", "optimizer.lr=1", "train.iterations=100", "model.l2=0.5"],
        1e-8,
    ),
    ("separate test file", "train", ["optimizer.name=gd", "train.iterations=100"], 1e-10),
    ("folder of shards", "shards", ["optimizer.name=gd", "train.iterations=100"], 1e-10),
    (
        "streamed newton",
        "long",
        [
            "optimizer.name=newton",
            "train.iterations=50",
            "model.l2=0.5",
            "data.stream=true",
            "data.memory_limit=20000",
        ],
        1e-10,
    ),
]
STREAMING_KEYS = ("data.stream=", "data.memory_limit=")


def data_overrides(files, key: str) -> list[str]:
    if key == "train":
        return [f"data.path={files['train']}", f"data.test_path={files['test']}"]
    return [f"data.path={files[key]}"]


@pytest.fixture(scope="module")
def two_worker_runs(files):
    """Every case trained once by ``torchrun --nproc_per_node=2``: {name: run folder}."""
    folder = files["folder"]
    spec = [
        {"overrides": BASE + data_overrides(files, key) + overrides, "run_dir": str(folder / f"run{i}")}
        for i, (name, key, overrides, _) in enumerate(CASES)
    ]
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(spec))
    done = torchrun([WORKER, str(spec_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((folder / "spec.json.rank0.json").read_text()) == [None] * len(CASES)
    return {name: folder / f"run{i}" for i, (name, *_) in enumerate(CASES)}


@pytest.mark.parametrize("name, key, overrides, tolerance", CASES, ids=[case[0] for case in CASES])
def test_two_workers_train_the_weights_of_one_process(
    two_worker_runs, files, name, key, overrides, tolerance
):
    in_memory = [o for o in overrides if not o.startswith(STREAMING_KEYS)]
    reference = one_process(BASE + data_overrides(files, "odd" if key == "shards" else key) + in_memory)
    distributed = final_weights(two_worker_runs[name])
    difference = relative(distributed, reference)
    print(f"{name}: relative difference {difference:.3g}")
    assert difference < tolerance


def test_two_workers_write_one_run_folder_with_global_metrics_and_the_world_size(two_worker_runs, files):
    run = two_worker_runs["gd, odd rows, l2"]
    assert json.loads((run / "world.json").read_text()) == [
        {"world_size": 2, "backend": "gloo", "restart": 0}
    ]
    metrics = json.loads((run / "metrics.json").read_text())
    alone = train(load_config(None, BASE + data_overrides(files, "odd") + CASES[0][2]), save=False).metrics
    for key in ("train_accuracy", "test_accuracy", "train_auc", "test_log_loss", "train_cost"):
        assert metrics[key] == pytest.approx(alone[key], rel=1e-9), key
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # rank 0 alone writes TensorBoard


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_on_one_machine_give_one_process_result(files, tmp_path):
    overrides = BASE + data_overrides(files, "odd") + CASES[0][2]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [
                TORCHRUN,
                "--nnodes=2",
                f"--node_rank={i}",
                "--nproc_per_node=1",
                "--rdzv_backend=c10d",
                f"--rdzv_endpoint=127.0.0.1:{port}",
                "--rdzv_id=two-nodes",
                "train.py",
                *overrides,
                "--run-dir",
                str(tmp_path / "run"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [node.communicate(timeout=LAUNCH_TIMEOUT) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert relative(final_weights(tmp_path / "run"), one_process(overrides)) < 1e-10


# ---------------------------------------------------------------- restarts and signals


def test_a_killed_worker_restarts_from_the_checkpoint_and_ends_with_the_uninterrupted_weights(
    files, tmp_path
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = (
        BASE
        + data_overrides(files, "odd")
        + ["optimizer.name=gd", "train.iterations=3000", "train.log_every=100", "train.checkpoint_every=500"]
    )
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    launcher = subprocess.Popen(
        [
            TORCHRUN,
            "--standalone",
            "--nproc_per_node=2",
            "--max-restarts=1",
            "train.py",
            *overrides,
            "--run-dir",
            str(run),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = _kill_a_worker_after_the_first_checkpoint(launcher, run)
    out, err = launcher.communicate(timeout=LAUNCH_TIMEOUT)
    assert launcher.returncode == 0, err[-3000:]
    assert killed
    starts = json.loads((run / "world.json").read_text())
    assert [start["restart"] for start in starts] == [0, 1]
    assert relative(final_weights(run), one_process(overrides)) < 1e-10
    events = EventAccumulator(str(run)).Reload()
    steps = [event.step for event in events.Scalars("1_cost/train")]
    assert steps == sorted(set(steps)) and steps[-1] == 3000  # no step logged twice


def _kill_a_worker_after_the_first_checkpoint(launcher, run: Path) -> bool:
    """SIGKILL rank 1 once the run has a checkpoint (and before it ends)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and launcher.poll() is None:
        if (run / "checkpoint.pt").is_file():
            workers = _children(launcher.pid)
            if len(workers) == 2:
                os.kill(sorted(workers)[-1], signal.SIGKILL)
                return True
        time.sleep(0.02)
    return False


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.is_file() else []


def test_sigterm_to_the_launcher_stops_every_worker_after_one_step_and_checkpoints_once(files, tmp_path):
    overrides = (
        BASE
        + data_overrides(files, "odd")
        + ["optimizer.name=gd", "train.iterations=10000000", "train.checkpoint_every=0"]
    )
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    launcher = subprocess.Popen(
        [TORCHRUN, "--standalone", "--nproc_per_node=2", "train.py", *overrides, "--run-dir", str(run)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run / "events.out.tfevents").parent.is_dir() or not list(run.glob("events.out.tfevents.*")):
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    launcher.send_signal(signal.SIGTERM)
    out, err = launcher.communicate(timeout=LAUNCH_TIMEOUT)
    assert launcher.returncode != 0
    checkpoint = load_checkpoint(run)
    assert 0 < checkpoint["iteration"] < 10000000
    # Both workers stopped after the same step, the one whose checkpoint rank 0 wrote.
    stopped = [line for line in err.splitlines() if line.startswith("stopped: interrupted by SIGTERM")]
    assert len(stopped) == 2, err[-3000:]
    assert all(f"at iteration {checkpoint['iteration']};" in line for line in stopped)


def test_a_run_resumes_with_a_different_number_of_workers(files, tmp_path):
    overrides = BASE + data_overrides(files, "odd") + ["optimizer.name=gd", "model.l2=0.5"]
    run = tmp_path / "run"
    first = torchrun(["train.py", *overrides, "train.iterations=100", "--run-dir", str(run)])
    assert first.returncode == 0, first.stderr[-3000:]
    train(load_config(None, overrides + ["train.iterations=200"]), run, resume=True)  # one process goes on
    assert relative(final_weights(run), one_process(overrides + ["train.iterations=200"])) < 1e-10


# ---------------------------------------------------------------- bad input


def test_a_shard_with_the_wrong_columns_stops_every_worker_with_one_line(files, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "part-0.npy", np.load(files["odd"])[:150])
    np.save(shards / "part-1.npy", np.load(files["odd"])[150:, 1:])  # a column short
    started = time.monotonic()
    done = torchrun(
        ["train.py", *BASE, f"data.path={shards}", "train.iterations=1", "--run-dir", str(tmp_path / "run")],
        timeout=120,
    )
    assert done.returncode != 0 and time.monotonic() - started < 60
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines and all("part-1.npy: has 5 columns, the other shards 6" in line for line in lines), (
        done.stderr
    )
    # Each worker that gets to print says it; torchrun may end the slower one first when the other exits.
    assert {line.split(":")[1].strip() for line in lines} <= {"rank 0", "rank 1"} and len(lines) <= 2


def test_a_missing_shard_disagreeing_configs_and_restarts_without_a_run_folder_each_end_with_one_line(
    files, tmp_path
):
    shards = tmp_path / "shards"
    shards.mkdir()
    table = np.load(files["odd"])
    np.save(shards / "part-0.npy", table[:150])
    (shards / "part-1.npy").symlink_to(tmp_path / "gone.npy")  # rank 1's shard, missing
    spec = [
        {
            "overrides": BASE
            + [f"data.path={shards}", f"data.test_path={files['test']}", "train.iterations=1"],
            "run_dir": str(tmp_path / "missing"),
        },
        {
            "overrides": BASE + [f"data.path={files['odd']}", "train.iterations=1"],
            "by_rank": {"1": ["optimizer.lr=0.1"]},
            "run_dir": str(tmp_path / "disagree"),
        },
        {"overrides": BASE + [f"data.path={files['odd']}", "train.iterations=1"], "run_dir": None},
    ]
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    done = torchrun([WORKER, str(spec_path)], timeout=120, extra=("--max-restarts=1",))
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"spec.json.rank{r}.json").read_text()) for r in (0, 1))
    assert rank1[0] == f"rank 1: {shards / 'part-1.npy'}: no such file (a missing shard)"
    assert rank0[0].startswith("rank 0: stopped, because rank 1 failed:")
    for line in (rank0[1], rank1[1]):
        assert (
            "the workers' configs differ" in line
            and "optimizer.lr is 0.5 on rank 0 and 0.1 on rank 1" in line
        )
    for rank, line in enumerate((rank0[2], rank1[2])):  # a restart would not find a timestamped folder
        assert (
            line == f"rank {rank}: torchrun --max-restarts needs an explicit --run-dir: a restarted worker "
            f"continues from that folder's checkpoint"
        )


def test_a_non_finite_value_in_streamed_data_names_file_row_and_column_on_every_worker(files, tmp_path):
    table = np.load(files["odd"])
    table[123, 2] = np.nan
    bad = tmp_path / "bad.npy"
    np.save(bad, table)
    done = torchrun(
        [
            "train.py",
            *BASE,
            f"data.path={bad}",
            "data.stream=true",
            "train.iterations=1",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        timeout=120,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines and all(
        f"{bad}: row index 123, column index 2 (from 0): nan is not finite" in line for line in lines
    ), done.stderr
    for line in lines:  # one rank named once per line, the error said once
        assert line.count("rank ") == 1 and line.count("is not finite") == 1, line


def test_a_config_error_before_the_workers_meet_is_one_line_per_rank_with_its_rank(files, tmp_path):
    done = torchrun(
        [
            "train.py",
            *BASE,
            f"data.path={files['odd']}",
            "optimizer.lr=-1",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert sorted(line.split(":")[1].strip() for line in lines) == ["rank 0", "rank 1"], done.stderr
    assert all(line.count("optimizer.lr") >= 1 and line.count("rank ") == 1 for line in lines)


@pytest.mark.parametrize(
    "layout", [["data.path={shards}"], ["data.path={odd}", "data.stream=true"]], ids=["shards", "streamed"]
)
def test_train_summary_under_torchrun_is_the_table_of_every_workers_rows(files, tmp_path, layout):
    overrides = [
        *BASE,
        "optimizer.name=newton",
        "train.summary=true",
        "data.test_path={test}",
        "model.l2=0.1",
        *layout,
    ]
    overrides = [
        item.format(shards=files["shards"], odd=files["odd"], test=files["test"]) for item in overrides
    ]
    done = torchrun(["train.py", *overrides, "--run-dir", str(tmp_path / "two")], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    one = subprocess.run(
        [sys.executable, "train.py", *overrides, "--run-dir", str(tmp_path / "one")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two_rows = (tmp_path / "two" / "summary.csv").read_text().splitlines()
    one_rows = (tmp_path / "one" / "summary.csv").read_text().splitlines()
    assert len(two_rows) == len(one_rows) == 7  # header, const, 5 features
    for mine, theirs in zip(two_rows[1:], one_rows[1:]):
        ours = [float(v) for v in mine.split(",")[2:]]
        reference = [float(v) for v in theirs.split(",")[2:]]
        assert ours == pytest.approx(reference, rel=1e-6, abs=1e-9)
