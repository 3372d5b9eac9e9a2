"""The trainer's step at git refs against the work tree, interleaved in one run: ``benchmarks.compare``.

    python -m benchmarks.compare REF [REF ...] [--sizes 569x30,100000x100,1000000x128] [--repeats 7]
                                     [--threads 2] [--out DIR]

Each REF is checked out in a temporary ``git worktree`` (removed afterwards).  For each size one
worker process per side (``benchmarks/compare_worker.py``, the full-batch gd step of
``training.steps.make_step`` on float32 synthetic data) stays alive; the repeats alternate
REF, …, work tree, REF, … so that every side sees the same machine.  Prints per size the min
and median ms per step of each side and the ratio REF / work tree (above 1: the work tree is
faster), and writes ``<out>/compare-<ref>-<worktree commit>.json`` (``<out>`` defaults to
``benchmarks/results/local``, git-ignored).  Several refs make a bisection in one run:
``python -m benchmarks.compare 74bb220 1c6b4d0 479a54b --sizes 100000x100``.
A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .problems import Size

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "compare_worker.py"
DEFAULT_SIZES = "569x30,100000x100,1000000x128"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class Worker:
    """A ``compare_worker.py`` process on one checkout, answering one timing per request."""

    def __init__(self, checkout: Path, size: Size, threads: int):
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(size.m), str(size.n), str(threads)],
            cwd=checkout,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, request: str) -> dict:
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker exited with status {self.process.wait()}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def compare(
    ref_checkouts: dict[str, Path], sizes: list[Size], repeats: int, threads: int, log=print
) -> list[dict]:
    """One row per size and ref: {size, ref, ref_ms, ref_ms_min, worktree_ms, worktree_ms_min, ratio, …}."""
    rows = []
    for size in sizes:
        sides = {name: Worker(checkout, size, threads) for name, checkout in ref_checkouts.items()}
        sides["work tree"] = Worker(ROOT, size, threads)
        try:
            for worker in sides.values():
                worker.ask("calibrate")
            samples = {name: [] for name in sides}
            for _ in range(repeats):
                for name, worker in sides.items():
                    samples[name].append(worker.ask("time")["seconds"])
        finally:
            for worker in sides.values():
                worker.close()
        tree, tree_min = statistics.median(samples["work tree"]), min(samples["work tree"])
        log(f"{size.label:>12}  work tree {tree * 1e3:9.3f} ms (min {tree_min * 1e3:9.3f})")
        for name in ref_checkouts:
            ref, ref_min = statistics.median(samples[name]), min(samples[name])
            rows.append(
                {
                    "size": size.label,
                    "m": size.m,
                    "n": size.n,
                    "ref": name,
                    "ref_ms": ref * 1e3,
                    "ref_ms_min": ref_min * 1e3,
                    "worktree_ms": tree * 1e3,
                    "worktree_ms_min": tree_min * 1e3,
                    "ratio": ref / tree,
                    "ratio_min": ref_min / tree_min,
                    "repeats": repeats,
                }
            )
            log(
                f"{'':>12}  {name:>9} {ref * 1e3:9.3f} ms (min {ref_min * 1e3:9.3f})  ref/work tree "
                f"{ref / tree:5.2f}× (mins {ref_min / tree_min:5.2f}×)"
            )
    return rows


def parse_sizes(text: str) -> list[Size]:
    return [Size(*(int(v) for v in part.lower().split("x"))) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("refs", nargs="+", metavar="REF", help="git refs: commits, branches or tags")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="MxN[,MxN...] (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in every worker")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/local")
    args = parser.parse_args(argv)
    commits = {}
    for ref in args.refs:
        try:
            commits[ref] = git("rev-parse", "--verify", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            print(f"error: {ref!r} is not a commit of this repository", file=sys.stderr)
            return 2
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    print(
        f"refs {', '.join(f'{r} = {c[:10]}' for r, c in commits.items())}  against the work tree at "
        f"{head[:10]}{' + changes' if dirty else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="compare-") as parent, contextlib.ExitStack() as stack:
        checkouts = {}
        for index, (ref, commit) in enumerate(commits.items()):
            checkouts[ref] = Path(parent) / f"ref{index}"
            git("worktree", "add", "--detach", str(checkouts[ref]), commit)
            stack.callback(git, "worktree", "remove", "--force", str(checkouts[ref]))
        rows = compare(checkouts, parse_sizes(args.sizes), args.repeats, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    first = next(iter(commits.values()))
    refs_part = first[:10] + ("-etc" if len(commits) > 1 else "")
    path = args.out / f"compare-{refs_part}-{head[:10]}{'-dirty' if dirty else ''}.json"
    path.write_text(
        json.dumps(
            {"refs": commits, "worktree_commit": head, "dirty": dirty, "threads": args.threads, "rows": rows},
            indent=1,
        )
        + "\n"
    )
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
