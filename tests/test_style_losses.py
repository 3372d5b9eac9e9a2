"""The style-transfer losses: gradchecks in float64, agreement with plain autograd through the hand-written
convolutions, and a broken backward for each Function that the check must catch."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.gradcheck import GradcheckError

from torch_logreg.nn import functional as tf
from torch_logreg.nn import style_losses as sl

GRADCHECK = {"eps": 1e-6, "atol": 1e-8, "rtol": 1e-6}
SHAPES = {"square": (2, 3, 4, 4), "odd": (1, 2, 5, 3), "one channel": (1, 1, 3, 7)}


def _features(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_gram_style_content_and_tv_gradcheck(shape):
    features = _features(shape)
    target_features = _features(shape, seed=1).detach()
    target_gram = sl.gram_forward(target_features)
    assert torch.autograd.gradcheck(tf.gram_matrix, (features,), **GRADCHECK)
    assert torch.autograd.gradcheck(
        lambda f: tf.style_loss(tf.gram_matrix(f), target_gram), (features,), **GRADCHECK
    )
    assert torch.autograd.gradcheck(lambda f: tf.content_loss(f, target_features), (features,), **GRADCHECK)
    assert torch.autograd.gradcheck(tf.total_variation, (features,), **GRADCHECK)


def test_the_losses_are_their_formulas():
    f = _features((1, 2, 3, 3)).detach()
    rows = f.reshape(2, 9)
    torch.testing.assert_close(tf.gram_matrix(f)[0], rows @ rows.T / 18)
    p = torch.zeros_like(f)
    torch.testing.assert_close(tf.content_loss(f, p), 0.5 * f.pow(2).sum())
    image = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    assert tf.total_variation(image).item() == (3 - 0) ** 2 + (1 - 1) ** 2 + (1 - 0) ** 2 + (1 - 3) ** 2


def test_the_image_gradient_through_conv_and_pool_equals_autograd():
    """The whole path of texture synthesis: image -> conv -> relu -> avg pool -> Gram -> style loss, + TV."""
    g = torch.Generator().manual_seed(4)
    image = torch.rand(1, 3, 16, 16, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(8, 3, 5, 5, generator=g, dtype=torch.float64)
    target = torch.rand(1, 8, 8, generator=g, dtype=torch.float64)

    def loss(x):
        features = tf.avg_pool2d(tf.activation("relu", tf.conv2d(x, weight, padding=2)), 2)
        return tf.style_loss(tf.gram_matrix(features), target) + 1e-3 * tf.total_variation(x)

    (hand,) = torch.autograd.grad(loss(image), image)
    with tf.plain_autograd():
        (auto,) = torch.autograd.grad(loss(image), image)
    torch.testing.assert_close(hand, auto, atol=1e-12, rtol=1e-10)


class _GramWrong(sl.GramFunction):
    @staticmethod
    def backward(ctx, grad_gram):
        (features,) = ctx.saved_tensors
        return sl.gram_backward(grad_gram, features) / 2  # dG only, not dG + dGᵀ


class _StyleWrong(sl.StyleLossFunction):
    @staticmethod
    def backward(ctx, grad_loss):
        gram, target = ctx.saved_tensors
        return (gram - target) * grad_loss, None  # the factor 2 forgotten


class _ContentWrong(sl.ContentLossFunction):
    @staticmethod
    def backward(ctx, grad_loss):
        features, target = ctx.saved_tensors
        return (target - features) * grad_loss, None  # sign flipped


class _TotalVariationWrong(sl.TotalVariationFunction):
    @staticmethod
    def backward(ctx, grad_loss):
        (image,) = ctx.saved_tensors
        grad = sl.total_variation_backward(image)
        grad[..., 0, :] = 0  # the top border's differences dropped
        return grad * grad_loss


@pytest.mark.parametrize(
    "broken",
    [
        lambda f, t: _GramWrong.apply(f).sum(),
        lambda f, t: _StyleWrong.apply(sl.GramFunction.apply(f), sl.gram_forward(t)),
        lambda f, t: _ContentWrong.apply(f, t),
        lambda f, t: _TotalVariationWrong.apply(f),
    ],
    ids=["gram", "style", "content", "total variation"],
)
def test_gradcheck_catches_each_broken_backward(broken):
    features, target = _features((1, 2, 4, 3)), _features((1, 2, 4, 3), seed=1).detach()
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(lambda f: broken(f, target), (features,), **GRADCHECK)
