"""The built-in data sets: files shipped in the package and generators drawn from a seed.

Each loader returns numpy arrays, x (m, n) float64 and y (m,) int64 class indices,
and its feature names; ``torch_logreg.data`` turns them into a split.

- ``breast_cancer.csv``: the Wisconsin diagnostic breast-cancer set (read by ``data.py``).
- ``digits``: the UCI optical-recognition handwritten digits, 8×8 images (``digits.py``).
- ``flower``, ``spirals``: 2-D problems that a line cannot separate (``planar.py``).
- ``synthetic``: rows drawn from a known logistic or softmax model (``synthetic.py``).
"""
