"""A resumed run: a new learning rate from the resume point on, and every change that would make it lie is
refused."""

import numpy as np
import pytest
import torch
from reliability_helpers import assert_one_error_line, run_main

from torch_logreg import document
from torch_logreg.data import breast_cancer
from torch_logreg.errors import ConfigError
from torch_logreg.training.config import apply_overrides, config_from_dict, load_config
from torch_logreg.training.trainer import train

CPU = ["train.print_cost=false", "train.device=cpu", "train.dtype=float64", "train.checkpoint_every=0"]


def config(*overrides):
    return load_config(None, [*CPU, *overrides])


def resumed_config(run_dir, *overrides):
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=True)["config"]
    resumed = config_from_dict(saved)
    apply_overrides(resumed, list(overrides))
    return resumed


def test_gd_resumed_with_a_new_learning_rate_steps_at_it_and_logs_it(tmp_path):
    train(config("train.iterations=3", "train.log_every=1"), tmp_path / "run")
    result = train(
        resumed_config(tmp_path / "run", "optimizer.lr=0.1", "train.iterations=5"),
        tmp_path / "run",
        resume=True,
    )

    # Two phases by hand: 3 steps at α = 0.5, then 2 at α = 0.1, with the document's own propagate.
    split = breast_cancer()
    x, y = split.x_train.T, split.y_train.reshape(1, -1)
    w, b = document.initialize_with_zeros(split.n_features)
    for lr in (0.5, 0.5, 0.5, 0.1, 0.1):
        grads, _ = document.propagate(w, b, x, y)
        w, b = w - lr * grads["dw"], b - lr * grads["db"]
    torch.testing.assert_close(result.model.weight.detach(), w.T, atol=1e-15, rtol=0)
    assert result.model.bias.item() == pytest.approx(b, abs=1e-15)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = EventAccumulator(str(tmp_path / "run")).Reload().Scalars("train/learning_rate")
    assert [(e.step, round(e.value, 6)) for e in logged] == [
        (0, 0.5),
        (1, 0.5),
        (2, 0.5),
        (3, 0.1),
        (4, 0.1),
        (5, 0.1),
    ]


def test_sgd_resumed_with_a_new_learning_rate_equals_a_two_phase_run(tmp_path):
    common = ["optimizer.name=sgd", "optimizer.momentum=0.9", "train.batch_size=50", "model.l2=0.5"]
    train(config(*common, "train.iterations=7"), tmp_path / "run")
    result = train(
        resumed_config(tmp_path / "run", "optimizer.lr=0.05", "train.iterations=12"),
        tmp_path / "run",
        resume=True,
    )

    # The same two phases with torch.optim.SGD on the same batches, by hand.
    from torch_logreg import LogisticRegression

    split = breast_cancer()
    model = LogisticRegression(30, l2=0.5, dtype=torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    m = len(split.x_train)
    for it in range(12):
        if it == 7:
            optimizer.param_groups[0]["lr"] = 0.05
        epoch, index = divmod(it, -(-m // 50))
        order = torch.randperm(m, generator=torch.Generator().manual_seed(epoch))
        rows = order[index * 50 : (index + 1) * 50]
        optimizer.zero_grad()
        model.cost(split.x_train[rows], split.y_train[rows], l2_rows=m).backward()
        optimizer.step()
    torch.testing.assert_close(result.model.weight, model.weight, atol=1e-14, rtol=0)
    torch.testing.assert_close(result.model.bias, model.bias, atol=1e-14, rtol=0)


@pytest.mark.parametrize(
    "change",
    [
        "model.l2=0.3",
        "optimizer.name=sgd",
        "optimizer.momentum=0.5",
        "seed=4",
        "data.test_fraction=0.3",
        "train.batch_size=32",
        "train.dtype=float32",
        "data.standardize=false",
        "model.init=uniform",
    ],
)
def test_a_resume_that_changes_what_the_run_computes_is_refused_naming_the_key(tmp_path, change):
    train(config("train.iterations=2"), tmp_path / "run")
    key = change.partition("=")[0]
    with pytest.raises(ConfigError, match=f"resume: {key} "):
        train(resumed_config(tmp_path / "run", change, "train.iterations=4"), tmp_path / "run", resume=True)


def test_a_resume_on_changed_data_is_refused_naming_the_file(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    train(config(f"data.path={data}", "train.iterations=2"), tmp_path / "run")
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(40)))
    with pytest.raises(ConfigError, match="resume: data.path is not the file"):
        train(resumed_config(tmp_path / "run", "train.iterations=4"), tmp_path / "run", resume=True)


def test_resuming_with_fewer_iterations_than_were_done_is_an_error(tmp_path, capsys):
    train(config("train.iterations=5"), tmp_path / "run")
    outcome = run_main(capsys, "--resume", tmp_path / "run", "train.iterations=3")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, "train.iterations=3", "5 iterations")


def test_the_command_line_may_change_the_keys_that_do_not_change_the_numbers(tmp_path, capsys):
    train(config("train.iterations=5"), tmp_path / "run")
    outcome = run_main(
        capsys,
        "--resume",
        tmp_path / "run",
        "train.iterations=8",
        "train.log_every=2",
        "train.print_cost=false",
        "train.tol=0.0",
        "optimizer.lr=0.25",
    )
    assert outcome.status == 0, outcome.err
    commands = (tmp_path / "run" / "command.txt").read_text().splitlines()
    assert len(commands) == 1 and "--resume" in commands[0]  # the Python run wrote none; the CLI's is kept


def test_every_command_of_a_run_is_kept(tmp_path, capsys):
    assert run_main(capsys, *CPU, "train.iterations=2", "--run-dir", tmp_path / "run").status == 0
    assert run_main(capsys, "--resume", tmp_path / "run", "train.iterations=4").status == 0
    commands = (tmp_path / "run" / "command.txt").read_text().splitlines()
    assert len(commands) == 2 and "--run-dir" in commands[0] and "--resume" in commands[1]


def test_a_resume_refuses_a_file_whose_labels_changed_at_the_same_size(tmp_path, capsys):
    """The issue's case: 542 of 6,000 labels flipped, the file's size unchanged.  A check that samples
    blocks misses it; the fingerprint hashes every byte."""
    from reliability_helpers import QUIET, assert_one_error_line, run_main

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 6)).round(3)
    y = (x[:, 0] > 0).astype(int)
    data = tmp_path / "rows.csv"

    def write(labels):
        lines = ["a,b,c,d,e,f,y"] + [
            ",".join(f"{v:.3f}" for v in r) + f",{label}" for r, label in zip(x, labels)
        ]
        data.write_text("\n".join(lines) + "\n")

    write(y)
    run = tmp_path / "run"
    done = run_main(
        capsys, f"data.path={data}", "data.target=y", "train.iterations=2", *QUIET, "--run-dir", run
    )
    assert done.status == 0, done.err
    size = data.stat().st_size
    flipped = y.copy()
    # labels in the middle of the file, away from the first, middle and last 64 KiB the old check read
    # rows whose bytes lie outside the first, middle and last 64 KiB, which the old check read
    starts = np.cumsum([0] + [len(line) + 1 for line in data.read_text().splitlines()])[
        1:-1
    ]  # row i's offset
    block, middle = 64 * 1024, (size - 64 * 1024) // 2
    unread = np.flatnonzero((starts > block) & (starts + 64 < middle))
    rows = rng.choice(unread, size=542, replace=False)
    flipped[rows] = 1 - flipped[rows]
    write(flipped)
    assert data.stat().st_size == size > 240_000
    done = run_main(capsys, "--resume", run, "train.iterations=4")
    assert done.status == 2
    assert_one_error_line(done.err, "data.path", "not the file the checkpoint was trained on")
