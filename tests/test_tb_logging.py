"""What the dashboards are built from: histograms and the decision-boundary picture."""

import numpy as np

from torch_logreg.tb_logging import decision_boundary_image, histogram_summary


def test_histogram_counts_every_finite_value_in_buckets_that_end_at_the_maximum():
    values = np.array([0.0, 0.0, 1.0, 2.0, 3.0, np.inf])
    histo = histogram_summary("params/weight", values).value[0].histo
    assert histo.num == 5 and sum(histo.bucket) == 5
    assert histo.min == 0.0 and histo.max == 3.0 and histo.bucket_limit[-1] == 3.0
    assert list(histo.bucket_limit) == sorted(histo.bucket_limit)
    assert histo.sum == 6.0 and histo.sum_squares == 14.0


def test_histogram_buckets_grow_with_the_square_root_of_the_count():
    assert len(histogram_summary("w", np.linspace(0, 1, 30)).value[0].histo.bucket) == 6
    assert len(histogram_summary("w", np.linspace(0, 1, 10_000)).value[0].histo.bucket) == 30


def test_histogram_of_a_constant_is_one_bucket_around_it():
    histo = histogram_summary("params/bias", np.zeros(1)).value[0].histo
    assert list(histo.bucket) == [1.0] and histo.min == -0.5 and histo.max == 0.5


def test_decision_boundary_image_shades_each_side_and_draws_the_line():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = (x[:, 0] > 0).astype(float)
    image = decision_boundary_image(x, y, np.array([[5.0, 0.0]]), 0.0, size=64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    top_left, top_right = image[1, 1].astype(int), image[1, -2].astype(int)
    assert top_left[2] > top_left[0] and top_right[0] > top_right[2]  # blue for 0, red for 1
    # The black line z = 0 (x1 = 0) runs top to bottom between the two shades (a data point
    # drawn on top may hide it in a few rows).
    rows_with_line = 0
    for row in range(64):
        line = np.flatnonzero((image[row] == 0).all(axis=1))
        if line.size:
            rows_with_line += 1
            left = image[row, : line.min() - 1].astype(int).mean(axis=0)
            right = image[row, line.max() + 2:].astype(int).mean(axis=0)
            assert left[2] > left[0] and right[0] > right[2]
    assert rows_with_line >= 50
