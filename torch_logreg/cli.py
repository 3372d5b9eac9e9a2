"""The command line: ``train.py [--config PATH] [key=value ...]``, ``train.py predict`` and ``train.py evaluate``.

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
import math
import os
import sys

from .console import command_line_output, rank_prefix
from .errors import TrainingDiverged, UsageError, UserInputError

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_SIGINT = 130
DEFAULT_PROG = "train.py"

USAGE = """%(prog)s [--config PATH] [--run-dir DIR] [--resume DIR] [--overwrite] [--debug] [section.key=value ...]
       %(prog)s predict --checkpoint RUN --data CSV [--out CSV] [--threshold T] [--no-header]
       %(prog)s evaluate --checkpoint RUN --data LABELLED.csv [--no-header]"""


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
        command_line_output(stack)  # progress on stdout; warnings and errors on stderr
        return _run(argv, prog, debug)


def _run(argv: list[str], prog: str, debug: bool) -> int:
    try:
        if argv[:1] == ["predict"]:
            return _predict(argv[1:], prog)
        if argv[:1] == ["evaluate"]:
            return _evaluate(argv[1:], prog)
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


def _program_name(argv0: str) -> str:
    """``train.py`` or ``torch-logreg``, as started; ``python -c``/``-m`` fall back to train.py."""
    name = os.path.basename(argv0 or "")
    return DEFAULT_PROG if name in ("", "-c", "-m", "__main__.py") else name


def _fail(error, status: int) -> int:
    """Print ``error: <message>`` as exactly one line on stderr; return the exit status."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(lines)
    prefix = rank_prefix()  # under torchrun: whose error this is, once
    if prefix and not text.startswith(prefix):
        text = prefix + text
    sys.stderr.write(f"error: {text}\n")  # one write: the workers' lines do not interleave
    sys.stderr.flush()
    return status


def _train_parser(prog: str) -> argparse.ArgumentParser:
    from .training.config import config_keys_help

    parser = _Parser(
        prog=prog, usage=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Train logistic regression (or an MLP) as the config says.\n"
                    f"'{prog} predict --help' and '{prog} evaluate --help' for a trained model.",
        epilog="config keys, as section.key=value (default, allowed values); a --config YAML file sets the same "
               "keys as\nsection: {key: value}; the README's \"Config\" table says what each means:\n"
               + config_keys_help())
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="config overrides, e.g. optimizer.lr=0.1 train.iterations=500 train.device=cuda; "
                             "they may come before, between or after the flags")
    parser.add_argument("--config", metavar="PATH", default=None, help="YAML config (default: configs/default.yaml's values)")
    parser.add_argument("--run-dir", metavar="DIR", default=None, help="run folder (default: runs/<config name>-<timestamp>)")
    parser.add_argument("--resume", metavar="DIR", default=None, help="continue the run in DIR from its checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _train(argv: list[str], prog: str) -> int:
    from .checkpoint import load_checkpoint
    from .training.config import apply_overrides, config_from_dict, load_config
    from .errors import CheckpointError
    from .training.trainer import TrainingInterrupted, train

    args = _train_parser(prog).parse_intermixed_args(argv)
    if args.resume:
        if args.run_dir and args.run_dir != args.resume:
            raise UserInputError("--resume DIR continues the run in DIR; do not also give a different --run-dir")
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
        result = train(config, run_dir, resume=bool(args.resume), overwrite=args.overwrite, command=[prog, *argv],
                       checkpoint=checkpoint)
    except TrainingInterrupted as stop:
        print(f"stopped: {stop.command_line}", file=sys.stderr)
        return 128 + stop.signum
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the group
        print(f"run folder: {result.run_dir}")
    return 0


def _probability(text: str) -> float:
    from .data.numbers import is_number  # read as strictly as a CSV cell: no 0_5, no Unicode digits

    value = float(text) if is_number(text) else math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _model_parser(prog: str, description: str, data_help: str) -> _Parser:
    """The flags that predict and evaluate share: a trained model, a data file and its header."""
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("--checkpoint", metavar="RUN", required=True, help="a run folder or its checkpoint.pt")
    parser.add_argument("--data", metavar="FILE", required=True, help=data_help)
    parser.add_argument("--no-header", action="store_true",
                        help="the CSV has no header row: its columns are the training features, in order")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _predict(argv: list[str], prog: str) -> int:
    parser = _model_parser(f"{prog} predict", "Write the predicted label and the class probabilities for each row.",
                           "CSV (or .npy/.npz) of raw features; a label column is ignored")
    parser.add_argument("--out", metavar="CSV", default=None, help="output CSV (default: standard output)")
    parser.add_argument("--threshold", metavar="T", type=_probability, default=0.5,
                        help="binary models: predict the positive class when its probability is at least this "
                             "(default 0.5)")
    args = parser.parse_args(argv)
    from .inference import predict_file

    text = predict_file(args.checkpoint, args.data, args.out, threshold=args.threshold, header=not args.no_header)
    if args.out is None:
        sys.stdout.write(text)
    else:
        rows = max(len(text.splitlines()) - 1, 0)  # less the header line
        print(f"wrote {rows} predictions to {args.out}")
    return 0


def _evaluate(argv: list[str], prog: str) -> int:
    parser = _model_parser(f"{prog} evaluate", "Print the metrics of a trained model on a labelled file.",
                           "CSV (or .npy/.npz) of raw features and the label column")
    args = parser.parse_args(argv)
    from .inference import evaluate_file

    metrics = evaluate_file(args.checkpoint, args.data, header=not args.no_header)
    for name, value in metrics.items():
        print(f"{name}: {value:.6g}" if isinstance(value, float) else f"{name}: {value}")
    return 0
