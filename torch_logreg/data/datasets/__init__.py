"""The built-in data sets: files shipped in the package and generators drawn from a seed.

Each loader returns x (m, n) float64, y (m,) class indices 0..K−1 and the feature
names (numpy arrays, except the torch-drawn synthetic set, whose tensors are
float64 as the training loop takes them); ``torch_logreg.data`` splits them.

- ``breast_cancer.csv``: the Wisconsin diagnostic breast-cancer set (read by ``data/split.py``).
- ``digits``: the UCI optical-recognition handwritten digits, 8×8 images (``digits.py``).
- ``flower``, ``spirals``: 2-D problems that a line cannot separate (``planar.py``).
- ``synthetic``: rows drawn from a known logistic or softmax model (``synthetic.py``).
"""
