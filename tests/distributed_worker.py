"""Runs several trainings in one torchrun group, for tests/test_distributed.py (one launch, many runs).

``torchrun ... tests/distributed_worker.py SPEC.json``: SPEC is a list of {"overrides": [...],
"run_dir": str, "by_rank": {"1": [...]}} (extra overrides on one rank).  Each rank writes
``<SPEC>.rank<r>.json``: per run, the error line or null.
"""

import json
import sys

import torch.distributed as dist

from torch_logreg.errors import UserInputError
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train


def main(spec_path: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    outcomes = []
    for run in json.load(open(spec_path)):
        overrides = run["overrides"] + run.get("by_rank", {}).get(str(rank), [])
        try:
            train(load_config(None, overrides), run["run_dir"], overwrite=True)
            outcomes.append(None)
        except UserInputError as error:
            outcomes.append(str(error))
    with open(f"{spec_path}.rank{rank}.json", "w") as handle:
        json.dump(outcomes, handle)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
