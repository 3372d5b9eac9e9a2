"""The command line: ``train.py [--config PATH] [key=value ...]`` and ``train.py predict``.

A problem the user can fix (bad data, config, flags, paths or checkpoint) prints
one line, ``error: ...``, on stderr and exits with status 2; a diverged run exits
with 3 after keeping its last good checkpoint; ``--debug`` shows the traceback
instead. An interrupted run exits 128 + the signal number (130 for SIGINT, 143
for SIGTERM) after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import CheckpointError, TrainingDiverged, UsageError, UserInputError

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_SIGINT = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is a UsageError: one ``error:`` line like every other bad input."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    try:
        if argv[:1] == ["predict"]:
            return _predict(argv[1:])
        return _train(argv)
    except UserInputError as error:
        if debug:
            raise
        return _fail(error, EXIT_USAGE)
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


def _fail(error, status: int) -> int:
    """Print ``error: <message>`` as exactly one line on stderr; return the exit status."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    print(f"error: {'; '.join(lines)}", file=sys.stderr)
    return status


def _train_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="train.py", description="Train the one-neuron logistic regression. "
        "'train.py predict --help' for predictions.")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="config overrides, e.g. optimizer.lr=0.1 train.iterations=500 train.device=cuda")
    parser.add_argument("--config", default=None, help="YAML config (default: configs/default.yaml's values)")
    parser.add_argument("--run-dir", default=None, help="run folder (default: runs/<config name>-<timestamp>)")
    parser.add_argument("--resume", metavar="DIR", default=None, help="continue the run in DIR from its checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _train(argv: list[str]) -> int:
    from .checkpoint import load_checkpoint
    from .config import apply_overrides, config_from_dict, load_config
    from .trainer import TrainingInterrupted, train

    args = _train_parser().parse_args(argv)
    if args.resume:
        if args.run_dir and args.run_dir != args.resume:
            raise UserInputError("--resume DIR continues the run in DIR; do not also give a different --run-dir")
        saved = load_checkpoint(args.resume).get("config")
        if not isinstance(saved, dict):
            raise CheckpointError(f"{args.resume}: the checkpoint holds no config to resume with")
        config = config_from_dict(saved)
        apply_overrides(config, args.overrides)
        run_dir = args.resume
    else:
        config = load_config(args.config, args.overrides)
        run_dir = args.run_dir
    try:
        result = train(config, run_dir, resume=bool(args.resume), overwrite=args.overwrite,
                       command=["train.py", *argv])
    except TrainingInterrupted as stop:
        print(f"stopped: {stop}", file=sys.stderr)
        return 128 + stop.signum
    print(f"run folder: {result.run_dir}")
    return 0


def _predict(argv: list[str]) -> int:
    from .inference import predict_file

    parser = _Parser(prog="train.py predict",
                                     description="Write probability and 0/1 prediction for each row of a CSV.")
    parser.add_argument("--checkpoint", required=True, help="a run folder or its checkpoint.pt")
    parser.add_argument("--data", required=True, help="CSV (or .npy/.npz) of raw features; a label column is ignored")
    parser.add_argument("--out", default=None, help="output CSV (default: standard output)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    text = predict_file(args.checkpoint, args.data, args.out)
    if args.out is None:
        sys.stdout.write(text)
    return 0
