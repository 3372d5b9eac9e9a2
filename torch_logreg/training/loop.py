"""The loop: minimize an objective over parameters, step by step, knowing nothing of what it minimizes.

It sees an ``Objective``: a step, an evaluation that logs and returns the cost, the optimizer's
own convergence test, and the hooks for checkpoints, signals and the end.  Classifying rows
(``Trainer``) is one objective; optimizing an image's pixels would be another.  What the loop
owns is the schedule, the same for every objective:

* evaluate at iteration 0, every ``log_every`` steps, at the last step and when converged: the
  evaluation is the one host sync, so between log steps a GPU queues the steps without waiting;
* stop at ``total`` steps, when the objective's optimizer says it converged (``converged()``), or
  when the logged cost changed by less than ``tol`` between two log steps;
* save every ``checkpoint_every`` steps;
* on SIGINT/SIGTERM finish the step, then let the objective save and raise (a second signal
  stops at once).  Under torchrun ``agree`` makes every worker stop after the same step.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

logger = logging.getLogger(__name__)


class Objective(Protocol):
    iteration: int  # steps taken so far (a resumed run starts past 0)

    def step_at(self, it: int) -> None:
        """One optimizer step on iteration ``it``'s batch, without reading anything back."""

    def log(self, it: int) -> float:
        """Evaluate, write the logs, check the values are finite; the cost (the one host sync)."""

    def converged(self) -> bool:
        """After a step: the optimizer's own test was met (or it can make no more progress)."""

    def checkpoint(self, seconds: float) -> None:
        """Write what a resume needs."""

    def interrupted(self, signum: int, seconds: float) -> None:
        """Save and raise: the run was asked to stop."""

    def finish(self, seconds: float, end: LoopEnd):
        """The end of the run; what it returns, ``minimize`` returns."""


@dataclass(frozen=True)
class Schedule:
    total: int  # the last iteration
    log_every: int
    tol: float | None = None  # stop when the logged cost changes by less than this
    checkpoint_every: int | None = None
    progress: bool = False  # a progress bar on a terminal, for long runs


@dataclass(frozen=True)
class LoopEnd:
    """Why the loop ended: ``converged`` (the optimizer's test, before ``total``), ``tol_reached``, and the
    last change of the logged cost (``tol_change``, None before two log steps)."""

    converged: bool
    tol_reached: bool
    tol_change: float | None


def minimize(objective: Objective, schedule: Schedule, agree: Callable[[bool], bool] = bool):
    """Run ``objective`` on ``schedule``; return ``objective.finish(seconds, end)``.

    ``agree(flag)`` is True when any worker's flag is (torchrun); alone it is the flag itself."""
    start = time.perf_counter()
    total = schedule.total
    bar = tqdm(
        total=total,
        initial=objective.iteration,
        unit="it",
        leave=False,
        disable=not (schedule.progress and sys.stderr.isatty() and total >= 1000),
    )
    with contextlib.ExitStack() as stack:
        if not bar.disable:  # log lines go through tqdm.write so they do not tear the bar
            stack.enter_context(logging_redirect_tqdm())
        stack.callback(bar.close)
        stop = stack.enter_context(StopRequests())
        last_cost = change = None
        converged = tol_reached = False
        while True:
            it = objective.iteration
            if it % schedule.log_every == 0 or it == total or converged:
                cost = objective.log(it)
                bar.update(it - bar.n)
                change = abs(last_cost - cost) if last_cost is not None else None
                if schedule.tol and change is not None and change < schedule.tol:
                    tol_reached = True
                    logger.info(
                        "converged at iteration %d: the cost changed by less than train.tol=%g",
                        it,
                        schedule.tol,
                    )
                    break
                last_cost = cost
            if it >= total or converged:
                break
            objective.step_at(it)
            objective.iteration = it + 1
            converged = objective.converged()
            if agree(stop.signum is not None):
                objective.interrupted(stop.signum or signal.SIGTERM, time.perf_counter() - start)
            if schedule.checkpoint_every and objective.iteration % schedule.checkpoint_every == 0:
                objective.checkpoint(time.perf_counter() - start)
        end = LoopEnd(converged and objective.iteration < total, tol_reached, change)
        return objective.finish(time.perf_counter() - start, end)


class StopRequests:
    """While entered (in the main thread): SIGINT and SIGTERM set ``signum`` instead of stopping the process,
    so the loop ends its step and saves; a second signal raises ``KeyboardInterrupt`` at once."""

    def __init__(self, notice: str = "finishing this step, then saving a checkpoint"):
        self.signum: int | None = None
        self.notice = notice  # said on the first signal, after its name
        self._previous: dict = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                sig: signal.signal(sig, self._request) for sig in (signal.SIGINT, signal.SIGTERM)
            }
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _request(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        logger.warning("%s: %s", signal.Signals(signum).name, self.notice)
        self.signum = signum
