"""The trainer's step at a git ref against the work tree, interleaved in one run: ``benchmarks.compare``.

    python -m benchmarks.compare REF [--sizes 569x30,100000x100,1000000x128] [--repeats 7]
                                     [--threads 2] [--out DIR]

REF is checked out in a temporary ``git worktree`` (removed afterwards).  For each size one
worker process per side (``benchmarks/compare_worker.py``, the full-batch gd step of
``training.steps.make_step`` on float32 synthetic data) stays alive; the repeats alternate
REF, work tree, REF, … so that both see the same machine.  Prints per size the min and
median ms per step of each side and the ratio REF / work tree (above 1: the work tree is
faster), and writes ``<out>/compare-<ref>-<worktree commit>.json`` (``<out>`` defaults to
``benchmarks/results/local``, git-ignored).  A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
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
        self.process = subprocess.Popen([sys.executable, str(WORKER), str(size.m), str(size.n), str(threads)],
                                        cwd=checkout, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

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


def compare(ref_checkout: Path, sizes: list[Size], repeats: int, threads: int, log=print) -> list[dict]:
    """Rows {size, ref_ms, ref_ms_min, worktree_ms, worktree_ms_min, ratio, ratio_min} for each size."""
    rows = []
    for size in sizes:
        sides = {"ref": Worker(ref_checkout, size, threads), "worktree": Worker(ROOT, size, threads)}
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
        ref, tree = (statistics.median(samples[k]) for k in sides)
        ref_min, tree_min = (min(samples[k]) for k in sides)
        row = {"size": size.label, "m": size.m, "n": size.n, "ref_ms": ref * 1e3, "ref_ms_min": ref_min * 1e3,
               "worktree_ms": tree * 1e3, "worktree_ms_min": tree_min * 1e3, "ratio": ref / tree,
               "ratio_min": ref_min / tree_min, "repeats": repeats}
        log(f"{size.label:>12}  ref {ref * 1e3:9.3f} ms (min {ref_min * 1e3:9.3f})  work tree {tree * 1e3:9.3f} ms "
            f"(min {tree_min * 1e3:9.3f})  ref/work tree {ref / tree:5.2f}× (mins {ref_min / tree_min:5.2f}×)")
        rows.append(row)
    return rows


def parse_sizes(text: str) -> list[Size]:
    return [Size(*(int(v) for v in part.lower().split("x"))) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="a git ref: commit, branch or tag")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="MxN[,MxN...] (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in both workers")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/local")
    args = parser.parse_args(argv)
    try:
        commit = git("rev-parse", "--verify", f"{args.ref}^{{commit}}")
    except subprocess.CalledProcessError:
        print(f"error: {args.ref!r} is not a commit of this repository", file=sys.stderr)
        return 2
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    print(f"ref {args.ref} = {commit[:10]}  against the work tree at {head[:10]}{' + changes' if dirty else ''}")
    with tempfile.TemporaryDirectory(prefix="compare-") as parent:
        checkout = Path(parent) / "ref"
        git("worktree", "add", "--detach", str(checkout), commit)
        try:
            rows = compare(checkout, parse_sizes(args.sizes), args.repeats, args.threads)
        finally:
            git("worktree", "remove", "--force", str(checkout))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"compare-{commit[:10]}-{head[:10]}{'-dirty' if dirty else ''}.json"
    path.write_text(json.dumps({"ref": args.ref, "ref_commit": commit, "worktree_commit": head, "dirty": dirty,
                                "threads": args.threads, "rows": rows}, indent=1) + "\n")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
