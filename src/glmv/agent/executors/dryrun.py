"""The dry-run executor: records what would be done, on any platform, and touches nothing.

Its screen is a fixed image (a blank one of the given size, or a screenshot you pass, e.g. to replay a recorded
run); :attr:`DryRunExecutor.actions` lists every action it was given. It is the fake the agent's own tests use.
"""

from __future__ import annotations

from PIL import Image

from glmv.actions import Action
from glmv.agent.executors.base import Executor, Mark, Observation

__all__ = ["DryRunExecutor"]


class DryRunExecutor(Executor):
    """Records actions; every observation shows ``screenshot`` (or a blank ``width`` × ``height`` screen)."""

    name = "dry-run"

    def __init__(
        self,
        platform: str = "desktop",
        *,
        width: int = 1280,
        height: int = 800,
        screenshot: Image.Image | None = None,
        url: str = "",
        title: str = "dry run",
        marks: list[Mark] | None = None,
    ) -> None:
        self.platform = platform
        self.screen = (
            screenshot.convert("RGB")
            if screenshot is not None
            else Image.new("RGB", (width, height), "white")
        )
        self.url = url
        self.title = title
        self.marks = list(marks or [])
        self.actions: list[Action] = []

    def observe(self) -> Observation:
        return Observation(self.screen.copy(), url=self.url, title=self.title, marks=list(self.marks))

    def act(self, action: Action) -> Observation:
        self.actions.append(action)
        observation = self.observe()
        observation.note = f"dry run: {action.kind} not carried out"
        return observation
