"""Shared test fixtures: the devices to run on ("cpu", plus "cuda" when a GPU is present).

Without a GPU the fused Triton kernel runs under Triton's interpreter, in this same
report.  TRITON_INTERPRET is read once, when triton decorates the kernel at import,
so it is set here, before any test module imports ``torch_logreg.kernels``.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each test that takes ``device`` runs on cpu and, when available, on cuda."""
    return request.param
