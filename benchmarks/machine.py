"""What machine a benchmark ran on, and the file name that says so."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name(device: str) -> str | None:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return None


def numpy_blas() -> list[dict]:
    """numpy's BLAS as threadpoolctl sees it (library, version, the kernel architecture it runs)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads")
    return [
        {k: info.get(k) for k in keys}
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def git_commit() -> str | None:
    """The checkout's commit, "+dirty" when torch_logreg/ has uncommitted changes (read-only git calls)."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "torch_logreg"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+dirty" if dirty else "")) or None


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def describe(device: str) -> dict:
    """Everything that changes the numbers: processor, threads, libraries, GPU, OpenBLAS settings, load."""
    info = {
        "hostname": socket.gethostname(),
        "git_commit": git_commit(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": _version("sklearn"),
        "triton": _version("triton"),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "numpy_blas": numpy_blas(),
        "openblas_env": {name: os.environ.get(name) for name in OPENBLAS_VARIABLES},
        "device": device,
        "gpu": gpu_name(device),
        "cuda": torch.version.cuda if device.startswith("cuda") else None,
        "load_average_at_start": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    return info


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def result_stem(info: dict, quick: bool) -> str:
    """``<cpu|cuda>-<processor or GPU>-<host>-<YYYYmmdd-HHMMSS>[-quick]``: the machine, then when it ran,
    so runs on one machine, or on one day, keep apart."""
    kind = "cuda" if info["gpu"] else "cpu"
    name = info["gpu"] or info["cpu_model"]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.strptime(info["date"][:19], "%Y-%m-%d %H:%M:%S"))
    stem = f"{kind}-{slug(name)}-{slug(info['hostname'])}-{stamp}"
    return stem + ("-quick" if quick else "")
