"""Verifiers made of Python functions: ``file_based`` (a user's own file) and the GUI-agent types.

A ``file_based`` config names a file and a function for extraction and for judging, as in the official
glmv_reward (paths relative to the working directory; ``load_once`` caches the loaded functions). The calls are
positional: ``extract(response, question)`` and ``judge(extracted, ground_truth, question, image_file)``.

``AndroidWorld``, ``OSWorld`` and ``WebVoyager`` use glmv's built-in formulas (:mod:`glmv.reward.gui_agent`)
when the configured file is the official ``scripts/gui_agent/<Name>.py`` or no file is given; any other path
loads that file like ``file_based``. A judge that raises ``ValueError`` on its ground truth (bad data) is
reported as an error, never as a plain 0.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from glmv.errors import ConfigError
from glmv.reward.config import FileBasedConfig
from glmv.reward.verifiers.base import Services, Verdict, Verifier

__all__ = [
    "AndroidWorldVerifier",
    "FileBasedVerifier",
    "OSWorldVerifier",
    "WebVoyagerVerifier",
    "load_function",
]


def load_function(path: str, name: str, *, where: str) -> Callable[..., Any]:
    """Function ``name`` from the Python file at ``path``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{where}: no Python file at {path} (relative to {Path.cwd()}). Fix the path.")
    spec = importlib.util.spec_from_file_location(f"glmv_reward_user_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot load {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"{where}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"{where}: {path} has no function named '{name}'.")
    return function


class FileBasedVerifier(Verifier):
    config_class = FileBasedConfig
    config: FileBasedConfig
    builtin: ClassVar[str | None] = None

    def __init__(self, config: FileBasedConfig, *, services: Services | None = None, name: str = "") -> None:
        super().__init__(config, services=services, name=name)
        self._functions: tuple[Callable[..., Any], Callable[..., Any]] | None = self._builtin_functions()
        if self._functions is None:
            for key in ("extract_answer_file_path", "judge_func_path"):
                if getattr(config, key) is None:
                    raise ConfigError(f"{self.where}: missing required key '{key}'.")
            if config.load_once:
                self._functions = self._load()

    def _builtin_functions(self) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
        if self.builtin is None:
            return None
        official = f"scripts/gui_agent/{self.builtin}.py"
        paths = {self.config.extract_answer_file_path, self.config.judge_func_path}
        if not paths <= {None, official}:
            return None
        from glmv.reward import gui_agent

        prefix = {"AndroidWorld": "android_world", "OSWorld": "osworld", "WebVoyager": "webvoyager"}[
            self.builtin
        ]
        return getattr(gui_agent, f"{prefix}_extract"), getattr(gui_agent, f"{prefix}_judge")

    def _load(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        c = self.config
        return (
            load_function(
                c.extract_answer_file_path or "",
                c.extract_answer_func_name,
                where=f"{self.where}.extract_answer_file_path",
            ),
            load_function(c.judge_func_path or "", c.judge_func_name, where=f"{self.where}.judge_func_path"),
        )

    @property
    def functions(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        return self._functions or self._load()

    def extract_answer(self, response: Any, question: str | None = None) -> Any:
        return self.functions[0](response, question)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        try:
            reward = float(self.functions[1](extracted_answer, ground_truth, question, image_file))
        except ValueError as exc:
            return Verdict(0.0, "bad ground truth", error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            return Verdict(0.0, "judge function failed", error=f"{type(exc).__name__}: {exc}")
        if reward != reward:  # NaN
            return Verdict(0.0, "judge function returned NaN", error="the judge function returned NaN")
        return Verdict(min(max(reward, 0.0), 1.0), f"{self.builtin or 'file_based'} score {reward:g}")


class AndroidWorldVerifier(FileBasedVerifier):
    builtin = "AndroidWorld"


class OSWorldVerifier(FileBasedVerifier):
    builtin = "OSWorld"


class WebVoyagerVerifier(FileBasedVerifier):
    builtin = "WebVoyager"
