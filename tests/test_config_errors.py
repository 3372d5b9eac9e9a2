"""A bad config key or value gets one line naming the key, and exit status 2, wherever it comes from:
an override, a YAML file, or an attribute set in Python (which raises ValueError or TypeError)."""

from __future__ import annotations

import pytest
import torch
from reliability_helpers import QUIET, assert_one_error_line, run_main, run_script

from torch_logreg.errors import ConfigError, ConfigTypeError
from torch_logreg.training.config import Config, load_config
from torch_logreg.training.trainer import train

# (override, what the one error line must name)
BAD_OVERRIDES = [
    (
        "optimizer.lrr=0.1",
        ["'optimizer.lrr'", "did you mean optimizer.lr?", "optimizer keys: name, lr, momentum"],
    ),
    ("optimiser.lr=0.1", ["'optimiser.lr'", "did you mean optimizer.lr?"]),
    ("train.iteration=5", ["'train.iteration'", "did you mean train.iterations?"]),
    ("optimizer.lr", ["'optimizer.lr'", "must look like section.key=value"]),
    ("=0.1", ["'=0.1'", "must look like section.key=value"]),
    ("optimizer.lr=fast", ["optimizer.lr", "must be a number", "'fast'"]),
    ("train.iterations=1.5", ["train.iterations", "must be an integer", "'1.5'"]),
    ("train.print_cost=maybe", ["train.print_cost", "true or false"]),
    ("optimizer.lr=0", ["optimizer.lr", "must be > 0", "0.0"]),
    ("optimizer.lr=-1", ["optimizer.lr", "must be > 0", "-1.0"]),
    ("optimizer.lr=nan", ["optimizer.lr", "must be a finite number"]),
    ("optimizer.lr=inf", ["optimizer.lr", "must be a finite number"]),
    ("train.iterations=-1", ["train.iterations", "must be >= 0", "-1"]),
    ("optimizer.hessian_rows=-5", ["optimizer.hessian_rows", ">= 0 (0: every row)", "-5"]),
    ("optimizer.hessian_rows=0.5", ["optimizer.hessian_rows", "int"]),
    ("data.test_fraction=0", ["data.test_fraction", "in (0, 1)"]),
    ("data.test_fraction=1", ["data.test_fraction", "in (0, 1)"]),
    ("data.test_fraction=1.5", ["data.test_fraction", "in (0, 1)"]),
    ("train.batch_size=0", ["train.batch_size", ">= 1"]),
    ("train.batch_size=-8", ["train.batch_size", ">= 1"]),
    ("train.log_every=0", ["train.log_every", ">= 1"]),
    ("optimizer.name=rmsprop", ["optimizer.name", "gd, sgd, adam, lbfgs, newton", "'rmsprop'"]),
    ("train.device=tpu", ["train.device", "auto, cpu, cuda or cuda:N", "'tpu'"]),
    ("train.device=cuda:x", ["train.device", "'cuda:x'"]),
    ("train.dtype=float16", ["train.dtype", "float32, float64"]),
    ("seed=-1", ["seed", "[0, 2**32)"]),
    ("data.labels={M: 1, B: '0'}", ["data.labels", "class values", "all of one kind"]),
    ("data.labels={}", ["data.labels", "a mapping of labels to class values"]),
    ("data.labels=[M, B]", ["data.labels", "a mapping"]),
]


@pytest.mark.parametrize("override, named", BAD_OVERRIDES, ids=[case[0] for case in BAD_OVERRIDES])
def test_a_bad_override_is_one_error_line_and_exit_2(tmp_path, capsys, override, named):
    done = run_main(capsys, override, *QUIET, "--run-dir", tmp_path / "run")

    assert done.status == 2
    message = assert_one_error_line(done.err, *named)
    assert not (tmp_path / "run").exists()
    # The Python API raises the same words, as a ValueError (TypeError too, for a wrong type).
    with pytest.raises(ConfigError) as raised:
        load_config(None, [override])
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == message


def test_a_wrong_type_is_also_a_type_error():
    with pytest.raises(TypeError, match="optimizer.lr must be a number, got 'fast'"):
        load_config(None, ["optimizer.lr=fast"])


@pytest.mark.parametrize(
    "section, key, value, error, named",
    [
        ("optimizer", "lr", -1, ConfigError, "config: optimizer.lr must be > 0, got -1.0"),
        (
            "optimizer",
            "lr",
            "fast",
            ConfigTypeError,
            "config: optimizer.lr must be a number, got 'fast' (str)",
        ),
        (
            "optimizer",
            "lrr",
            0.1,
            ConfigError,
            "config: unknown key 'optimizer.lrr' (did you mean optimizer.lr?)",
        ),
        ("train", "iterations", -5, ConfigError, "config: train.iterations must be >= 0, got -5"),
        ("train", "batch_size", 0, ConfigError, "config: train.batch_size must be >= 1"),
        ("data", "test_fraction", 1.0, ConfigError, "config: data.test_fraction must be in (0, 1), got 1.0"),
        ("train", "device", "tpu", ConfigError, "config: train.device must be auto, cpu, cuda or cuda:N"),
    ],
)
def test_setting_a_bad_value_in_python_raises_at_once(section, key, value, error, named):
    config = Config()
    with pytest.raises(error) as raised:
        setattr(getattr(config, section), key, value)
    assert str(raised.value).startswith(named)
    assert getattr(getattr(config, section), key, None) == getattr(getattr(Config(), section), key, None)


def test_python_values_of_the_right_kind_are_taken(tmp_path):
    import numpy as np

    config = Config()
    config.data.path = tmp_path / "x.csv"  # a Path for a str field
    config.optimizer.lr = 1  # an int for a float field
    config.train.iterations = np.int64(7)
    assert config.data.path == str(tmp_path / "x.csv")
    assert config.optimizer.lr == 1.0 and isinstance(config.optimizer.lr, float)
    assert config.train.iterations == 7 and type(config.train.iterations) is int


# ---------------------------------------------------------------- YAML files


def write_config(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, named",
    [
        ("optimizer:\n  lrr: 0.1\n", ["run.yaml", "'optimizer.lrr'", "did you mean optimizer.lr?"]),
        ("optimiser:\n  lr: 0.1\n", ["run.yaml", "'optimiser'", "did you mean optimizer?"]),
        ("train:\n  iterations: ten\n", ["run.yaml", "train.iterations", "an integer", "'ten'"]),
        ("optimizer:\n  lr: [0.1]\n", ["run.yaml", "optimizer.lr", "a number"]),
        ("optimizer:\n  lr: -0.5\n", ["run.yaml", "optimizer.lr", "> 0"]),
        ("train: 5\n", ["run.yaml", "train must be a mapping"]),
        ("- a\n- b\n", ["run.yaml", "expected a mapping of sections, got list"]),
        ("train:\n  iterations: [1\n", ["run.yaml", "not a plain YAML config"]),
    ],
)
def test_a_bad_config_file_is_one_error_line(tmp_path, capsys, text, named):
    path = write_config(tmp_path, text)
    done = run_main(capsys, "--config", path, *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    message = assert_one_error_line(done.err, *named)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == message


def test_a_missing_or_undecodable_config_file_is_named(tmp_path, capsys):
    done = run_main(capsys, "--config", tmp_path / "nope.yaml", *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "nope.yaml", "no such config file")
    (tmp_path / "utf16.yaml").write_bytes("train:\n  iterations: 5\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="utf16.yaml: not a UTF-8 text file"):
        load_config(tmp_path / "utf16.yaml")


def test_yaml_numbers_in_exponent_form_are_numbers(tmp_path):
    # PyYAML reads 1e-3 as a string; a float field takes it as the number a user meant.
    config = load_config(write_config(tmp_path, "optimizer:\n  lr: 1e-3\ntrain:\n  tol: 1E-8\n"))
    assert config.optimizer.lr == 1e-3 and config.train.tol == 1e-8


def test_an_empty_section_changes_nothing(tmp_path):
    assert load_config(write_config(tmp_path, "train:\n  # iterations: 5\n")).train == Config().train


# ---------------------------------------------------------------- unsafe YAML


@pytest.mark.parametrize(
    "template",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        'train:\n  iterations: !!python/object/apply:os.system ["touch {marker}"]\n',
        'data:\n  labels: !!python/object/new:os.system ["touch {marker}"]\n',
    ],
)
def test_a_yaml_python_tag_is_refused_and_never_runs(tmp_path, capsys, template):
    marker = tmp_path / "pwned"
    path = write_config(tmp_path, template.format(marker=marker), name="evil.yaml")

    with pytest.raises(ConfigError, match="evil.yaml: line [12]: not a plain YAML config"):
        load_config(path)
    done = run_main(capsys, "--config", path, *QUIET, "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "evil.yaml", "not a plain YAML config", "python/object")
    assert not marker.exists()


def test_a_python_tag_in_an_override_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ConfigTypeError, match="data.labels must be a mapping"):
        load_config(None, [f'data.labels=!!python/object/apply:os.system ["touch {marker}"]'])
    assert not marker.exists()


def test_the_script_refuses_a_python_tag_config(tmp_path):
    marker = tmp_path / "pwned"
    path = write_config(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n', name="evil.yaml")
    done = run_script("--config", path, "--run-dir", tmp_path / "run")
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "evil.yaml", "not a plain YAML config")
    assert not marker.exists() and not (tmp_path / "run").exists()


# ---------------------------------------------------------------- devices and flags


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_an_error_not_a_silent_cpu_run(tmp_path, capsys, device):
    done = run_main(capsys, f"train.device={device}", "train.print_cost=false", "--run-dir", tmp_path / "run")
    assert done.status == 2
    message = assert_one_error_line(done.err, f"train.device={device}", "no CUDA GPU is available")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError) as raised:
        train(load_config(None, [f"train.device={device}"]), tmp_path / "api_run")
    assert str(raised.value) == message


def test_device_auto_falls_back_to_the_cpu(tmp_path):
    result = train(
        load_config(None, ["train.device=auto", "train.iterations=2", "train.print_cost=false"]),
        tmp_path / "run",
    )
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert result.metrics["device"].startswith(expected)


@pytest.mark.parametrize(
    "args, named",
    [
        (["--no-such-flag"], ["unrecognized arguments: --no-such-flag", "train.py --help"]),
        (["--resume"], ["--resume", "expected one argument"]),
        (["predict", "--checkpoint", "x"], ["--data", "train.py predict --help"]),
    ],
)
def test_a_bad_flag_is_one_error_line(capsys, args, named):
    done = run_main(capsys, *args)
    assert done.status == 2
    assert_one_error_line(done.err, *named)
