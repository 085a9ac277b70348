"""Replaying a recorded run: :func:`replay` carries out its actions again, in order, on an executor.

Each step that acted in the record (status ``acted`` or ``error``) is taken again from its action in thousandths,
converted against the replaying executor's own screen (so a different window size still lands on the same place);
set-of-marks labels are resolved on the page as it is now. Refused, failed and final steps are not acted. Used to
reproduce a bug: the observations come back for a test or a person to compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from glmv.actions import Action, action_from_dict
from glmv.agent.executors.base import Executor, ExecutorError, Observation
from glmv.agent.record import load_trajectory

__all__ = ["ReplayedStep", "replay"]

_ACTED = frozenset({"acted", "error"})


@dataclass
class ReplayedStep:
    """One replayed step: the recorded step number, the action carried out, the screen after it, the error."""

    step: int
    action: Action
    observation: Observation | None
    error: str | None = None


def replay(
    folder: str | Path,
    executor: Executor,
    *,
    delay: float = 0.0,
    on_step: Callable[[ReplayedStep], None] | None = None,
) -> list[ReplayedStep]:
    """Carry out the acted steps of the run recorded in ``folder`` on ``executor``, ``delay`` seconds apart."""
    from glmv.agent.loop import clamp_action

    trajectory = load_trajectory(folder)
    observation = executor.observe()
    replayed: list[ReplayedStep] = []
    for record in trajectory.steps:
        if record.get("status") not in _ACTED or not record.get("action"):
            continue
        action = action_from_dict(record["action"])
        width, height = observation.size
        pixels = clamp_action(action, width, height)[0].to_pixels(width, height)
        try:
            observation = executor.act(pixels)
            step = ReplayedStep(record["step"], pixels, observation)
        except ExecutorError as exc:
            step = ReplayedStep(record["step"], pixels, None, str(exc))
            observation = executor.observe()
        replayed.append(step)
        if on_step is not None:
            on_step(step)
        if delay:
            time.sleep(delay)
    return replayed
