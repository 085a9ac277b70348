"""The grounding prompts: what glmv asks a GLM-V model to locate an expression.

The box prompt is the GLM-V README's (FORMATS.md §5.3): ``Help me to locate {expression} in the image and give
me its bounding boxes.`` The README gives no prompt for every instance or for a point; glmv asks for those in the
same words, naming the shape the answer must take (``[[x1,y1,x2,y2], …]`` / ``[x,y]``), which all three families
answer inside their box markers. The family does not change the prompt; it changes how the reply is read
(``<answer>`` tags on GLM-4.1V), which :mod:`glmv.output` handles.
"""

from __future__ import annotations

__all__ = ["BOX_PROMPT", "EVERY_BOX_PROMPT", "POINT_PROMPT", "grounding_prompt"]

BOX_PROMPT = "Help me to locate {expression} in the image and give me its bounding boxes."
"""The GLM-V README's grounding prompt."""

EVERY_BOX_PROMPT = (
    "Help me to locate every {expression} in the image and give me their bounding boxes [[x1,y1,x2,y2], ...]."
)
"""glmv's prompt for every instance (``--all``)."""

POINT_PROMPT = "Help me to locate {expression} in the image and give me its point [x,y]."
"""glmv's prompt for a point (``--point``)."""

EVERY_POINT_PROMPT = (
    "Help me to locate every {expression} in the image and give me their points [[x1,y1], [x2,y2], ...]."
)


def grounding_prompt(expression: str, *, all: bool = False, point: bool = False) -> str:
    """The prompt asking for ``expression``: one box (the README's), every box (``all``) or points (``point``)."""
    if point:
        template = EVERY_POINT_PROMPT if all else POINT_PROMPT
    else:
        template = EVERY_BOX_PROMPT if all else BOX_PROMPT
    return template.format(expression=expression.strip())
