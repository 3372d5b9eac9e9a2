"""Benchmarks of torch_logreg, side by side in one process: ``python -m benchmarks.run``.

    python -m benchmarks.run [--quick] [--device cpu|cuda] [--out DIR] [--sections step,loop,mlp,solve]

Sections (see each module's docstring for what exactly is timed):

* ``step``  (step_time.py): one gradient-descent step, NumPy / autograd / hand-written /
  plain whole-X ops / the trainer's step / CUDA graph / fused Triton kernel, against one read of X;
* ``loop``  (loop_time.py): ``train()``'s marginal time per iteration against a plain
  autograd loop (logistic regression);
* ``mlp``   (mlp_time.py): the same for the MLP against nn.Sequential + SGD;
* ``solve`` (solve_time.py): time to an objective within 1e-8 of the optimum against
  scikit-learn (newton-cholesky, lbfgs) and statsmodels.

Writes ``<out>/<cpu|cuda>-<processor or GPU>-<host>-<date>-<time>[-quick].json`` and ``.md``
after each section, so a run cut short keeps what it measured.  ``<out>`` defaults to
``benchmarks/results/local/``, which git ignores; the results the README quotes are
written with ``--out benchmarks/results``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from . import loop_time, machine, mlp_time, report, solve_time, step_time
from .mlp_time import FLOWER, Net
from .problems import DEFAULT, Size

SECTIONS = ("step", "loop", "mlp", "solve")
LOCAL_RESULTS = Path("benchmarks/results/local")  # git-ignored: a user's own runs

MLP_MEDIUM, MLP_LARGE = Net(100_000, 100, 256, 2), Net(100_000, 784, 512, 10)

# step: sizes; loop: (size, (N1, N2), repeats); mlp: (net, (N1, N2), repeats, log_every)
PLANS = {
    ("cpu", False): {
        "step": [
            DEFAULT,
            Size(10_000, 100),
            Size(100_000, 100),
            Size(1_000_000, 2),
            Size(1_000_000, 128),
            Size(2_000_000, 128),
        ],
        "loop": [
            (DEFAULT, (200, 2200), 5),
            (Size(100_000, 100), (100, 500), 3),
            (Size(1_000_000, 128), (100, 200), 2),
            (Size(2_000_000, 128), (100, 200), 1),
        ],
        "mlp": [(FLOWER, (200, 2200), 5, 100), (MLP_MEDIUM, (5, 15), 3, 1000), (MLP_LARGE, (1, 4), 2, 1000)],
    },
    ("cpu", True): {
        "step": [DEFAULT, Size(20_000, 32), Size(200_000, 2)],
        "loop": [(DEFAULT, (200, 1200), 2)],
        "mlp": [(FLOWER, (100, 600), 2, 100)],
    },
    ("cuda", False): {
        "step": [
            DEFAULT,
            Size(100_000, 100),
            Size(1_000_000, 2),
            Size(1_000_000, 128),
            Size(10_000_000, 128),
        ],
        "loop": [
            (DEFAULT, (200, 2200), 3),
            (Size(100_000, 100), (200, 1200), 2),
            (Size(1_000_000, 128), (200, 1200), 1),
        ],
        "mlp": [
            (FLOWER, (200, 2200), 3, 100),
            (MLP_MEDIUM, (100, 600), 2, 100),
            (MLP_LARGE, (100, 300), 2, 100),
        ],
    },
    ("cuda", True): {
        "step": [DEFAULT, Size(100_000, 100)],
        "loop": [(DEFAULT, (200, 1200), 2)],
        "mlp": [(FLOWER, (200, 1200), 2, 100)],
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes only: a smoke check in under a minute"
    )
    parser.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda"), help="where our methods run (default cpu)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=LOCAL_RESULTS,
        help=f"folder for the .json and .md (default {LOCAL_RESULTS}/, which git ignores)",
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is available")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    info = machine.describe(args.device)
    stem = machine.result_stem(info, args.quick)
    plan = PLANS[(args.device, args.quick)]
    repeats = 3 if args.quick else 7
    min_seconds = 0.02 if args.quick else 0.05
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {
        "machine": info,
        "run": {
            "command": command.strip(),
            "device": args.device,
            "quick": args.quick,
            "seconds": 0.0,
            "timing": "warm-up, then the median of interleaved repeats; "
            "CUDA: events around calls; CPU: perf_counter",
        },
        "sections": {},
    }
    runners = {
        "step": lambda: step_time.run(
            plan["step"], args.device, repeats, min_seconds, log, child_numpy=args.device == "cpu"
        ),
        "loop": lambda: loop_time.run(plan["loop"], args.device, log),
        "mlp": lambda: mlp_time.run(plan["mlp"], args.device, log),
        "solve": lambda: solve_time.run(args.device, args.quick, 3 if args.quick else 5, log),
    }
    for name in args.sections:
        section_started = time.perf_counter()
        try:
            result["sections"][name] = runners[name]()
        except Exception as error:  # keep the other sections
            log(f"section {name} failed: {type(error).__name__}: {error}")
            result["sections"][name] = {
                "title": name,
                "rows": [],
                "columns": [],
                "notes": [f"failed: {type(error).__name__}: {error}"],
            }
        result["sections"][name]["seconds"] = time.perf_counter() - section_started
        info["load_average_at_end"] = machine.load_average()
        result["run"]["seconds"] = time.perf_counter() - started
        json_path, md_path = report.write(result, args.out, stem)
    print(report.markdown(result))
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
