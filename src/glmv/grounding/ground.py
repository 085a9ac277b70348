"""Grounding with a GLM-V model: :func:`ground` locates expressions in one image.

Each expression is one request (the image, then the prompt of :mod:`glmv.grounding.prompts`) through any
:class:`~glmv.engine.Engine`; the reply is parsed by :func:`glmv.output.parse_reply` (boxes and points in box
markers, detection JSON) with :func:`glmv.output.boxes.find_bare_boxes` as the fallback for a reply that lost its
markers. Thousandths are converted against the **original** image size (the processor's resize does not matter:
coordinates are relative). A reply whose numbers exceed 1000 (pixels, not thousandths) is asked again once with
an explicit instruction, as the official grounding skill does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from PIL import Image

from glmv.engine import ChatRequest, Engine, chat
from glmv.errors import ConfigError
from glmv.grounding.prompts import grounding_prompt
from glmv.grounding.result import Grounding
from glmv.media import MediaPolicy, load_image
from glmv.messages import image_part, text_part
from glmv.output import Reply
from glmv.output.boxes import find_bare_boxes, parse_coordinates
from glmv.settings import DEFAULT_MAX_TOKENS

__all__ = ["RENORMALISE", "ground", "read_groundings"]

RENORMALISE = (
    "The coordinates must be thousandths of the image: x and y from 0 to 1000 relative to its width and "
    "height, not pixels. Answer again."
)
"""The follow-up sent when a reply's coordinates are above 1000."""

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def read_groundings(
    reply: Reply, label: str, width: int, height: int, *, all: bool, point: bool
) -> list[Grounding]:
    """The groundings of ``label`` in ``reply`` for a ``width`` × ``height`` image.

    Boxes come first, points when asked for (``point``) or when the reply holds only points; without ``all`` only
    the first is kept. A reply with none gives one :class:`Grounding` that is not ``found``, keeping the text.
    """
    boxes = list(reply.boxes) or find_bare_boxes(reply.content)
    points = list(reply.points)
    if reply.answer and not boxes and not points:
        boxes, points = parse_coordinates(reply.answer)
    text = (reply.content or "").strip()
    found: list[Grounding] = []
    if (point and points) or not boxes:
        for item in points:
            found.append(Grounding(label, width, height, point_thousandths=(item.x, item.y), score_text=text))
    if not found:
        for box in boxes:
            coordinates = (box.x1, box.y1, box.x2, box.y2)
            found.append(Grounding(label, width, height, box_thousandths=coordinates, score_text=text))
    if not found:
        return [Grounding(label, width, height, score_text=text, reasoning=reply.reasoning)]
    found = found if all else found[:1]
    return [replace(item, reasoning=reply.reasoning) for item in found]


def _pixels_instead(reply: Reply) -> bool:
    """Whether the reply wrote coordinates above 1000 (pixels) and nothing readable as thousandths."""
    if reply.boxes or reply.points:
        return False
    numbers = [float(number) for number in _NUMBER.findall(reply.answer or reply.content)]
    return len(numbers) >= 2 and max(numbers) > 1000


def ground(
    engine: Engine,
    image: Any,
    expressions: str | Sequence[str],
    *,
    all: bool = False,
    point: bool = False,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    temperature: float | None = None,
    policy: MediaPolicy | None = None,
) -> list[Grounding]:
    """Locate each of ``expressions`` in ``image`` (a path, URL, bytes or PIL image) with ``engine``.

    One request per expression; results come in expression order (several per expression with ``all``). Raises
    :class:`~glmv.errors.MediaError` for an image that cannot be read and :class:`~glmv.errors.ConfigError` for
    an empty expression; an engine failure raises its :class:`~glmv.errors.EngineError`.
    """
    names = [expressions] if isinstance(expressions, str) else list(expressions)
    if not names or any(not name.strip() for name in names):
        raise ConfigError(
            "Give at least one non-empty expression to locate, e.g. glmv ground IMAGE 'the red car'."
        )
    picture = image if isinstance(image, Image.Image) else load_image(image, policy)
    picture = picture.convert("RGB")
    part = image_part(picture)
    results: list[Grounding] = []
    for name in names:
        prompt = grounding_prompt(name, all=all, point=point)
        messages: list[dict[str, Any]] = [{"role": "user", "content": [part, text_part(prompt)]}]
        request = ChatRequest(messages=messages, max_tokens=max_tokens, temperature=temperature)
        reply = chat(engine, request)
        if _pixels_instead(reply):
            messages += [
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": RENORMALISE},
            ]
            reply = chat(
                engine, ChatRequest(messages=messages, max_tokens=max_tokens, temperature=temperature)
            )
        results += read_groundings(reply, name.strip(), picture.width, picture.height, all=all, point=point)
    return results
