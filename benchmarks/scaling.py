"""Strong scaling with torchrun (gloo), the all-reduce's cost, and the streaming read rate.

    python benchmarks/scaling.py [--rows 2000000] [--features 128] [--steps 10] [--file PATH]

1. gd steps on rows × features float32 (held in memory): 1 worker × 2 threads against
   2 workers × 1 thread, each launched by ``torchrun --standalone``.  A step is
   ``training.reduced_model.ReducedModel.cost_and_grads`` (each worker's sums, one all-reduce) and
   the update, as the trainer runs it.
2. Inside the 2-worker launch: the model's local pass alone (the per-row compute rate)
   and a bare all-reduce of the step's buffer (n + 2 float64) and of Newton's
   ((n + 1)² + 1 float64): latency and bandwidth for benchmarks/scaling.md's model.
3. The streaming read rate: one full pass of ``data.streaming.RowStream.blocks`` (read, keep
   the rows, convert to float32) and one streamed gd step, against ``cat FILE > /dev/null``,
   each after evicting the file's pages with posix_fadvise(POSIX_FADV_DONTNEED) (this
   file only; the system's caches are left alone).

Prints a markdown table and writes benchmarks/results/scaling-<host>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_file(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """rows × (features + 1) float32 .npy written in chunks (features, then a 0/1 label)."""
    if path.is_file() and np.load(path, mmap_mode="r").shape == (rows, features + 1):
        return
    rng = np.random.default_rng(seed)
    w = rng.normal(size=features) / np.sqrt(features)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features + 1))
    for start in range(0, rows, 200_000):
        x = rng.normal(size=(min(200_000, rows - start), features)).astype(np.float32)
        out[start : start + len(x), :-1] = x
        out[start : start + len(x), -1] = rng.random(len(x)) < 1 / (1 + np.exp(-(x @ w)))
    out.flush()
    del out


def evict(path: Path) -> None:
    """Drop this file's pages from the page cache (posix_fadvise DONTNEED), nothing else."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the workers (under torchrun)


def worker(args) -> None:
    import torch
    import torch.distributed as dist

    from torch_logreg.nn.logistic import LogisticRegression
    from torch_logreg.training.distributed import Group
    from torch_logreg.training.reduced_model import ReducedModel

    dist.init_process_group("gloo")
    torch.set_num_threads(args.threads)
    rank, world = dist.get_rank(), dist.get_world_size()
    array = np.load(args.file, mmap_mode="r")
    m, n = array.shape[0], array.shape[1] - 1
    lo, hi = m * rank // world, m * (rank + 1) // world
    x = torch.from_numpy(np.ascontiguousarray(array[lo:hi, :-1]))  # (m_w, n) float32: this worker's rows
    y = torch.from_numpy(np.ascontiguousarray(array[lo:hi, -1]))
    model = LogisticRegression(n, dtype=torch.float32)
    reduced = ReducedModel(model, Group(torch.device("cpu")))
    params = [p.detach() for p in model.parameters()]

    def timed(function, repeats: int) -> float:
        function()
        dist.barrier()
        start = time.perf_counter()
        for _ in range(repeats):
            function()
        dist.barrier()
        return (time.perf_counter() - start) / repeats

    def step():
        _, grads = reduced.cost_and_grads(x, y)
        for p, g in zip(params, grads):
            p.sub_(g, alpha=0.5)

    step_s = min(timed(step, args.steps) for _ in range(2))
    local_s = min(
        timed(lambda: model.cost_and_grads(x, y, rows=1, l2_rows=float("inf")), args.steps) for _ in range(2)
    )
    small = torch.zeros(n + 2, dtype=torch.float64)
    large = torch.zeros((n + 1) ** 2 + 1, dtype=torch.float64)
    # The least of five rounds: on a shared machine a round can wait on other people's processes.
    small_s = min(timed(lambda: dist.all_reduce(small), 200) for _ in range(5))
    large_s = min(timed(lambda: dist.all_reduce(large), 50) for _ in range(5))
    if rank == 0:
        print(
            "RESULT "
            + json.dumps(
                {
                    "workers": world,
                    "threads": args.threads,
                    "rows": m,
                    "features": n,
                    "step_ms": step_s * 1e3,
                    "local_pass_ms": local_s * 1e3,
                    "rows_per_s_per_worker": (hi - lo) / local_s,
                    "allreduce_small_us": small_s * 1e6,
                    "allreduce_small_bytes": small.numel() * 8,
                    "allreduce_newton_us": large_s * 1e6,
                    "allreduce_newton_bytes": large.numel() * 8,
                }
            ),
            flush=True,
        )
    dist.destroy_process_group()


def launch(args, workers: int, threads: int) -> dict:
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [
            torchrun,
            "--standalone",
            f"--nproc_per_node={workers}",
            __file__,
            "--worker",
            "--threads",
            str(threads),
            "--file",
            str(args.file),
            "--steps",
            str(args.steps),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{workers} workers failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[0][len("RESULT ") :])


# ---------------------------------------------------------------- streaming


def streaming_rates(path: Path, threads: int, memory_limit: str) -> dict:
    import torch

    from torch_logreg.data import streaming
    from torch_logreg.nn.logistic import LogisticRegression
    from torch_logreg.training.distributed import Solo
    from torch_logreg.training.reduced_model import ReducedModel

    torch.set_num_threads(threads)
    size = path.stat().st_size
    files = [streaming.NpyFile(path)]
    data = argparse.Namespace(memory_limit=memory_limit, stream=True)
    block = streaming.block_rows_for(data, files)
    stream = streaming.RowStream(files, np.ones(files[0].rows, dtype=bool), block, dtype=torch.float32)

    evict(path)
    start = time.perf_counter()
    subprocess.run(f"cat {path} > /dev/null", shell=True, check=True)
    cat_s = time.perf_counter() - start

    evict(path)
    start = time.perf_counter()
    rows = sum(len(x) for x in stream.blocks())
    read_s = time.perf_counter() - start

    model = LogisticRegression(files[0].columns - 1, dtype=torch.float32)
    y = torch.zeros(rows, dtype=torch.float32)
    reduced = ReducedModel(model, Solo())
    evict(path)
    start = time.perf_counter()
    reduced.cost_and_grads(stream, y)
    step_s = time.perf_counter() - start
    mb = size / 1e6
    return {
        "file_mb": mb,
        "block_rows": block,
        "cat_mb_per_s": mb / cat_s,
        "stream_read_mb_per_s": mb / read_s,
        "stream_step_mb_per_s": mb / step_s,
        "read_vs_cat": cat_s / read_s,
        "step_vs_cat": cat_s / step_s,
    }


PEAK = """
import json, resource, sys, torch
from torch_logreg.training.config import load_config
from torch_logreg.training.trainer import train
result = train(load_config(None, sys.argv[2:]), save=False)
torch.save([p.detach().double() for p in result.model.parameters()], sys.argv[1])
status = open("/proc/self/status").read()  # VmHWM: this program's own peak (ru_maxrss keeps the parent's)
print("RESULT " + json.dumps({"vm_hwm": int(status.split("VmHWM:")[1].split()[0]) * 1024,
                              "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                              "seconds": result.metrics["seconds"]}))
"""


def big_stream(path: Path, rows: int, features: int, memory_limit: str, iterations: int = 3) -> dict:
    """gd on a float32 file of several GiB, streamed in float32, against the float64 stream of the
    same blocks: the peak resident set (torch included) and the weights' relative difference."""
    import torch

    make_file(path, rows, features)
    found = {}
    for dtype in ("float32", "float64"):
        weights = path.with_suffix(f".{dtype}.pt")
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK,
                str(weights),
                f"data.path={path}",
                "data.stream=true",
                f"data.memory_limit={memory_limit}",
                f"train.dtype={dtype}",
                "optimizer.name=gd",
                f"train.iterations={iterations}",
                "train.print_cost=false",
                "train.device=cpu",
                "train.threads=1",
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=3600,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"streaming {dtype} failed:\n{done.stderr[-3000:]}")
        found[dtype] = {**json.loads(lines[0][len("RESULT ") :]), "weights": torch.load(weights)}
    w32, w64 = (torch.cat([w.reshape(-1) for w in found[d].pop("weights")]) for d in ("float32", "float64"))
    return {
        "file_gib": path.stat().st_size / 2**30,
        "memory_limit": memory_limit,
        "iterations": iterations,
        "peak_rss_gib": {d: found[d]["vm_hwm"] / 2**30 for d in found},
        "ru_maxrss_gib (includes the parent's peak)": {d: found[d]["ru_maxrss"] / 2**30 for d in found},
        "seconds": {d: found[d]["seconds"] for d in found},
        "float32_vs_float64_relative": float((w32 - w64).abs().max() / w64.abs().max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-limit", default="256MiB")
    parser.add_argument("--stream-threads", type=int, default=1, help="torch threads of the streamed step")
    parser.add_argument(
        "--big-stream-rows",
        type=int,
        default=0,
        help="also stream gd on a rows × features float32 file (6_200_000 rows: 3 GiB) and report "
        "its peak resident set; 0 skips it",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    args.file = args.file or Path("/tmp") / f"scaling-{args.rows}x{args.features}.npy"
    make_file(args.file, args.rows, args.features)
    runs = [launch(args, 1, 1), launch(args, 1, 2), launch(args, 2, 1)]  # 1 × 1: the one-core reference
    stream = streaming_rates(args.file, args.stream_threads, args.memory_limit)
    result = {
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "runs": runs,
        "streaming": stream,
    }
    if args.big_stream_rows:
        result["big_stream"] = big_stream(
            Path("/tmp") / f"scaling-{args.big_stream_rows}x{args.features}.npy",
            args.big_stream_rows,
            args.features,
            args.memory_limit,
        )
        print(json.dumps(result["big_stream"]))
    out = ROOT / "benchmarks" / "results" / f"scaling-{platform.node() or 'host'}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    small, large = runs[0]["allreduce_small_bytes"], runs[0]["allreduce_newton_bytes"]
    print(
        "| workers × threads | gd step (ms) | local pass (ms) | rows/s per worker "
        f"| all-reduce {small} B (µs) "
        f"| all-reduce {large} B (µs) |"
    )
    print("|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['workers']} × {run['threads']} | {run['step_ms']:.1f} | {run['local_pass_ms']:.1f} | "
            f"{run['rows_per_s_per_worker']:.3g} | {run['allreduce_small_us']:.0f} | "
            f"{run['allreduce_newton_us']:.0f} |"
        )
    print(
        f"\nstreaming {stream['file_mb']:.0f} MB ({stream['block_rows']} rows a block): cat "
        f"{stream['cat_mb_per_s']:.0f} MB/s, block read {stream['stream_read_mb_per_s']:.0f} MB/s "
        f"({100 * stream['read_vs_cat']:.0f} % of cat), "
        f"streamed gd step {stream['stream_step_mb_per_s']:.0f} MB/s "
        f"({100 * stream['step_vs_cat']:.0f} % of cat)"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
