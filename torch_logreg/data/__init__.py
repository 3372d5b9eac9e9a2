"""Data: user files, the built-in sets, the split, standardization and fingerprints.

- ``read_table.py``: a labelled table from a CSV, ``.npy`` or ``.npz``, read strictly (one error line each).
- ``labels.py``: raw label values to class indices 0..K−1 and the classes.
- ``builtin_sets.py``: the built-in set that ``data.name`` names, as a table.
- ``split.py``: the train/test split of a table, standardized (``load_split``).
- ``standardizer.py``: x ↦ (x − mean) / std, fitted on the training rows.
- ``fingerprint.py``: the data files' size and hash, so that a resume refuses changed data.
- ``shards.py``: each worker's rows (``.npy`` ranges, shard folders) and the global split and statistics.
- ``streaming.py``: data larger than memory, read from ``.npy`` files block by block.
- ``datasets/``: the built-in sets: breast cancer, digits, flower, spirals, synthetic.

The names below are re-exported from those files and ``datasets/``;
import ``shards`` and ``streaming`` as modules
(``from torch_logreg.data import streaming``). A trained model's input files are read by
``torch_logreg.feature_files``, beside ``inference``.
"""

from .builtin_sets import BUILT_IN, load_breast_cancer
from .datasets.digits import load_digits
from .datasets.planar import make_flower, make_spirals
from .datasets.synthetic import make_synthetic
from .fingerprint import data_fingerprint
from .labels import encode_labels
from .read_table import Table, load_table, read_table
from .split import Shard, Split, breast_cancer, load_split, make_split, split_indices, split_train_test
from .standardizer import Standardizer

__all__ = [
    "BUILT_IN",
    "Shard",
    "Split",
    "Standardizer",
    "Table",
    "breast_cancer",
    "data_fingerprint",
    "encode_labels",
    "load_breast_cancer",
    "load_digits",
    "load_split",
    "load_table",
    "make_flower",
    "make_spirals",
    "make_split",
    "make_synthetic",
    "read_table",
    "split_indices",
    "split_train_test",
]
