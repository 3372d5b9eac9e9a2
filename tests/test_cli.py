"""The command line's own wiring: flags and overrides in any order, its program name, its help, and the
predict and evaluate commands (with the inference functions replaced, so only the wiring is tested here)."""

from __future__ import annotations

import sys
import types

import pytest
from reliability_helpers import QUIET, assert_one_error_line, run_main

import torch_logreg.inference
import torch_logreg.training.trainer
from torch_logreg import cli
from torch_logreg.errors import DataError
from torch_logreg.training.config import config_keys_help, valid_keys


@pytest.fixture
def trained(monkeypatch):
    """Replace ``train`` with a recorder: what the command line would have trained, and where."""
    calls = []

    def fake_train(config, run_dir=None, **kwargs):
        calls.append(types.SimpleNamespace(config=config, run_dir=run_dir, **kwargs))
        return types.SimpleNamespace(run_dir=run_dir)

    monkeypatch.setattr(torch_logreg.training.trainer, "train", fake_train)
    return calls


def test_overrides_and_flags_may_be_interleaved(tmp_path, capsys, trained):
    config = tmp_path / "small.yaml"
    config.write_text("train:\n  iterations: 7\n")
    done = run_main(
        capsys,
        "optimizer.lr=0.1",
        "--run-dir",
        tmp_path / "run",
        "train.log_every=2",
        "--config",
        config,
        "seed=3",
        "--overwrite",
    )

    assert done.status == 0, done.err
    (call,) = trained
    assert (call.config.optimizer.lr, call.config.train.log_every, call.config.seed) == (0.1, 2, 3)
    assert call.config.train.iterations == 7 and call.config.name == "small"
    assert str(call.run_dir) == str(tmp_path / "run") and call.overwrite and not call.resume


def test_the_command_is_recorded_under_the_programs_own_name(tmp_path, capsys, trained):
    run_main(capsys, "--run-dir", tmp_path / "run", "seed=1")
    assert trained[0].command == ["train.py", "--run-dir", str(tmp_path / "run"), "seed=1"]
    cli.main(["seed=1"], prog="torch-logreg")
    assert trained[1].command == ["torch-logreg", "seed=1"]


@pytest.mark.parametrize(
    "argv0, prog",
    [
        ("/home/me/.venv/bin/torch-logreg", "torch-logreg"),
        ("train.py", "train.py"),
        ("/src/torch_logreg/train.py", "train.py"),
        ("-c", "train.py"),
    ],
)
def test_help_shows_the_program_by_the_name_it_was_started_as(monkeypatch, capsys, argv0, prog):
    monkeypatch.setattr(sys, "argv", [argv0, "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0].splitlines()
    assert usage[0].startswith(f"usage: {prog} [--config PATH]")
    assert usage[1].strip().startswith(f"{prog} predict --checkpoint RUN --data CSV")
    assert usage[2].strip().startswith(f"{prog} evaluate --checkpoint RUN --data LABELLED.csv")


def test_a_bad_flag_names_the_console_commands_help(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/usr/bin/torch-logreg", "--no-such-flag"])
    assert cli.main() == 2
    assert_one_error_line(
        capsys.readouterr().err, "unrecognized arguments: --no-such-flag", "(see torch-logreg --help)"
    )


def test_help_ends_with_every_config_key_from_the_schema(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert out.rstrip("\n").endswith(config_keys_help())
    listed = [line.split("=")[0].strip() for line in config_keys_help().splitlines()]
    assert listed == valid_keys()
    assert "  optimizer.lr=0.5  (> 0)" in out.splitlines()
    assert "  model.hidden=[4]  (a non-empty list of integers >= 1)" in out.splitlines()


def test_a_value_not_finite_in_the_dtype_exits_2_and_creates_nothing(tmp_path, capsys):
    done = run_main(capsys, "optimizer.lr=1e39", *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "optimizer.lr=1e+39", "not finite in train.dtype=float32")
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- predict


@pytest.fixture
def predicted(monkeypatch):
    calls = []

    def fake_predict_file(
        checkpoint, data_path, out_path=None, *, threshold=0.5, header=True, overwrite=False
    ):
        calls.append(
            dict(checkpoint=checkpoint, data=data_path, out=out_path, threshold=threshold, header=header)
        )
        return "prediction,p_M\nM,0.91\nB,0.12\nM,0.55\n"

    monkeypatch.setattr(torch_logreg.inference, "predict_file", fake_predict_file)
    return calls


def test_predict_with_out_says_how_many_rows_it_wrote_and_where(capsys, predicted):
    done = run_main(
        capsys, "predict", "--checkpoint", "run", "--data", "rows.csv", "--out", "predictions.csv"
    )
    assert done.status == 0, done.err
    assert done.out == "wrote 3 predictions to predictions.csv\n"
    assert predicted == [
        dict(checkpoint="run", data="rows.csv", out="predictions.csv", threshold=0.5, header=True)
    ]


def test_predict_without_out_writes_the_rows_to_standard_output(capsys, predicted):
    done = run_main(capsys, "predict", "--checkpoint", "run", "--data", "rows.csv")
    assert done.out == "prediction,p_M\nM,0.91\nB,0.12\nM,0.55\n"


def test_predict_passes_the_threshold_and_the_headerless_flag(capsys, predicted):
    done = run_main(
        capsys, "predict", "--checkpoint", "run", "--data", "rows.csv", "--threshold", "0.8", "--no-header"
    )
    assert done.status == 0, done.err
    assert (predicted[0]["threshold"], predicted[0]["header"]) == (0.8, False)


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "nan", "high"])
def test_predict_refuses_a_threshold_outside_0_to_1(capsys, predicted, threshold):
    done = run_main(capsys, "predict", "--checkpoint", "run", "--data", "rows.csv", "--threshold", threshold)
    assert done.status == 2
    assert_one_error_line(
        done.err, "--threshold", "a number in [0, 1]", repr(threshold), "train.py predict --help"
    )
    assert predicted == []


# ---------------------------------------------------------------- evaluate


@pytest.fixture
def evaluated(monkeypatch):
    calls = []

    def fake_evaluate_file(checkpoint, data_path, *, header=True):
        calls.append(dict(checkpoint=checkpoint, data=data_path, header=header))
        return {"accuracy": 0.9650349650349651, "auc": 0.99, "log_loss": 0.08123456789, "rows": 143}

    monkeypatch.setattr(torch_logreg.inference, "evaluate_file", fake_evaluate_file, raising=False)
    return calls


def test_evaluate_prints_one_name_value_line_per_metric(capsys, evaluated):
    done = run_main(capsys, "evaluate", "--checkpoint", "runs/x", "--data", "labelled.csv")
    assert done.status == 0, done.err
    assert done.out == "accuracy: 0.965035\nauc: 0.99\nlog_loss: 0.0812346\nrows: 143\n"
    assert evaluated == [dict(checkpoint="runs/x", data="labelled.csv", header=True)]


def test_evaluate_passes_the_headerless_flag(capsys, evaluated):
    run_main(capsys, "evaluate", "--checkpoint", "runs/x", "--data", "labelled.csv", "--no-header")
    assert evaluated[0]["header"] is False


def test_evaluate_without_its_flags_is_one_line(capsys, evaluated):
    done = run_main(capsys, "evaluate", "--data", "labelled.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "--checkpoint", "train.py evaluate --help")
    assert evaluated == []


def test_evaluate_on_bad_data_is_one_line_and_exit_2(monkeypatch, capsys):
    def bad_file(checkpoint, data_path, *, header=True):
        raise DataError(f"{data_path}: line 3: 'x' is not a number")

    monkeypatch.setattr(torch_logreg.inference, "evaluate_file", bad_file, raising=False)
    done = run_main(capsys, "evaluate", "--checkpoint", "runs/x", "--data", "labelled.csv")
    assert done.status == 2
    assert_one_error_line(done.err, "labelled.csv: line 3")
