"""Newton's method (IRLS) for any model with a closed-form ``hessian``.

``newton`` solves H·Δ = g with the hand-written Hessian of ``nn.functional.hessian``
(past ``NEWTON_MAX_FEATURES`` parameters, by conjugate gradients on the model's
``hessian_product``, never forming H: ``newton_solve``) and backtracks along Δ until the
cost decreases, so it never diverges.  With
``hessian_rows`` it builds H from a fixed random sample of rows (sub-sampled
Newton; Byrd, Chin, Neveitt & Nocedal, SIAM J. Optim. 2011): on tall data H costs
m·n² and the gradient m·n, so a sample makes the step ~m/k times cheaper, while the
gradient and the line search still use every row, so the optimum is the same.
It iterates to convergence (``convergence.default_grad_tol``).
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from .capabilities import Capabilities
from .convergence import default_grad_tol
from .newton_one_neuron import OneNeuronSteps
from .newton_solve import conjugate_gradient
from .newton_solve import solve as _solve

logger = logging.getLogger(__name__)

# An (n+1)×(n+1) solve per step costs O(n³) and O(n²) memory: past this n, Newton solves by conjugate
# gradients on H v when the model offers ``hessian_product``, and the registry falls back to L-BFGS otherwise.
NEWTON_MAX_FEATURES = 4096
# Up to this size of x, Newton keeps a copy [x, 1] (it stays in cache) and steps on θ = [W, b].
SMALL_NEWTON_BYTES = 1 << 20
# "auto" hessian_rows: H from this many rows per parameter once x has far more rows.
AUTO_HESSIAN_ROWS_PER_PARAMETER = 100
AUTO_HESSIAN_MIN_PARAMETERS = 10  # below this, H costs about what the gradient does: never sample


def auto_hessian_rows(m: int, n_params: int) -> int:
    """``optimizer.hessian_rows=auto``: every row (0) unless x is tall and wide enough for H to cost
    more than the gradient, else 100 rows per parameter.

    A Hessian pass costs about P gradient passes: with a handful of parameters it is as
    cheap as the gradient, and the exact H's quadratic convergence wins; from about ten on,
    the sample's cheaper steps do (``benchmarks/solve_time.py`` times both).  At 100k×100 in
    float64, with H's Gram by syrk (``nn.one_pass_hessian``), every row takes 5 steps, 100 rows
    a parameter 9, 200 rows 8 and 50 rows 13: the 9 cheap steps take the least time, as a step's
    cost-and-gradient pass over all of x is then the larger part of it.  The gradient and
    the stopping test always use every row, so the optimum is the same; only the curvature
    that steers each step is sampled.
    """
    rows = AUTO_HESSIAN_ROWS_PER_PARAMETER * n_params
    return rows if n_params > AUTO_HESSIAN_MIN_PARAMETERS and m > 2 * rows else 0


class Newton(OneNeuronSteps, torch.optim.Optimizer):
    """Newton's method: θ := θ − t·H⁻¹∇J with a backtracking line search, for any model with a ``hessian``.

    The Hessian needs the rows themselves, so Newton takes its data as torch.optim's line-search
    methods take a closure: ``set_data(x, y)`` then ``step()``, or ``step_on(x, y)``. t starts at 1 and halves
    until the cost decreases (Armijo); when H is singular, a growing ridge is added.
    Each step reads the cost on the host: Newton needs about ten steps, not thousands.
    Once the largest gradient entry is below ``grad_tol`` it takes the final full step
    and sets ``converged``: no further Hessians.

    A model whose Hessian is singular along known directions (``null_directions()``,
    e.g. the common shift of every class's bias in softmax regression) gets the
    minimum-norm step: the gradient is orthogonal to them, and H + VVᵀ is solved instead
    of H, which moves θ along no direction in V.

    ``hessian_rows`` = k with 0 < k < m builds H from k rows drawn once (seeded by
    ``seed``) instead of all m; 0 uses every row.  A sampled H that asks for a shorter
    step than 1 has misjudged the curvature (a rare feature the sample missed, say), so
    from then on every row is used; the switch is kept in ``state_dict`` for resuming.
    """

    capabilities = Capabilities(
        needs_data=True, iterates_to_convergence=True, has_lr=False, needs_model=("hessian",)
    )

    def __init__(self, model, hessian_rows: int = 0, seed: int = 0, grad_tol: float | None = None):
        if hessian_rows < 0:
            raise ValueError(f"hessian_rows must be >= 0 (0: all rows), got {hessian_rows}")
        params = list(model.parameters())
        super().__init__(params, {"hessian_rows": int(hessian_rows)})
        self.model, self.params, self.seed = model, params, seed
        self.grad_tol = grad_tol if grad_tol is not None else default_grad_tol(params[0].dtype)
        # The fast paths of a model that offers them (one neuron): θ = [W, b], ``nn.functional``'s formulas.
        offered = getattr(model, "one_neuron_parameters", None)
        one_neuron = offered() if offered is not None else None
        self.one_neuron = one_neuron is not None
        self.weight, self.bias = one_neuron if one_neuron is not None else (None, None)
        self.l2 = model.l2 if one_neuron is not None else 0.0
        # stalled: no step lowers the cost any more (rounding), though the gradient test has not fired
        self.converged, self.stalled, self.grad_max = False, False, float("inf")
        self._below_rounding = False  # the last step's predicted decrease was below rounding
        self._in_place = False  # the step under way is a one-neuron one: θ is copied into W and b
        self._cache_key, self._cache = None, None  # small data: x̃, x̃ᵀ, p, diag(p)
        self._sample_key, self._sample = None, None  # the sampled row indices
        self._sampled_key, self._sampled = None, None  # x's sampled rows, gathered
        # The cost (and gradient and Hessian, where known) at the current θ on the data it was computed
        # on: the last accepted candidate's, or ``cost_and_gradient``'s, for the next step.
        self._known: tuple[tuple, tuple, float, Tensor | None, Tensor | None] | None = None
        self._data: tuple | None = None  # (x, y, sample_weight, l2_rows) of the call under way

    def set_data(self, x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2_rows=None) -> None:
        """The rows the next ``step()`` (and every one after, until set again) works on."""
        self._data = (x, y, sample_weight, l2_rows)

    def step(self, closure=None) -> float:
        """One Newton step on the data of ``set_data``; returns the new cost.  It needs no closure."""
        if closure is not None:
            raise TypeError(
                "Newton evaluates the cost itself: give it the data with set_data(x, y), not a closure"
            )
        if self._data is None:
            raise RuntimeError("Newton.step() needs the data first: set_data(x, y) or step_on(x, y)")
        return self.step_on(*self._data)

    @torch.no_grad()
    def step_on(self, x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2_rows=None) -> float:
        """``set_data`` and ``step`` in one, without torch.optim's hooks and profiling wrapper (a sizeable
        share of a small problem's step: see benchmarks/solve_time.py)."""
        self._data = (x, y, sample_weight, l2_rows)
        path = self._path(x, sample_weight, l2_rows)
        self._in_place = path != "any"
        if path == "any":
            return self._step_any_model(x, y, sample_weight, l2_rows)
        if path == "cache":
            return self._step_in_cache(x, y)
        return self._step_blocked(x, y)

    newton_step = step_on  # the name benchmarks and older callers use

    @torch.no_grad()
    def cost_and_gradient(
        self, x: Tensor, y: Tensor, sample_weight: Tensor | None = None, l2_rows=None
    ) -> tuple[float, Tensor]:
        """(J, ∇J) at the current parameters on (x, y), ∇J flat over ``model.parameters()`` in order.

        The next ``step`` on the same tensors starts from this pair instead of computing it
        again: a trainer that logs the full-batch cost and gradient before a step pays for one.
        """
        self._data = (x, y, sample_weight, l2_rows)
        cost, gradient = self._known_cost_and_gradient()
        if gradient is not None:
            return cost, gradient
        path = self._path(x, sample_weight, l2_rows)
        if path == "any":
            cost, gradient = self._any_model_cost_at(x, y, sample_weight, l2_rows)(
                torch.nn.utils.parameters_to_vector(self.params)
            )
        elif path == "cache":  # after a step the cost is known (its line search's), only ∇J is not
            cost, gradient = self._in_cache_cost_and_gradient(x, y, cost)
        else:  # with few parameters, H in the same pass: the next step needs it
            cost, gradient, hessian = self._blocked_derivatives(x, y, self.weight, self.bias, self._fused(x))
            self._remember(cost, gradient, hessian)
            return cost, gradient
        self._remember(cost, gradient)
        return cost, gradient

    def _path(self, x: Tensor, sample_weight: Tensor | None, l2_rows) -> str:
        """ "any" (the model's own methods), "cache" (one neuron, small x) or "blocked" (one neuron,
        row blocks).

        The one-neuron paths need a dense x (not a ``nn.sparse.SparseRows``) and a formed H."""
        if (
            not self.one_neuron
            or not isinstance(x, Tensor)
            or self._matrix_free()
            or sample_weight is not None
            or (l2_rows is not None and l2_rows != len(x))
        ):
            return "any"
        return "cache" if x.numel() * x.element_size() <= SMALL_NEWTON_BYTES else "blocked"

    def _converging(self, gradient: Tensor) -> bool:
        """Record the gradient's largest entry; True when it is below ``grad_tol`` (one host read)."""
        self.grad_max = float(gradient.abs().max())
        return self.grad_max < self.grad_tol

    def _final_step(self, theta: Tensor, direction: Tensor, cost_at) -> float:
        """The full step H⁻¹g once the gradient test fires: it squares the remaining error."""
        candidate = theta - direction
        new, *derivatives = cost_at(candidate)
        self._write(candidate, new, *derivatives)
        self.converged = True
        return new

    def _any_model_cost_at(self, x: Tensor, y: Tensor, sample_weight: Tensor | None, l2_rows):
        """cost_at(θ') -> (J, ∇J) at θ' through the model's ``cost_and_grads``; the parameters stay as
        they were."""
        model, params = self.model, self.params

        def cost_at(candidate: Tensor) -> tuple[float, Tensor]:
            theta = torch.nn.utils.parameters_to_vector(params)
            torch.nn.utils.vector_to_parameters(candidate, params)
            value, grads = model.cost_and_grads(
                x, y, sample_weight=sample_weight, l2_rows=l2_rows, with_cost=True
            )
            torch.nn.utils.vector_to_parameters(theta, params)
            return value.item(), torch.cat([g.reshape(-1) for g in grads])

        return cost_at

    def _step_any_model(self, x: Tensor, y: Tensor, sample_weight: Tensor | None, l2_rows) -> float:
        """One step through the model's own ``cost_and_grads`` and ``hessian``, over all its parameters."""
        model = self.model
        theta = torch.nn.utils.parameters_to_vector(self.params)
        cost_at = self._any_model_cost_at(x, y, sample_weight, l2_rows)
        start, gradient = self._known_cost_and_gradient()
        if gradient is None:
            start, gradient = cost_at(theta)
        # Conjugate gradients need no V (see ``_direction``); with l2 = 0 a wide softmax's V is (P, n + 1).
        wants_null = hasattr(model, "null_directions") and not self._matrix_free()
        null = model.null_directions() if wants_null else None
        if null is not None and null.shape[1]:
            null = null.to(gradient)
            gradient = gradient - null @ (null.T @ gradient)  # exactly 0 along V, but for rounding
        converging = self._converging(gradient)
        sampled = (
            None if converging else self._sampled_rows_here(x)
        )  # the final step squares the error: exact H
        if sampled is not None:  # the sample's mean curvature, with the full data's L2 divisor
            full = l2_rows if l2_rows is not None else self._total_rows(x, sample_weight)
            x, sample_weight, l2_rows = (
                x[sampled],
                None if sample_weight is None else sample_weight[sampled],
                full,
            )
        direction = self._direction(x, gradient, sample_weight, l2_rows, null)
        if converging:
            return self._final_step(theta, direction, cost_at)
        return self._line_search(theta, direction, gradient, start, cost_at)

    def _matrix_free(self) -> bool:
        """Too many parameters for a (P, P) H, and a model that offers H v: conjugate gradients."""
        size = sum(p.numel() for p in self.params)
        return size > NEWTON_MAX_FEATURES + 1 and hasattr(self.model, "hessian_product")

    def _direction(self, x, gradient: Tensor, sample_weight, l2_rows, null) -> Tensor:
        """Δ = H⁻¹g on the rows x: from the model's ``hessian`` or, past the size limit, its
        ``hessian_product``.

        Along the null directions V the formed H gets H + c·VVᵀ (the minimum-norm step); CG needs
        nothing, as g ⟂ V (Σ_k ∂J/∂b_k = 0) keeps every CG direction ⟂ V."""
        model = self.model
        if self._matrix_free():
            return conjugate_gradient(
                model.hessian_product(x, sample_weight=sample_weight, l2_rows=l2_rows), gradient
            )
        hessian = model.hessian(x, sample_weight=sample_weight, l2_rows=l2_rows)
        if null is not None and null.shape[1]:
            hessian = hessian + float(hessian.diagonal().abs().mean() or 1.0) * (null @ null.T)
        return _solve(hessian, gradient)

    def _sampled_rows_here(self, x) -> Tensor | None:
        """The rows of x in the Hessian's sample, or None for every row.

        The sample is drawn from the global row index (``row_span``: where this worker's rows
        start among all the training rows, and how many there are), so workers together use
        one process's sample.  Streamed data use every row: they have no rows to pick from."""
        if not hasattr(x, "index_select"):
            return None
        count = x.shape[0]
        start, total = self.model.row_span(count) if hasattr(self.model, "row_span") else (0, count)
        sample = self._sample_rows(total, x.device)
        if sample is None:
            return None
        return sample[(sample >= start) & (sample < start + count)] - start

    def _total_rows(self, x, sample_weight):
        """The full count (or Σs) of the rows, over every worker: the L2 term's divisor."""
        if hasattr(self.model, "total_rows"):
            return self.model.total_rows(x, sample_weight)
        return x.shape[0] if sample_weight is None else sample_weight.sum()

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

    def _versions(self) -> tuple[tuple[int, int], ...]:
        # _version counts in-place writes; data_ptr catches ``.data =`` (vector_to_parameters),
        # which it does not.
        return tuple((p.data_ptr(), p._version) for p in self.params)

    def _known_cost_and_gradient(self) -> tuple[float | None, Tensor | None]:
        """The cost (and gradient, where computed) remembered at the current parameters, if they
        have not changed since and the step is on the same tensors (a new mini-batch is new data)."""
        known = self._known
        if (
            known is not None
            and known[1] == self._versions()
            and all(a is b for a, b in zip(known[0], self._data))
        ):
            return known[2], known[3]
        return None, None

    def _known_hessian(self) -> Tensor | None:
        """The Hessian remembered at the current parameters and data (see ``_known_cost_and_gradient``)."""
        return self._known[4] if self._known_cost_and_gradient()[1] is not None else None

    def _remember(self, cost: float, gradient: Tensor | None, hessian: Tensor | None = None) -> None:
        # The data tensors themselves, not their addresses: a freed batch's memory can hold the next one.
        self._known = (self._data, self._versions(), cost, gradient, hessian)

    def _write(
        self, candidate: Tensor, cost: float, gradient: Tensor | None, hessian: Tensor | None = None
    ) -> None:
        """θ := candidate, remembering its cost, gradient and (where computed) Hessian for the next step."""
        if self._in_place:  # W and b keep their storage: two copies, no ``.data`` swap
            self.weight.copy_(candidate[:-1].view_as(self.weight))
            self.bias.copy_(candidate[-1:])
        else:  # the model's own path swaps ``.data`` in its cost_at: it writes the same way
            torch.nn.utils.vector_to_parameters(candidate, self.params)
        self._remember(cost, gradient, hessian)

    def _line_search(self, theta, direction, gradient, start: float, cost_at) -> float:
        """θ − t·Δ for t = 1, ½, ¼, … until the cost drops by the Armijo amount; writes W and b.
        ``cost_at(θ)`` returns (J, ∇J or None[, ∇²J]); the accepted point's are kept for the next step.
        A predicted decrease below rounding leaves θ alone: the gradient test decides convergence."""
        slope = float(gradient @ direction)
        if not slope > 1e-15 * max(1.0, abs(start)):
            # The cost cannot see a step this small, but the gradient can: take the full Newton step
            # (it squares the error) once; if the next step is as small, the run has stalled.
            if self._below_rounding:
                self.stalled = True
                return start
            self._below_rounding = True
            new, *derivatives = cost_at(theta - direction)
            self._write(theta - direction, new, *derivatives)
            return new
        self._below_rounding = False  # the predicted decrease is below rounding: at the optimum; θ unchanged
        step_size = 1.0
        for _ in range(40):
            candidate = theta - step_size * direction
            new, *derivatives = cost_at(candidate)
            if new <= start - 1e-4 * step_size * slope:
                self._write(candidate, new, *derivatives)
                if step_size < 1:
                    self._stop_sampling("needed a step shorter than 1")
                return new
            step_size /= 2
        self._no_progress()
        return start  # no decrease found: at the optimum to machine precision; θ unchanged

    def _no_progress(self) -> None:
        """θ could not move: with a sampled H, try every row; with every row, the run has stalled."""
        if self.param_groups[0]["hessian_rows"] and self._sample_key is not None:
            self._stop_sampling("found no decrease")
        else:
            self.stalled = True

    def _stop_sampling(self, why: str) -> None:
        group = self.param_groups[0]
        if group["hessian_rows"] and self._sample_key is not None:
            logger.info(
                "newton: the Hessian from %d sampled rows %s; using all rows from now on",
                group["hessian_rows"],
                why,
            )
            group["hessian_rows"] = 0
            self._sample_key = self._sample = None
