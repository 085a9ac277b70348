"""The agent's executors, behind one seam: ``observe()`` and ``act(action) -> Observation``.

Built in: ``dry-run`` (:class:`DryRunExecutor`, any platform, touches nothing), ``browser``
(:class:`~glmv.agent.executors.browser.BrowserExecutor`, Playwright on the system Chromium, set-of-marks labels),
``desktop`` (:class:`~glmv.agent.executors.desktop.DesktopExecutor`, X11 through xdotool, screenshots through mss,
on the user's display or a private Xvfb) and ``android``
(:class:`~glmv.agent.executors.android.AndroidExecutor`, the ``adb`` program). ``open_executor(name, **options)``
builds one; ``register_executor`` adds a kind, and third parties register through the ``glmv.executors`` entry-point
group the same way. The heavy ones import their dependencies only when built.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from glmv.agent.executors.base import Executor, ExecutorError, Mark, Observation, Target
from glmv.agent.executors.dryrun import DryRunExecutor
from glmv.errors import ConfigError

__all__ = [
    "DryRunExecutor",
    "Executor",
    "ExecutorError",
    "Mark",
    "Observation",
    "Target",
    "available_executors",
    "open_executor",
    "register_executor",
]

_BUILT_IN = {
    "browser": ("glmv.agent.executors.browser", "BrowserExecutor"),
    "desktop": ("glmv.agent.executors.desktop", "DesktopExecutor"),
    "android": ("glmv.agent.executors.android", "AndroidExecutor"),
}
_REGISTRY: dict[str, Callable[..., Executor]] = {"dry-run": DryRunExecutor}


def register_executor(name: str, factory: Callable[..., Executor]) -> None:
    """Make ``open_executor(name, **options)`` call ``factory(**options)``."""
    if not name:
        raise ConfigError("An executor name cannot be empty.")
    _REGISTRY[name] = factory


def _entry_point(name: str) -> Callable[..., Executor] | None:
    for point in entry_points(group="glmv.executors"):
        if point.name == name:
            return point.load()
    return None


def available_executors() -> list[str]:
    """The executor names :func:`open_executor` knows."""
    names = set(_REGISTRY) | set(_BUILT_IN) | {point.name for point in entry_points(group="glmv.executors")}
    return sorted(names)


def open_executor(name: str, **options: Any) -> Executor:
    """A new executor of kind ``name`` built with ``options``; raises :class:`~glmv.errors.ConfigError` for an
    unknown name."""
    factory = _REGISTRY.get(name)
    if factory is None and name in _BUILT_IN:
        module, attribute = _BUILT_IN[name]
        factory = getattr(import_module(module), attribute)
    if factory is None:
        factory = _entry_point(name)
    if factory is None:
        raise ConfigError(f"Unknown executor {name!r}; use one of {', '.join(available_executors())}.")
    return factory(**options)
