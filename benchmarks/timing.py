"""Timing: warm up, then the median of repeats, with the methods of one size interleaved.

Interleaving (A B C, A B C, ...) makes a noisy machine slow every method alike, so the
ratios hold even when the absolute times wander.  On CUDA each repeat is bracketed by
CUDA events around ``inner`` steps; on the CPU by ``time.perf_counter``.

Each repeat starts with one untimed call: switching between NumPy (OpenBLAS's pthreads)
and torch (OpenMP) costs the first call milliseconds on a small machine while the other
runtime's threads still spin (measured here: x.sum() on 4 MB, 0.02 ms warm, 1.5 ms right
after a NumPy step; a NumPy step 0.2 ms warm, 3 to 15 ms right after a torch op).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_once(fn: Callable[[], object], inner: int, device: str) -> float:
    """Seconds per call of ``fn`` over ``inner`` back-to-back calls."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / inner
    begin = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - begin) / inner


def calibrate(fn: Callable[[], object], device: str, min_seconds: float, warmup: int = 2) -> int:
    """Warm ``fn`` up and return how many calls make one repeat last about ``min_seconds``."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    per_call = time_once(fn, 1, device)
    synchronize(device)
    return max(1, min(10_000, int(min_seconds / max(per_call, 1e-9))))


def interleaved_medians(
    fns: dict[str, tuple[Callable[[], object], str]], repeats: int, min_seconds: float
) -> dict[str, dict]:
    """Time each ``name: (fn, device)``; a NumPy function runs on "cpu" beside CUDA ones.

    Returns {name: {"seconds": median per call, "min", "spread": (p75 − p25)/median,
    "inner": calls per repeat, "repeats"}}.
    """
    inner = {name: calibrate(fn, device, min_seconds) for name, (fn, device) in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, device) in fns.items():
            fn()  # switch-in call, untimed
            synchronize(device)
            samples[name].append(time_once(fn, inner[name], device))
    out = {}
    for name, values in samples.items():
        median = statistics.median(values)
        quartiles = statistics.quantiles(values, n=4) if len(values) >= 2 else [median, median, median]
        out[name] = {
            "seconds": median,
            "min": min(values),
            "spread": (quartiles[2] - quartiles[0]) / median,
            "inner": inner[name],
            "repeats": repeats,
        }
    return out


def wall(fn: Callable[[], object], device: str) -> float:
    """Wall seconds of one call, synchronized on both ends."""
    synchronize(device)
    begin = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - begin


def marginal_per_iteration(
    runners: dict[str, Callable[[int], float]], counts: tuple[int, int], repeats: int
) -> dict[str, tuple[float, dict[int, float]]]:
    """Seconds an extra iteration costs, for each ``name: run(iterations) -> wall seconds``.

    Each runner is run to N1 and N2 = ``counts`` iterations, interleaved, after one warm-up
    run; (t(N2) − t(N1)) / (N2 − N1) of the medians cancels start-up and finishing.
    Returns {name: (seconds per iteration, {N: median seconds})}.
    """
    for run in runners.values():
        run(counts[0])  # warm-up: imports, allocator, first-call costs
    samples: dict[tuple[str, int], list[float]] = {(name, n): [] for name in runners for n in counts}
    for _ in range(repeats):
        for n in counts:
            for name, run in runners.items():
                samples[(name, n)].append(run(n))
    median = {key: statistics.median(values) for key, values in samples.items()}
    extra = counts[1] - counts[0]
    return {
        name: (
            (median[(name, counts[1])] - median[(name, counts[0])]) / extra,
            {n: median[(name, n)] for n in counts},
        )
        for name in runners
    }
