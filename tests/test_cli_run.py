"""`python train.py` end to end: the run folder, TensorBoard, predict, and every shipped config."""

import csv
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from torch_logreg.data import load_breast_cancer
from torch_logreg.inference import load_model
from torch_logreg.training.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "train.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("default") / "run"
    done = run_cli("--run-dir", run_dir)
    assert done.returncode == 0, done.stderr
    return run_dir, done


def test_default_run_reaches_95_percent_and_prints_the_document_lines(default_run):
    run_dir, done = default_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95 and metrics["iterations"] == 2000
    lines = done.stdout.splitlines()
    assert "Cost after iteration 0: 0.693147" in lines
    assert sum(line.startswith("Cost after iteration") for line in lines) == 21  # 0, 100, ..., 2000
    assert any(
        re.fullmatch(r"test accuracy: 9\d\.\d\d % \(auc 0\.9\d+, f1 0\.9\d+, log_loss 0\.\d+\)", line)
        for line in lines
    )
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "config.yaml").is_file()


def test_event_files_hold_one_run_with_every_dashboard_series(default_run):
    run_dir, _ = default_run
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert not [p for p in run_dir.iterdir() if p.is_dir()]  # no stray hparams run folders

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0}).Reload()
    cost = events.Scalars("1_cost/train")
    assert [e.step for e in cost] == list(range(0, 2001, 100))
    assert cost[-1].value < cost[len(cost) // 2].value < cost[0].value
    tags = events.Tags()
    for tag in (
        "1_cost/test",
        "2_accuracy/train",
        "2_accuracy/test",
        "train/learning_rate",
        "train/grad_norm",
        "weights/bias",
        "test/auc",
        "test/f1",
        "train/log_loss",
    ):
        assert tag in tags["scalars"], tag
    assert not [tag for tag in tags["scalars"] if tag.startswith(("hparams/", "val/"))]  # no one-dot charts
    assert "weights/weight" in tags["histograms"] and "weights/bias" not in tags["histograms"]
    assert "test/pr_curve" in tags["tensors"]
    assert "test/confusion_matrix" in tags["images"]
    hparams = set(events.PluginTagToContent("hparams"))
    assert {"_hparams_/session_start_info", "_hparams_/session_end_info"} <= hparams
    assert "_hparams_/experiment" not in hparams  # TensorBoard builds the table from every run's session


def test_tensorboard_serves_the_cost_series_over_http(default_run):
    run_dir, _ = default_run
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(run_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast=false",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            url = found.group(1) if found else None
        assert url, "tensorboard did not start"
        query = urllib.parse.urlencode({"run": ".", "tag": "1_cost/train"})
        series = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"{url}/data/plugin/scalars/scalars?{query}", timeout=5
                ) as response:
                    series = json.load(response)
                break
            except Exception:
                time.sleep(0.5)  # the first load of the logdir is still under way
        assert series is not None
        assert [step for _, step, _ in series] == list(range(0, 2001, 100))
        expected = [e.value for e in EventAccumulator(str(run_dir)).Reload().Scalars("1_cost/train")]
        assert [value for _, _, value in series] == pytest.approx(expected)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_predict_writes_probabilities_and_labels_for_raw_rows(default_run, tmp_path):
    run_dir, _ = default_run
    csv_path = ROOT / "torch_logreg" / "data" / "datasets" / "breast_cancer.csv"
    out = tmp_path / "predictions.csv"

    done = run_cli("predict", "--checkpoint", run_dir, "--data", csv_path, "--out", out)

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    raw_x, y, _ = load_breast_cancer()
    expected = load_model(run_dir).predict_proba(raw_x)
    assert len(rows) == 569
    assert [float(r[next(k for k in r if k.startswith("p_"))]) for r in rows] == pytest.approx(
        expected.tolist(), abs=1e-9
    )
    assert [int(r["prediction"]) for r in rows] == (expected > 0.5).int().tolist()
    accuracy = sum(int(r["prediction"]) == t for r, t in zip(rows, y.int().tolist())) / 569
    assert accuracy > 0.95


def test_two_feature_config_draws_the_decision_boundary(tmp_path):
    done = run_cli(
        "--config",
        ROOT / "configs" / "two_features.yaml",
        "--run-dir",
        tmp_path / "run",
        "train.iterations=200",
        "train.print_cost=false",
    )
    assert done.returncode == 0, done.stderr
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    image = events.Images("test/decision_boundary")[-1]
    assert image.width >= 256 and image.height >= 256


def test_user_csv_config_trains(tmp_path):
    done = run_cli("--config", ROOT / "configs" / "csv_file.yaml", "--run-dir", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_accuracy"] > 0.7


def test_resume_from_the_command_line_extends_a_run(tmp_path):
    run = tmp_path / "run"
    assert run_cli("--run-dir", run, "train.iterations=150", "train.print_cost=false").returncode == 0
    done = run_cli("--resume", run, "train.iterations=300")
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "metrics.json").read_text())["iterations"] == 300
    whole = run_cli("--run-dir", tmp_path / "whole", "train.iterations=300", "train.print_cost=false")
    assert whole.returncode == 0
    assert torch.equal(load_model(run).model.weight, load_model(tmp_path / "whole").model.weight)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.name == path.stem


def test_overrides_are_typed_by_the_field():
    config = load_config(
        None,
        [
            "train.iterations=7",
            "optimizer.lr=1e-3",
            "train.print_cost=no",
            "data.target=label",
            "train.batch_size=null",
            "model.l2=2",
        ],
    )
    assert config.train.iterations == 7 and config.optimizer.lr == 1e-3 and config.train.print_cost is False
    assert config.data.target == "label" and config.train.batch_size is None
    assert config.model.l2 == 2.0 and isinstance(config.model.l2, float)


@pytest.mark.parametrize(
    "override, named", [("optimizer.lrr=0.1", "optimizer.lrr"), ("train.iterations=ten", "train.iterations")]
)
def test_bad_keys_and_types_are_rejected_by_name(override, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        load_config(None, [override])


def test_default_yaml_pins_exactly_the_built_in_defaults():
    # `python train.py` without --config uses the built-in defaults; configs/default.yaml
    # states the same document's run, so the two never drift apart.
    from_file = load_config(ROOT / "configs" / "default.yaml").to_dict()
    built_in = load_config(None).to_dict()
    assert from_file == built_in
