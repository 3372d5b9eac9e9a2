"""The command line: ``train.py [--config PATH] [key=value ...]`` and ``train.py predict``.

A problem the user can fix prints one line on stderr and exits with status 2
(``--debug`` shows the traceback); an interrupted run exits 128 + the signal
number (130 for SIGINT, 143 for SIGTERM) after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import TrainingDiverged, UserInputError

EXIT_USAGE = 2
EXIT_DIVERGED = 3


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
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DIVERGED


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        config = config_from_dict(load_checkpoint(args.resume)["config"])
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

    parser = argparse.ArgumentParser(prog="train.py predict",
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
