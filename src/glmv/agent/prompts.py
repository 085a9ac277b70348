"""The GLM-V agent prompts, per platform (mobile / desktop / web) and layout (GLM-4.1V vs GLM-4.5V / 4.6V).

The texts are the official ones (zai-org/GLM-V ``examples/gui-agent/glm-41v/gui_agent_41v.py`` and
``glm-45v/gui_agent_45v.py``, Apache-2.0), kept byte for byte in ``glmv/agent/prompts/*.txt`` with ``⟪name⟫``
slots; the functions here fill them as the official scripts do (AGENT.md §3–§5):

- mobile: ``Step {i}:\\n{item}\\n\\n`` per past step from 0 (the step's visible output), or "You just started, no
  action has been performed yet."; one user message ``[screenshot, text]``;
- desktop, GLM-4.1V: ``\\nstep {n}: {action}`` from 1, the latest memory, a note on the attached history screenshots;
  content ``[current screenshot, last ≤ 4 screenshots at half size…, text]``;
- desktop, GLM-4.5V / 4.6V: ``step k: Screenshot:(Omitted in context.)`` for steps older than the last N (N = history
  screenshots, ≤ 4), the last N with their half-size screenshot inserted, then the memory tail and the current
  screenshot as the **last** part;
- web: ``{i}.{item}\\n`` for the last 15 steps, the latest memory, the element list; GLM-4.5V / 4.6V add "The
  current time in Beijing is ``YYYY-MM-DD, HH:00 AM/PM``" from the local clock.

GLM-4.6V has no published agent prompts (AGENT.md §7): it gets the GLM-4.5V layout, like every family without
``<answer>`` tags.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from PIL import Image

from glmv.errors import ConfigError
from glmv.families import Family, get_family
from glmv.messages import data_uri, text_part

__all__ = [
    "HISTORY_SCREENSHOTS",
    "PLATFORMS",
    "WEB_HISTORY_STEPS",
    "HistoryStep",
    "build_messages",
    "desktop_content",
    "layout_of",
    "mobile_prompt",
    "screenshot_part",
    "web_history_item",
    "web_prompt",
]

PLATFORMS = ("mobile", "desktop", "web")
"""The platforms the prompts cover (``desktop`` is the official ``pc`` mode)."""

HISTORY_SCREENSHOTS = 4
"""How many past screenshots a desktop prompt carries (at half size)."""

WEB_HISTORY_STEPS = 15
"""How many past steps a web prompt lists."""

_EMPTY_MOBILE_HISTORY = "You just started, no action has been performed yet."


@dataclass(frozen=True)
class HistoryStep:
    """What one past step leaves for the prompts of the next ones.

    ``text``: the step's visible output with box markers removed (a mobile history item); ``action``: the action
    text as written; ``thought``: the plain explanation without the action (desktop 4.5V ``Thought``, web
    ``Thought``); ``memory``: the memory the step wrote; ``note``: what happened when it was carried out (an error,
    a refusal); ``screenshot``: the screen the step saw.
    """

    text: str
    action: str
    thought: str = ""
    memory: str = ""
    note: str = ""
    screenshot: Image.Image | None = None


@cache
def _template(name: str) -> str:
    return resources.files("glmv.agent").joinpath("prompts", name).read_text(encoding="utf-8")


def _fill(template: str, **slots: str) -> str:
    for name, value in slots.items():
        template = template.replace(f"⟪{name}⟫", value)
    return template


def layout_of(family: Family | str) -> str:
    """``"41v"`` for a family whose answers come in ``<answer>`` tags (GLM-4.1V), else ``"45v"``."""
    return "41v" if get_family(family).answer_tags else "45v"


def screenshot_part(image: Image.Image, *, half: bool = False) -> dict[str, Any]:
    """An ``image_url`` part holding ``image`` as PNG (``half``: resized to ``(w//2, h//2)`` as the official
    history screenshots are). Encoded with light compression: the agent sends one every step."""
    if half:
        image = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return {"type": "image_url", "image_url": {"url": data_uri(buffer.getvalue(), "image/png")}}


def mobile_prompt(task: str, history: Sequence[str], layout: str) -> str:
    """The mobile prompt text for ``task`` with ``history`` (each past step's visible output)."""
    rendered = "".join(f"Step {i}:\n{item}\n\n" for i, item in enumerate(history)) or _EMPTY_MOBILE_HISTORY
    return _fill(_template(f"mobile-{layout}.txt"), task=task, history=rendered)


def desktop_content(
    task: str,
    actions: Sequence[str],
    thoughts: Sequence[str],
    memory: str,
    history_images: Sequence[dict[str, Any]],
    layout: str,
) -> list[dict[str, Any]]:
    """The desktop user content **without** the current screenshot (see :func:`build_messages` for where it
    goes): ``actions`` / ``thoughts`` per past step, ``history_images`` the image parts of the last ones."""
    if layout == "41v":
        lines = "".join(f"\nstep {i + 1}: {action}" for i, action in enumerate(actions))
        count = len(history_images)
        note = (
            f"\nNote: You will also see {count} recent historical screenshots (50% scaled) showing the states before "
            f"your last {count} actions. These are provided in chronological order to help you understand the "
            "context of your previous actions."
            if count
            else ""
        )
        text = _fill(_template("pc-41v.txt"), task=task, history=lines, memory=memory, history_note=note)
        return [*history_images, text_part(text)]
    content: list[dict[str, Any]] = []
    current = _fill(_template("pc-45v-head.txt"), task=task)
    shown = len(history_images)
    for index, (action, thought) in enumerate(zip(actions, thoughts, strict=True)):
        if index < len(actions) - shown:
            current += (
                f"\nstep {index + 1}: Screenshot:(Omitted in context.) Thought: {thought}\nAction: {action}"
            )
        else:
            current += f"\nstep {index + 1}: Screenshot:"
            content.append(text_part(current))
            content.append(history_images[index - (len(actions) - shown)])
            current = f" Thought: {thought}\nAction: {action}"
    content.append(text_part(current + _fill(_template("pc-45v-tail.txt"), memory=memory)))
    return content


def web_prompt(
    task: str,
    url: str,
    elements: str,
    memory: str,
    history: Sequence[str],
    layout: str,
    now: datetime | None = None,
) -> str:
    """The web prompt text; ``history`` are the past steps' items (the last 15 are listed)."""
    rendered = "".join(f"{i}.{item}\n" for i, item in enumerate(history[-WEB_HISTORY_STEPS:]))
    moment = (now or datetime.now()).strftime("%Y-%m-%d, %I:00 %p")
    return _fill(
        _template(f"web-{layout}.txt"),
        task=task,
        web_url=url,
        web_elements=elements,
        memory=memory,
        history=rendered,
        time=moment,
    )


def web_history_item(step: HistoryStep) -> str:
    """One past step as the web prompt lists it (WebVoyager's Thought, Action, Observation)."""
    item = f"Thought: {step.thought}\nAction: {step.action}"
    return item + (f"\nObservation: {step.note}" if step.note else "")


def _with_note(text: str, note: str, separator: str) -> str:
    """A history item with what happened when it was carried out (an error, a refusal, a clamp), when anything
    did: the official layouts have no place for it, and the model must learn that its action did not work."""
    return f"{text}{separator}(Observation: {note})" if note else text


def build_messages(
    platform: str,
    family: Family | str,
    task: str,
    screenshot: Image.Image,
    history: Sequence[HistoryStep] = (),
    *,
    url: str = "",
    elements: str = "",
    memory: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The one user message of a step, as the official scripts build it for ``platform`` and ``family``.

    ``screenshot`` is what the model sees now (with set-of-marks labels on the web); ``memory`` defaults to the
    latest step's memory (``[]`` before any). The history goes into the prompt text; the turn is single.
    """
    if platform not in PLATFORMS:
        raise ConfigError(f"Unknown agent platform {platform!r}; use one of {', '.join(PLATFORMS)}.")
    layout = layout_of(family)
    current = screenshot_part(screenshot)
    latest = memory if memory is not None else next((s.memory for s in reversed(history) if s.memory), "[]")
    if platform == "mobile":
        text = mobile_prompt(task, [_with_note(step.text, step.note, "\n") for step in history], layout)
        return [{"role": "user", "content": [current, text_part(text)]}]
    if platform == "web":
        items = [web_history_item(step) for step in history]
        text = web_prompt(task, url, elements, latest, items, layout, now)
        return [{"role": "user", "content": [current, text_part(text)]}]
    recent = [step for step in history[-HISTORY_SCREENSHOTS:] if step.screenshot is not None]
    images = [screenshot_part(step.screenshot, half=True) for step in recent]
    actions = [
        step.action if layout == "45v" else _with_note(step.action, step.note, " ") for step in history
    ]
    thoughts = [_with_note(step.thought, step.note, " ") for step in history]
    content = desktop_content(task, actions, thoughts, latest, images, layout)
    if layout == "41v":
        return [{"role": "user", "content": [current, *content]}]
    return [{"role": "user", "content": [*content, current]}]
