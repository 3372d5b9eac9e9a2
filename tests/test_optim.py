"""The optimizers' own rules: when Newton samples its Hessian, and the tolerance it stops at."""

import torch

from torch_logreg.training.optim import auto_hessian_rows, default_grad_tol


def test_auto_samples_the_hessian_only_on_tall_data_with_more_than_ten_parameters():
    assert auto_hessian_rows(100_000, 101) == 10_100  # 100k×100: 100 rows per parameter
    assert auto_hessian_rows(15_000, 101) == 0  # not tall enough: fewer than 2 × 10_100 rows
    assert auto_hessian_rows(1_000_000, 3) == 0  # 1M×2: H costs what the gradient does, exact converges faster
    assert auto_hessian_rows(427, 31) == 0  # the default data: every row, as the document's run


def test_the_gradient_tolerance_scales_with_the_dtype():
    assert default_grad_tol(torch.float64) == 1e-8 and default_grad_tol(torch.float32) == 1e-4
