"""Optimizers: the document's gradient descent, torch.optim's, and Newton's method (IRLS).

``gd`` is w := w − α·dw by hand; ``sgd``, ``adam`` and ``lbfgs`` are torch.optim's;
``newton`` solves H·Δ = g with the hand-written Hessian of ``functional.hessian``
and backtracks along Δ until the cost decreases, so it never diverges.  With
``hessian_rows`` it builds H from a fixed random sample of rows (sub-sampled
Newton; Byrd, Chin, Neveitt & Nocedal, SIAM J. Optim. 2011): on tall data H costs
m·n² and the gradient m·n, so a sample makes the step ~m/k times cheaper, while the
gradient and the line search still use every row, so the optimum is the same.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from . import functional as LF

logger = logging.getLogger(__name__)

# An (n+1)×(n+1) solve per step costs O(n³) and O(n²) memory; past this n, L-BFGS is cheaper.
NEWTON_MAX_FEATURES = 4096
# Up to this size of x, Newton keeps a copy [x, 1] (it stays in cache) and steps on θ = [W, b].
SMALL_NEWTON_BYTES = 1 << 20


class GradientDescent(torch.optim.Optimizer):
    """The document's update, w := w − α·dw, for every parameter."""

    def __init__(self, params, lr: float):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(p.grad, alpha=group["lr"])
        return loss


class Newton(torch.optim.Optimizer):
    """Newton's method for the one-neuron model: θ := θ − t·H⁻¹∇J with a backtracking line search.

    ``step(x, y)`` takes the data, since the Hessian needs it. t starts at 1 and halves
    until the cost decreases (Armijo); when H is singular, a growing ridge is added.
    Each step reads the cost on the host: Newton needs about ten steps, not thousands.

    ``hessian_rows`` = k with 0 < k < m builds H from k rows drawn once (seeded by
    ``seed``) instead of all m; 0 uses every row.  A sampled H that asks for a shorter
    step than 1 has misjudged the curvature (a rare feature the sample missed, say), so
    from then on every row is used; the switch is kept in ``state_dict`` for resuming.
    """

    def __init__(self, weight: Tensor, bias: Tensor, l2: float = 0.0, hessian_rows: int = 0, seed: int = 0):
        if hessian_rows < 0:
            raise ValueError(f"hessian_rows must be >= 0 (0: all rows), got {hessian_rows}")
        super().__init__([weight, bias], {"hessian_rows": int(hessian_rows)})
        self.weight, self.bias, self.l2, self.seed = weight, bias, l2, seed
        self._cache_key, self._cache = None, None  # small data: x̃, x̃ᵀ, p, diag(p)
        self._sample_key, self._sample = None, None  # the sampled row indices
        self._sampled_key, self._sampled = None, None  # x's sampled rows, gathered
        self._accepted: tuple[int, int, float, Tensor | None] | None = None

    def step(self, x: Tensor, y: Tensor) -> float:  # type: ignore[override]
        """One Newton step on (x, y); returns the new cost."""
        return self.newton_step(x, y)

    @torch.no_grad()
    def newton_step(self, x: Tensor, y: Tensor) -> float:
        """``step`` without torch.optim's hooks and profiling wrapper (~20 µs of a ~120 µs step)."""
        if x.numel() * x.element_size() <= SMALL_NEWTON_BYTES:
            return self._step_in_cache(x, y)
        return self._step_blocked(x, y)

    def _step_blocked(self, x: Tensor, y: Tensor) -> float:
        """One step in ``row_blocks``.  The line search computes each candidate's gradient in
        the same pass as its cost, while a block of x is in cache; the accepted candidate's
        is the next step's gradient, so a step reads x once, not twice (plus H's pass)."""
        weight, bias, l2 = self.weight, self.bias, self.l2
        start, gradient = self._known_cost_and_gradient()
        if gradient is None:
            start, gradient = _cost_and_gradient(x, y, weight, bias, l2)
        sample = self._sampled_x(x)
        if sample is None:
            hessian = LF.hessian(x, weight, bias, l2)
        else:  # the sample's mean curvature, with the full data's penalty l2/m
            hessian = LF.hessian(sample, weight, bias, l2 * len(sample) / len(x))
        direction = _solve(hessian, gradient)
        theta = torch.cat([weight.reshape(-1), bias])

        def cost_at(candidate: Tensor) -> tuple[float, Tensor]:
            return _cost_and_gradient(x, y, candidate[:-1].view_as(weight), candidate[-1:], l2)

        return self._line_search(theta, direction, gradient, start, cost_at)

    def _sample_rows(self, m: int, device: torch.device) -> Tensor | None:
        """The sorted row indices H is built from, or None for all m rows; the same every call."""
        rows = self.param_groups[0]["hessian_rows"]
        if not 0 < rows < m:
            return None
        key = (m, rows, device)
        if self._sample_key != key:
            generator = torch.Generator().manual_seed(self.seed)
            self._sample = torch.randperm(m, generator=generator)[:rows].sort().values.to(device)
            self._sample_key = key
        return self._sample

    def _sampled_x(self, x: Tensor) -> Tensor | None:
        """x's sampled rows, gathered once per data tensor (not once per step)."""
        rows = self._sample_rows(x.shape[0], x.device)
        if rows is None:
            return None
        key = (x.data_ptr(), tuple(x.shape), x._version, len(rows))
        if self._sampled_key != key:
            self._sampled, self._sampled_key = x.index_select(0, rows), key
        return self._sampled

    def _known_cost_and_gradient(self) -> tuple[float | None, Tensor | None]:
        """The cost (and gradient, where computed) the last line search accepted, if W and b
        have not changed since."""
        known = self._accepted
        if known is not None and known[:2] == (self.weight._version, self.bias._version):
            return known[2], known[3]
        return None, None

    def _step_in_cache(self, x: Tensor, y: Tensor) -> float:
        """The same step on small data, with the bias folded into θ = [W, b] and x̃ = [x, 1]:
        z = x̃θ, g = x̃ᵀ(σ(z) − y)/m + pθ, H = x̃ᵀ diag(σ(z)(1 − σ(z))/m) x̃ + diag(p), with
        p = l2/m on the weights and 0 on the bias.  A few dozen ops a step instead of ~90:
        on 427×30 the ops' overhead, not the arithmetic, is the time."""
        x_tilde, x_tilde_t, penalty, penalty_matrix = self._augmented(x)
        m = x.shape[0]
        theta = torch.cat([self.weight.reshape(-1), self.bias])  # (n+1,)
        a = torch.sigmoid(torch.mv(x_tilde, theta))
        gradient = torch.addmv(penalty * theta, x_tilde_t, a - y, alpha=1 / m)
        rows = self._sample_rows(m, x.device)
        xt_h, x_h, a_h = (x_tilde_t, x_tilde, a) if rows is None else (x_tilde_t[:, rows], x_tilde[rows], a[rows])
        hessian = torch.addmm(penalty_matrix, xt_h * (a_h - a_h * a_h), x_h, alpha=1 / len(x_h))
        direction = _solve(hessian, gradient)

        def cost_at(candidate: Tensor) -> tuple[float, None]:
            return float(LF.logistic_cost_forward(torch.mv(x_tilde, candidate), y)
                         + 0.5 * penalty.dot(candidate * candidate)), None

        start, _ = self._known_cost_and_gradient()
        if start is None:
            start = cost_at(theta)[0]
        return self._line_search(theta, direction, gradient, start, cost_at)

    def _augmented(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x̃ = [x, 1], x̃ᵀ (contiguous: the products below read it row by row), p and diag(p)."""
        key = (x.data_ptr(), tuple(x.shape), x._version)
        if self._cache_key != key:
            ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
            penalty = torch.full((x.shape[1] + 1,), self.l2 / x.shape[0], dtype=x.dtype, device=x.device)
            penalty[-1] = 0.0  # the bias is never penalized
            x_tilde = torch.cat([x, ones], 1)
            self._cache, self._cache_key = (x_tilde, x_tilde.T.contiguous(), penalty, torch.diag(penalty)), key
        return self._cache

    def _line_search(self, theta, direction, gradient, start: float, cost_at) -> float:
        """θ − t·Δ for t = 1, ½, ¼, … until the cost drops by the Armijo amount; writes W and b.
        ``cost_at(θ)`` returns (J, ∇J or None); the accepted point's pair is kept for the next step."""
        slope = float(gradient @ direction)
        if not slope > 1e-15 * max(1.0, abs(start)):
            return start  # the predicted decrease is below rounding: at the optimum; θ unchanged
        step_size = 1.0
        for _ in range(40):
            candidate = theta - step_size * direction
            new, gradient_at = cost_at(candidate)
            if new <= start - 1e-4 * step_size * slope:
                self.weight.copy_(candidate[:-1].view_as(self.weight))
                self.bias.copy_(candidate[-1:])
                self._accepted = (self.weight._version, self.bias._version, new, gradient_at)
                if step_size < 1:
                    self._stop_sampling("needed a step shorter than 1")
                return new
            step_size /= 2
        self._stop_sampling("found no decrease")
        return start  # no decrease found: at the optimum to machine precision; θ unchanged

    def _stop_sampling(self, why: str) -> None:
        group = self.param_groups[0]
        if group["hessian_rows"] and self._sample_key is not None:
            logger.info("newton: the Hessian from %d sampled rows %s; using all rows from now on",
                        group["hessian_rows"], why)
            group["hessian_rows"] = 0
            self._sample_key = self._sample = None


def _cost_and_gradient(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float) -> tuple[float, Tensor]:
    """(J, ∇J over θ = [W, b]) in one pass over x."""
    cost, dweight, dbias = LF.cost_and_grads(x, y, weight, bias, l2, with_cost=True)
    return cost.item(), torch.cat([dweight.reshape(-1), dbias])


def _solve(matrix: Tensor, rhs: Tensor) -> Tensor:
    """H⁻¹g by Cholesky; a singular H (separable data, l2 = 0) gets a growing ridge."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    ridge, scale = 0.0, None
    for _ in range(12):
        if int(info) == 0:
            return torch.cholesky_solve(rhs.unsqueeze(1), factor).squeeze(1)
        scale = scale or float(matrix.diagonal().abs().max()) or 1.0
        ridge = max(ridge * 10, 1e-10 * scale)
        factor, info = torch.linalg.cholesky_ex(matrix + ridge * torch.eye(len(matrix), dtype=matrix.dtype,
                                                                            device=matrix.device))
    return torch.linalg.lstsq(matrix, rhs.unsqueeze(1)).solution.squeeze(1)


def make_optimizer(name: str, model, lr: float, momentum: float = 0.0, n_features: int | None = None,
                   hessian_rows: int = 0, seed: int = 0):
    """The optimizer that ``optimizer.name`` asks for.  ``newton`` falls back to lbfgs past
    ``NEWTON_MAX_FEATURES``, with a log line; ``hessian_rows`` and ``seed`` are newton's."""
    if name == "newton" and (n_features := n_features or model.weight.shape[1]) > NEWTON_MAX_FEATURES:
        logger.warning("newton: %d features is too many for an n×n solve; using lbfgs", n_features)
        name = "lbfgs"
    params = list(model.parameters())
    if name == "gd":
        return GradientDescent(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
    if name == "newton":
        return Newton(model.weight, model.bias, model.l2, hessian_rows=hessian_rows, seed=seed)
    raise ValueError(f"unknown optimizer {name!r}")
