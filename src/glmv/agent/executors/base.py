"""The executor seam: :class:`Executor` (``observe()`` and ``act(action) -> Observation``), what it sees
(:class:`Observation`, with the set-of-marks :class:`Mark` list on the web) and what it can say about the target
of an action before acting (:class:`Target`, read by the safety gate).

Executors are transports: they know screens, not prompts or models. An action reaches ``act`` in **pixels** of the
last observation's screenshot (the loop converts and clamps); a set-of-marks action keeps its ``label``. An
executor raises :class:`ExecutorError` for anything that goes wrong while acting (element gone, device offline,
display missing), which the loop turns into an observation the model sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from glmv.actions import Action
from glmv.errors import GlmvError

__all__ = ["Executor", "ExecutorError", "Mark", "Observation", "Target"]


class ExecutorError(GlmvError):
    """An action could not be carried out (the message says why, for the model and the user to read)."""


@dataclass(frozen=True)
class Mark:
    """One labelled interactive element of a web page: its number, tag, text and box in screenshot pixels.

    ``password`` / ``submits`` / ``href`` / ``in_form`` let the safety gate tell risky actions on it.
    """

    label: int
    tag: str
    text: str
    box: tuple[float, float, float, float]
    input_type: str = ""
    password: bool = False
    submits: bool = False
    in_form: bool = False
    href: str = ""

    def describe(self) -> str:
        """The element line of the web prompt: ``[3]: <input> "Search";`` (an input's type when it is not text)."""
        typed = self.tag == "input" and self.input_type not in ("", "text")
        kind = f'<{self.tag} type="{self.input_type}">' if typed else f"<{self.tag}>"
        return f'[{self.label}]: {kind} "{self.text}";'

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "tag": self.tag,
            "text": self.text,
            "box": list(self.box),
            "input_type": self.input_type,
            "password": self.password,
            "submits": self.submits,
            "in_form": self.in_form,
            "href": self.href,
        }


@dataclass
class Observation:
    """What the screen looks like now: the screenshot (what the model is shown: with set-of-marks labels drawn on
    the web), its size, the page URL / window title, a note on what happened (an error, a new tab, a clamp), and
    the marks. ``error`` is True when the last action failed."""

    screenshot: Image.Image
    url: str = ""
    title: str = ""
    note: str = ""
    marks: list[Mark] = field(default_factory=list)
    error: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return self.screenshot.size

    def mark(self, label: object) -> Mark | None:
        """The mark numbered ``label`` (an int or its text), or None."""
        for mark in self.marks:
            if str(mark.label) == str(label):
                return mark
        return None

    def elements_text(self) -> str:
        """The element list the web prompt carries (section B / E): one ``[i]: <tag> "text";`` per mark."""
        return "\n".join(mark.describe() for mark in self.marks)


@dataclass(frozen=True)
class Target:
    """What an action would touch, as far as the executor can tell before acting (for the safety gate)."""

    password: bool = False
    submits: bool = False
    url: str = ""
    description: str = ""


class Executor:
    """Base of the executors: ``observe()``, ``act(action)``, ``inspect(action)``, ``close()``; a context manager.

    ``platform`` is ``web``, ``desktop`` or ``mobile``: the prompt family and action dialect the loop uses.
    """

    platform: str = "desktop"
    name: str = "executor"

    def observe(self) -> Observation:
        """The screen as it is now."""
        raise NotImplementedError

    def act(self, action: Action) -> Observation:
        """Carry out ``action`` (pixels, or a set-of-marks label) and return the screen after it."""
        raise NotImplementedError

    def inspect(self, action: Action) -> Target:
        """What ``action`` would touch; the default knows nothing."""
        return Target()

    def close(self) -> None:
        """Release what the executor holds (browser, display, connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
