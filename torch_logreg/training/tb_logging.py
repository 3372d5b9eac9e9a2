"""What a run writes to TensorBoard: learning curves, parameters and gradients, hparams, pictures.

TensorBoard's first page (Time Series; Scalars alike) groups the cards by the tag's first
component and orders them by tag, digits before letters, so the tags open on the learning curve:
- ``1_cost/train``, ``1_cost/test``, then ``2_accuracy/train``, ``2_accuracy/test``: the caller
  names them ``train/cost``, ``test/accuracy``, ... and ``display_tag`` maps them;
- ``train/*``, ``test/*``: the caller's other values (learning rate, gradient norm, the end-of-run
  AUC, F1, ...), and the end-of-run PR curves and images under ``test/``;
- ``weights/<name>``: a one-element parameter as one scalar, up to ``SCALAR_ENTRIES``
  elements as one scalar per entry (``weights/weight/0``, ...), larger ones as a histogram;
- ``weights_grad/<layer>.norm``: the L2 norm of each layer's gradients, a scalar (where
  vanishing gradients show), and ``weights_grad/<name>``: the gradient's entries as a
  histogram (per-entry gradient scalars are noise at any width).

Everything goes into one event folder, the run folder itself: hparams are written
through the run's own file writer rather than ``add_hparams``, which would open a
second run folder beside it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams.api_pb2 import STATUS_SUCCESS
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
from torch.utils.tensorboard import SummaryWriter

from ..nn.models import MODELS, models_using
from . import images as pictures
from .filter_grid import filter_grid
from .optimizers import optimizers_using

logger = logging.getLogger(__name__)

SCALAR_ENTRIES = 8  # a tensor with at most this many entries is logged entry by entry


class RunWriter:
    """A SummaryWriter with the run's tag names.  ``purge_step`` drops events a resumed run replaces."""

    def __init__(self, run_dir, purge_step: int | None = None):
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)

    def scalars(
        self,
        step: int,
        values: dict[str, float],
        model: torch.nn.Module | None = None,
        grads: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """``values`` as scalars, plus the model's parameters and the given gradients, in ONE event:
        each event costs the writer thread ~100 µs of Python (serializing, checksumming),
        more than the training steps between two log steps on small data.

        Args:
            values: tag -> number, e.g. ``{"train/cost": 0.3}`` (written as ``display_tag`` names it).
            model: its ``named_parameters()`` go under ``weights/<name>``.
            grads: parameter name -> gradient, e.g. ``{"layer1.weight": ...}``, as histograms under
                ``weights_grad/<name>``, with the scalar ``weights_grad/<layer>.norm`` = ‖all gradients of
                that layer‖₂ (``weights_grad/norm`` for top-level names such as ``weight``).
        """
        summary = Summary(
            value=[Summary.Value(tag=display_tag(tag), simple_value=float(v)) for tag, v in values.items()]
        )
        for name, param in model.named_parameters() if model is not None else ():
            summary.value.extend(tensor_summary(f"{PARAMS}/{name}", param).value)
        squared_norms: dict[str, float] = {}
        for name, grad in (grads or {}).items():
            flat = summary_values(grad)
            summary.value.extend(histogram_summary(f"{GRADS}/{name}", flat).value)
            layer = name.rpartition(".")[0]
            squared_norms[layer] = squared_norms.get(layer, 0.0) + float(np.dot(flat, flat))
        for layer, squared in squared_norms.items():
            tag = f"{GRADS}/{layer}.norm" if layer else f"{GRADS}/norm"
            summary.value.add(tag=tag, simple_value=float(np.sqrt(squared)))
        self.writer.file_writer.add_summary(summary, step)

    def final(self, step: int, config_dict: dict, metrics: dict[str, float] | None = None) -> None:
        """The hparams plugin's session: the config keys that apply to this run, typed, and its end.

        Writes no scalars and no experiment summary. Without one, TensorBoard builds the HParams
        table from every run's session: each key typed from its values (a string or boolean key is a
        choice among the values seen, a number an interval), the keys whose values differ between runs
        first, and the metrics from the runs' scalar tags in tag order (``1_cost/test``,
        ``1_cost/train``, ``2_accuracy/test``, ...; the first five are ticked). An experiment summary
        written by each run (as torch's ``hparams`` does) fixes the table to one run's keys and marks
        no key as differing. ``metrics`` is accepted for the callers' sake and not used: the table
        reads each metric from the last scalar event of its tag.
        """
        for summary in hparams_session(applicable_hparams(config_dict)):
            self.writer.file_writer.add_summary(summary, step)

    def pr_curves(self, step: int, y: torch.Tensor, proba: torch.Tensor, classes: Sequence) -> None:
        """``test/pr_curve`` for two classes (class 1 against 0); for K, one-vs-rest, ``test/pr_curve/<c>``.

        y: (N,) class indices; proba: (N,) P(class 1) or (N, K).
        """
        y = torch.as_tensor(y).detach().cpu().reshape(-1).long()
        proba = torch.as_tensor(proba).detach().cpu().float()
        if len(classes) == 2:
            p1 = proba[:, 1] if proba.ndim == 2 else proba.reshape(-1)
            self.writer.add_pr_curve("test/pr_curve", (y == 1).int(), p1, step)
            return
        for index, name in enumerate(classes):
            self.writer.add_pr_curve(f"test/pr_curve/{name}", (y == index).int(), proba[:, index], step)

    def confusion_matrix(self, step: int, y, pred, classes: Sequence) -> None:
        """Image ``test/confusion_matrix``: rows the true class, columns the predicted one."""
        counts = pictures.confusion_counts(_numpy(y), _numpy(pred), len(classes))
        self._image("test/confusion_matrix", pictures.confusion_matrix_image(counts, classes), step)

    def misclassified(self, step: int, images: torch.Tensor, y, pred, classes: Sequence) -> None:
        """Image ``test/misclassified``: up to 16 of the (N, H, W) images with y ≠ pred, labelled
        "true → predicted"; (N, C, H, W) images are shown as the mean of their channels."""
        images = images.mean(1) if images.dim() == 4 else images
        picture = pictures.misclassified_image(_numpy(images), _numpy(y), _numpy(pred), classes)
        self._image("test/misclassified", picture, step)

    def decision_regions(
        self,
        step: int,
        x: torch.Tensor,
        y,
        proba_fn: Callable[[torch.Tensor], torch.Tensor],
        classes: Sequence,
        feature_names: Sequence[str],
        standardized: bool,
    ) -> None:
        """Image ``test/decision_boundary`` of any model on 2 features (``images.decision_regions_image``).

        x: (N, 2) test features as the model takes them;
        proba_fn: (G, 2) float64 tensor -> predict_proba output.
        """
        picture = pictures.decision_regions_image(
            _numpy(x), _numpy(y), proba_fn, classes, feature_names, standardized
        )
        self._image("test/decision_boundary", picture, step)

    def text(self, step: int, tag: str, markdown: str) -> None:
        self.writer.add_text(tag, markdown, step)

    def graph(self, model: torch.nn.Module, x_example: torch.Tensor) -> None:
        """The model's graph, if ``torch.jit.trace`` follows it; otherwise nothing (logged at debug level)."""
        try:
            with (
                warnings.catch_warnings()
            ):  # add_graph traces with torch.jit.trace, deprecated: nothing a user can do
                warnings.simplefilter("ignore", DeprecationWarning)
                self.writer.add_graph(model, x_example)
        except Exception as error:  # noqa: BLE001 - tracing fails in many ways; a missing graph is not an error
            logger.debug("model graph not logged: tracing %s failed: %s", type(model).__name__, error)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()

    # Until the trainer switches to the methods above (then remove): the old names, with the new tags.
    def filters(self, step: int, weight: torch.Tensor) -> None:
        """Image ``model/first_layer_filters``: the first convolution's kernels (O, C, k, k) as a grid."""
        self._image("model/first_layer_filters", filter_grid(weight), step)

    def _image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, picture, step, dataformats="HWC")


def summary_values(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's entries as a flat float64 array on the host."""
    return tensor.detach().double().cpu().numpy().reshape(-1)


# Tag groups of the parameters and their gradients: named to sort after test/ and train/.
PARAMS, GRADS = "weights", "weights_grad"


def tensor_summary(tag: str, tensor: torch.Tensor | np.ndarray) -> Summary:
    """One scalar ``tag`` for one element, ``tag/<i>`` per entry up to SCALAR_ENTRIES, else a histogram.

    A histogram of one number is a band one unit wide, and of a handful hides which is which.
    """
    values = tensor if isinstance(tensor, np.ndarray) else summary_values(tensor)
    if values.size == 1:
        return Summary(value=[Summary.Value(tag=tag, simple_value=float(values[0]))])
    if values.size <= SCALAR_ENTRIES:
        return Summary(
            value=[Summary.Value(tag=f"{tag}/{i}", simple_value=float(v)) for i, v in enumerate(values)]
        )
    return histogram_summary(tag, values)


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
    proto = HistogramProto(
        min=lo,
        max=hi,
        num=float(finite.size),
        sum=float(finite.sum()),
        sum_squares=float(np.dot(finite, finite)),
        bucket_limit=edges[first + 1 : last + 2].tolist(),
        bucket=counts[first : last + 1].astype(float).tolist(),
    )
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


# ------------------------------------------------------------------ hparams


def _from_file(flat: dict) -> bool:
    return flat.get("data.path") is not None


def _builtin(flat: dict) -> str | None:
    """The built-in data set's name, None when the data come from a file."""
    return None if _from_file(flat) else flat.get("data.name")


def _always(flat: dict) -> bool:
    return True


def _model_is(*names: str) -> Callable[[dict], bool]:
    return lambda flat: flat.get("model.name") in names


def _optimizer_is(*names: str) -> Callable[[dict], bool]:
    return lambda flat: flat.get("optimizer.name") in names


# Each flat key listed here shows in the hparams table only where its rule holds; other keys always show.
HPARAM_RULES: dict[str, Callable[[dict], bool]] = {
    "data.name": lambda flat: not _from_file(flat),
    **dict.fromkeys(("data.path", "data.test_path", "data.target", "data.labels"), _from_file),
    **dict.fromkeys(
        ("data.samples", "data.features", "data.noise"), lambda flat: _builtin(flat) == "synthetic"
    ),
    "data.classes": lambda flat: _builtin(flat) in ("synthetic", "spirals"),
    # From the optimizer registry; grad_tol: those that iterate to convergence (the others stop on train.tol)
    **{
        f"optimizer.{key}": _optimizer_is(*optimizers_using(key))
        for key in ("momentum", "hessian_rows", "grad_tol", "tolerance_change", "history_size")
    },
    **{
        f"model.{key}": _model_is(*models_using(key))
        for model in MODELS.values()
        for key in model.config_keys
    },
}


def applicable_hparams(config_dict: dict) -> dict:
    """The nested config flattened to dotted keys (``optimizer.lr``), less the keys that do not apply.

    Values are int, float, str or bool, as TensorBoard's hparams take: None, lists and
    the ``data.labels`` mapping become strings.
    """
    flat = _flatten(config_dict)
    return {key: _hparam_value(value) for key, value in flat.items() if HPARAM_RULES.get(key, _always)(flat)}


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "labels":
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _hparam_value(value):
    return value if isinstance(value, (bool, int, float, str)) else str(value)


# The learning curves' groups: numbered, because TensorBoard sorts digits before letters.
_FIRST = {"cost": "1_cost", "accuracy": "2_accuracy"}


def display_tag(tag: str) -> str:
    """The tag TensorBoard shows for the caller's ``tag``: ``train/cost`` -> ``1_cost/train``,
    ``test/accuracy`` -> ``2_accuracy/test``; any other tag (``test/auc``, ``weights/bias``) as it is."""
    split, _, name = tag.partition("/")
    if split in ("train", "test") and name in _FIRST:
        return f"{_FIRST[name]}/{split}"
    return tag


def hparams_session(values: dict) -> list[Summary]:
    """The hparams plugin's SessionStartInfo, each value typed (bool, number or string), and SessionEndInfo.

    Built here because torch's ``hparams`` stores a bool as a number (the table shows 1.0000) and
    writes an experiment summary besides.
    """
    start = SessionStartInfo()
    for key, value in values.items():
        if isinstance(value, bool):  # before the numbers: a bool is an int in Python
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = float(value)
        else:
            start.hparams[key].string_value = str(value)
    end = SessionEndInfo(status=STATUS_SUCCESS)
    version = hparams_metadata.PLUGIN_DATA_VERSION
    return [
        _plugin_summary(
            hparams_metadata.SESSION_START_INFO_TAG,
            HParamsPluginData(session_start_info=start, version=version),
        ),
        _plugin_summary(
            hparams_metadata.SESSION_END_INFO_TAG, HParamsPluginData(session_end_info=end, version=version)
        ),
    ]


def _plugin_summary(tag: str, data: HParamsPluginData) -> Summary:
    plugin = SummaryMetadata.PluginData(
        plugin_name=hparams_metadata.PLUGIN_NAME, content=data.SerializeToString()
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if torch.is_tensor(values) else np.asarray(values)
