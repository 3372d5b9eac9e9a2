"""One side of ``benchmarks.compare``: the trainer's full-batch gd step of whatever torch_logreg
is first on PYTHONPATH (a git ref's worktree, or the work tree), timed on request.

    PYTHONPATH=CHECKOUT python benchmarks/compare_worker.py M N THREADS

Run as a file, not a module, so that the checkout's own ``benchmarks`` (or none) is never
imported.  Reads one line per repeat from stdin and answers with the seconds per step of
``inner`` back-to-back steps (the first line calibrates ``inner`` to about 0.2 s).  Knows the
import paths of every layout since the first release (``torch_logreg.steps`` before the move
into ``training/``).
"""

import json
import sys
import time

import torch


def trainer_step(m: int, n: int):
    try:
        from torch_logreg.nn.logistic import LogisticRegression
        from torch_logreg.training.optim import GradientDescent
        from torch_logreg.training.steps import make_step
    except ImportError:  # the layout before nn/, data/, training/
        from torch_logreg.optim import GradientDescent
        from torch_logreg.steps import make_step

        try:
            from torch_logreg.module import LogisticRegression
        except ImportError:
            from torch_logreg.models import LogisticRegression
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(m, n, generator=gen)
    y = (torch.rand(m, generator=gen) < torch.sigmoid(x[:, 0])).float()
    model = LogisticRegression(n)
    made = make_step(model, GradientDescent(model.parameters(), lr=0.5), x, True)
    step = made[1] if isinstance(made, tuple) else made
    try:
        step(x, y, None)
        return lambda: step(x, y, None)
    except TypeError:  # steps of (x, y) only
        step(x, y)
        return lambda: step(x, y)


def main() -> None:
    m, n, threads = (int(a) for a in sys.argv[1:4])
    torch.set_num_threads(threads)
    step = trainer_step(m, n)
    inner = 1
    for line in sys.stdin:
        if line.strip() == "calibrate":
            begin = time.perf_counter()
            step()
            inner = max(1, min(10_000, int(0.2 / max(time.perf_counter() - begin, 1e-9))))
            print(json.dumps({"inner": inner}), flush=True)
            continue
        begin = time.perf_counter()
        for _ in range(inner):
            step()
        print(json.dumps({"seconds": (time.perf_counter() - begin) / inner}), flush=True)


if __name__ == "__main__":
    main()
