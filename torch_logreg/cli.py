"""The command line: ``train.py [--config PATH] [key=value ...]``, ``predict``, ``evaluate``, ``art``.

The program calls itself by the name it was started as: ``train.py``, or the
installed console command ``torch-logreg``.

A problem the user can fix (bad data, config, flags, paths or checkpoint) prints
one line, ``error: ...``, on stderr and exits with status 2; a diverged run exits
with 3 after keeping its last good checkpoint; ``--debug`` shows the traceback
instead. An interrupted run exits 128 + the signal number (130 for SIGINT, 143
for SIGTERM) after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import warnings

from .errors import TorchLogregWarning, TrainingDiverged, UsageError, UserInputError

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_SIGINT = 130
DEFAULT_PROG = "train.py"

USAGE = """\
%(prog)s [--config PATH] [--run-dir DIR] [--resume DIR] [--overwrite] [--debug] [section.key=value ...]
       %(prog)s predict --checkpoint RUN --data CSV [--out CSV [--overwrite]] [--threshold T] [--no-header]
       %(prog)s evaluate --checkpoint RUN --data LABELLED.csv [--no-header]
       %(prog)s evaluate --checkpoint RUN --split test|train
       %(prog)s art [--style STYLE] [--content CONTENT] [--run-dir RUN] [--resume] [art.key=value ...]"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is a UsageError: one ``error:`` line like every other bad input."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command line.  ``prog`` names the program in help and errors: by default the
    basename of ``sys.argv[0]`` when ``argv`` comes from it, else ``train.py``."""
    prog = prog or (_program_name(sys.argv[0]) if argv is None else DEFAULT_PROG)
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    with contextlib.ExitStack() as stack:
        stack.callback(_restore_root_logger, logging.getLogger().handlers[:], logging.getLogger().level)
        _console_streams()
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("always", TorchLogregWarning)  # the run says each of its warnings once already
        warnings.showwarning = _show_warning
        return _run(argv, prog, debug)


def _console_streams() -> None:
    """Progress and results (INFO) on stdout; warnings and errors on stderr, where scripts expect them."""
    progress = logging.StreamHandler(sys.stdout)
    progress.addFilter(lambda record: record.levelno < logging.WARNING)
    problems = logging.StreamHandler(sys.stderr)
    problems.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[progress, problems], force=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A project warning is one ``warning: ...`` line on stderr; any other keeps Python's own form."""
    if issubclass(category, TorchLogregWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _restore_root_logger(handlers, level) -> None:
    """Give a caller of ``main`` in the same process its logging back (a test, a notebook)."""
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)


def _run(argv: list[str], prog: str, debug: bool) -> int:
    try:
        if argv[:1] == ["predict"]:
            return _predict(argv[1:], prog)
        if argv[:1] == ["evaluate"]:
            return _evaluate(argv[1:], prog)
        if argv[:1] == ["art"]:
            return _art(argv[1:], prog)
        return _train(argv, prog)
    except UserInputError as error:
        if debug:
            raise
        # An error may word itself for the command line: --resume where Python says resume=True.
        return _fail(getattr(error, "command_line", None) or error, EXIT_USAGE)
    except OSError as error:  # a path that cannot be read or written: permissions, a full disk
        if debug:
            raise
        return _fail(f"{error.filename}: {error.strerror}" if error.filename else error, EXIT_USAGE)
    except TrainingDiverged as error:
        if debug:
            raise
        return _fail(error, EXIT_DIVERGED)
    except KeyboardInterrupt:  # before training started, or a second Ctrl-C
        if debug:
            raise
        return _fail("interrupted", EXIT_SIGINT)


def _art(argv: list[str], prog: str) -> int:
    from .art.command import art_main
    from .art.run import ArtInterrupted

    try:
        return art_main(argv, prog, _Parser)
    except ArtInterrupted as stop:
        print(f"stopped: {stop.command_line}", file=sys.stderr)
        return 128 + stop.signum


def _program_name(argv0: str) -> str:
    """``train.py`` or ``torch-logreg``, as started; ``python -c``/``-m`` fall back to train.py."""
    name = os.path.basename(argv0 or "")
    return DEFAULT_PROG if name in ("", "-c", "-m", "__main__.py") else name


def _fail(error, status: int) -> int:
    """Print ``error: <message>`` as exactly one line on stderr; return the exit status."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(lines)
    if (
        int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ
    ):  # torchrun: whose error, once
        prefix = f"rank {os.environ['RANK']}: "
        text = text if text.startswith(prefix) else prefix + text
    sys.stderr.write(f"error: {text}\n")  # one write: the workers' lines do not interleave
    sys.stderr.flush()
    return status


def _train_parser(prog: str) -> argparse.ArgumentParser:
    from .training.config import config_keys_help

    parser = _Parser(
        prog=prog,
        usage=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Train logistic regression (or an MLP) as the config says.\n"
        f"'{prog} predict --help' and '{prog} evaluate --help' for a trained model.",
        epilog="config keys, as section.key=value (default, allowed values); a --config YAML file sets "
        'the same keys as\nsection: {key: value}; the README\'s "Config" table says what each means:\n'
        + config_keys_help(),
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="section.key=value",
        help="config overrides, e.g. optimizer.lr=0.1 train.iterations=500 train.device=cuda; "
        "they may come before, between or after the flags",
    )
    parser.add_argument(
        "--config", metavar="PATH", default=None, help="YAML config (default: configs/default.yaml's values)"
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        default=None,
        help="run folder (default: runs/<config file or data-model>-<timestamp>)",
    )
    parser.add_argument(
        "--resume", metavar="DIR", default=None, help="continue the run in DIR from its checkpoint"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _train(argv: list[str], prog: str) -> int:
    from .checkpoint import load_checkpoint
    from .errors import CheckpointError
    from .training.config import apply_overrides, config_from_dict, load_config
    from .training.trainer import TrainingInterrupted, train

    args = _train_parser(prog).parse_intermixed_args(argv)
    if args.resume:
        if args.run_dir and args.run_dir != args.resume:
            raise UserInputError(
                "--resume DIR continues the run in DIR; do not also give a different --run-dir"
            )
        checkpoint = load_checkpoint(args.resume)  # read once: the trainer resumes from this same state
        saved = checkpoint.get("config")
        if not isinstance(saved, dict):
            raise CheckpointError(f"{args.resume}: the checkpoint holds no config to resume with")
        config = config_from_dict(saved)
        apply_overrides(config, args.overrides)
        run_dir = args.resume
    else:
        checkpoint = None
        config = load_config(args.config, args.overrides)
        run_dir = args.run_dir
    try:
        result = train(
            config,
            run_dir,
            resume=bool(args.resume),
            overwrite=args.overwrite,
            command=[prog, *argv],
            checkpoint=checkpoint,
        )
    except TrainingInterrupted as stop:
        print(f"stopped: {stop.command_line}", file=sys.stderr)
        return 128 + stop.signum
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the group
        print(f"run folder: {result.run_dir}")
    return 0


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _model_parser(prog: str, description: str, data_help: str, data_required: bool = True) -> _Parser:
    """The flags that predict and evaluate share: a trained model, a data file and its header."""
    parser = _Parser(prog=prog, description=description)
    parser.add_argument(
        "--checkpoint", metavar="RUN", required=True, help="a run folder or its checkpoint.pt"
    )
    parser.add_argument("--data", metavar="FILE", required=data_required, help=data_help)
    parser.add_argument(
        "--no-header",
        action="store_true",
        help="the CSV has no header row: its columns are the training features, in order",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _predict(argv: list[str], prog: str) -> int:
    parser = _model_parser(
        f"{prog} predict",
        "Write the predicted label and the class probabilities for each row.",
        "CSV (or .npy/.npz) of raw features; a label column is ignored",
    )
    parser.add_argument("--out", metavar="CSV", default=None, help="output CSV (default: standard output)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (never a run folder's own files)"
    )
    parser.add_argument(
        "--threshold",
        metavar="T",
        type=_probability,
        default=0.5,
        help="binary models: predict the positive class when its probability is at least this (default 0.5)",
    )
    args = parser.parse_args(argv)
    from .inference import predict_file

    text = predict_file(
        args.checkpoint,
        args.data,
        args.out,
        threshold=args.threshold,
        header=not args.no_header,
        overwrite=args.overwrite,
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        rows = max(len(text.splitlines()) - 1, 0)  # less the header line
        print(f"wrote {rows} predictions to {args.out}")
    return 0


def _evaluate(argv: list[str], prog: str) -> int:
    parser = _model_parser(
        f"{prog} evaluate",
        "Print the metrics of a trained model on a labelled file, or on "
        "its run's own held-out rows (--split test).",
        "CSV (or .npy/.npz) of raw features and the label column",
        data_required=False,
    )
    parser.add_argument(
        "--split",
        choices=("test", "train"),
        default=None,
        help="score the run's own test (held-out) or training rows, rebuilt from its config and seed",
    )
    args = parser.parse_args(argv)
    if (args.data is None) == (args.split is None):
        raise UsageError("evaluate takes --data FILE or --split test|train (one of them)")
    from .inference import evaluate_file, evaluate_split

    metrics = (
        evaluate_split(args.checkpoint, args.split)
        if args.split
        else evaluate_file(args.checkpoint, args.data, header=not args.no_header)
    )
    from .training.metrics import undefined_reason

    for name, value in metrics.items():  # a NaN is said as what it is: no value, and why
        shown = undefined_reason(name, value) if isinstance(value, float) and math.isnan(value) else None
        print(f"{name}: {shown or (f'{value:.6g}' if isinstance(value, float) else value)}")
    return 0
