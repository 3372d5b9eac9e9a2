"""The pictures drawn with Pillow: the learning-curve chart."""

import numpy as np

from torch_logreg.training.images import LINE_COLORS, learning_curve_image


def drawn_in_plot(picture: np.ndarray, color) -> bool:
    """Whether ``color`` appears below the title and legend rows (the legend shows every colour anyway)."""
    return bool(np.all(picture[50:] == np.asarray(color, dtype=np.uint8), axis=-1).any())


def test_a_learning_curve_is_an_rgb_picture_of_the_asked_size_with_each_series_in_its_own_colour():
    series = {"logistic": ([0, 50, 100], [0.69, 0.66, 0.65]), "mlp": ([0, 50, 100], [0.69, 0.40, 0.25])}
    picture = learning_curve_image(series, "training cost", "cost", width=400, height=260)
    assert picture.shape == (260, 400, 3) and picture.dtype == np.uint8
    assert drawn_in_plot(picture, LINE_COLORS[0]) and drawn_in_plot(picture, LINE_COLORS[1])


def test_one_point_and_a_constant_series_are_drawn_without_an_empty_axis():
    series = {"one point": ([0], [0.5]), "constant": ([0, 10, 20], [0.7, 0.7, 0.7])}
    picture = learning_curve_image(series, "degenerate", "cost")
    assert picture.shape == (300, 480, 3)
    assert drawn_in_plot(picture, LINE_COLORS[0]) and drawn_in_plot(picture, LINE_COLORS[1])


def test_non_finite_values_are_skipped():
    series = {"no test rows": ([0, 10], [float("nan"), float("nan")]), "train": ([0, 10], [1.0, 0.5])}
    picture = learning_curve_image(series, "cost", "cost")
    assert not drawn_in_plot(picture, LINE_COLORS[0]) and drawn_in_plot(picture, LINE_COLORS[1])
