"""What a run writes to TensorBoard: scalars, histograms, hparams, a PR curve, the decision boundary.

Everything goes into one event folder, the run folder itself: hparams are written
through the run's own file writer rather than ``add_hparams``, which would open a
second run folder beside it.
"""

from __future__ import annotations

import numpy as np
import torch
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams


class RunWriter:
    """A SummaryWriter with the run's tag names.  ``purge_step`` drops events a resumed run replaces."""

    def __init__(self, run_dir, purge_step: int | None = None):
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)

    def scalars(self, step: int, values: dict[str, float], model: torch.nn.Module | None = None) -> None:
        """``values`` as scalars and, given a model, a histogram of each parameter, in ONE event:
        each event costs the writer thread ~100 µs of Python (serializing, checksumming),
        more than the training steps between two log steps on small data."""
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()])
        for name, param in (model.named_parameters() if model is not None else ()):
            values = param.detach().double().cpu().numpy().reshape(-1)
            summary.value.extend(histogram_summary(f"params/{name}", values).value)
        self.writer.file_writer.add_summary(summary, step)

    def final(self, step: int, config_values: dict, metrics: dict[str, float]) -> None:
        """hparams: the flat config beside the final metrics, in this run's own event file."""
        metric_tags = {f"hparams/{key}": value for key, value in metrics.items()}
        for summary in hparams(_flat_hparams(config_values), metric_tags):
            self.writer.file_writer.add_summary(summary, step)
        self.scalars(step, metric_tags)

    def pr_curve(self, step: int, labels: torch.Tensor, probabilities: torch.Tensor) -> None:
        self.writer.add_pr_curve("val/pr_curve", labels.cpu().int(), probabilities.float().cpu(), step)

    def decision_boundary(self, step: int, x: torch.Tensor, y: torch.Tensor, weight, bias) -> None:
        image = decision_boundary_image(x.double().cpu().numpy(), y.cpu().numpy(), weight.double().cpu().numpy(),
                                        float(bias))
        self.writer.add_image("val/decision_boundary", image, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def histogram_summary(tag: str, values: np.ndarray, max_bins: int = 30) -> Summary:
    """A TensorBoard histogram of ``values`` in ⌈√count⌉ (at most ``max_bins``) even buckets.

    Built directly, with empty buckets at either end dropped (as TensorBoard's own
    does): the event writer checksums every byte in pure Python (~40 µs for 500
    bytes), and add_histogram's default ~1500 buckets cost ~1 ms a call, more than
    the training steps between two log steps on small data.
    """
    finite = values[np.isfinite(values)]
    bins = int(min(max_bins, max(1, np.ceil(np.sqrt(finite.size)))))
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if not hi > lo:  # a constant (e.g. the zero-initialized weights): one bucket around it
        lo, hi = lo - 0.5, hi + 0.5
    try:
        counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    except ValueError:  # a range too narrow for its magnitude (values ~1e20): one bucket
        counts, edges = np.array([finite.size]), np.array([lo, hi])
    used = np.flatnonzero(counts)
    first, last = (used[0], used[-1]) if used.size else (0, 0)
    proto = HistogramProto(min=lo, max=hi, num=float(finite.size), sum=float(finite.sum()),
                           sum_squares=float(np.dot(finite, finite)), bucket_limit=edges[first + 1:last + 2].tolist(),
                           bucket=counts[first:last + 1].astype(float).tolist())
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def _flat_hparams(values: dict, prefix: str = "") -> dict:
    # TensorBoard's hparams take int, float, str or bool; None and mappings become strings.
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "labels":
            flat.update(_flat_hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def decision_boundary_image(x: np.ndarray, y: np.ndarray, weight: np.ndarray, bias: float, size: int = 256):
    """An (H, W, 3) uint8 picture of 2-feature data: σ(z) shaded from blue (0) to red (1),
    the line z = 0 in black, class-1 points red and class-0 points blue with white rims."""
    lo, hi = x.min(0), x.max(0)
    pad = (hi - lo) * 0.05 + 1e-9
    lo, hi = lo - pad, hi + pad
    u = np.linspace(lo[0], hi[0], size)
    v = np.linspace(hi[1], lo[1], size)  # row 0 is the top of the picture
    grid_u, grid_v = np.meshgrid(u, v)
    z = weight.reshape(-1)[0] * grid_u + weight.reshape(-1)[1] * grid_v + bias
    prob = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    red, blue = np.array([230.0, 120, 110]), np.array([110.0, 150, 230])
    image = (prob[..., None] * red + (1 - prob[..., None]) * blue) * 0.55 + 255 * 0.45
    pixel = np.abs(z) / (np.hypot(*weight.reshape(-1)[:2]) + 1e-12)  # distance to the line, data units
    image[pixel < (hi[0] - lo[0]) / size * 1.5] = 0
    cols = np.clip(((x[:, 0] - lo[0]) / (hi[0] - lo[0]) * (size - 1)).round().astype(int), 0, size - 1)
    rows = np.clip(((hi[1] - x[:, 1]) / (hi[1] - lo[1]) * (size - 1)).round().astype(int), 0, size - 1)
    for r, c, label in zip(rows, cols, y):
        color = np.array([200.0, 30, 30]) if label > 0.5 else np.array([30.0, 60, 200])
        image[max(r - 2, 0): r + 3, max(c - 2, 0): c + 3] = 255
        image[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2] = color
    return image.astype(np.uint8)
