"""The chat and grounding as API endpoints, which Gradio's MCP server (``glmv web --mcp``) offers as tools, so an
agent client can call the model with images. Each call is one stateless question to the engine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from glmv.engine import Engine
    from glmv.web.settings import WebSettings

__all__ = ["add_tools", "require_mcp"]


def require_mcp() -> None:
    """Gradio's MCP server needs the ``mcp`` package (``gradio[mcp]``); a clear error says so when it is missing."""
    import importlib.util

    from glmv.errors import MissingDependencyError

    if importlib.util.find_spec("mcp") is None:
        raise MissingDependencyError(
            "mcp (needed by --mcp, Gradio's MCP server)", "pip install 'gradio[mcp]'"
        )


def add_tools(demo: gr.Blocks, engine: Engine, settings: WebSettings) -> None:
    """Add the ``ask`` and ``ground`` endpoints to ``demo``."""
    import gradio as gr

    from glmv.engine import ChatRequest, chat
    from glmv.media import MediaPolicy, load_image
    from glmv.messages import image_part, text_part

    policy = settings.policy or MediaPolicy.strict()

    def _reply(question: str, image_url: str):
        parts = []
        if image_url:
            load_image(image_url, policy)  # refused here, with a clear message, before the model is asked
            parts.append(image_part(image_url))
        parts.append(text_part(question))
        request = ChatRequest(messages=[{"role": "user", "content": parts}], max_tokens=settings.max_tokens)
        return chat(engine, request)

    def ask(question: str, image_url: str = "") -> str:
        """Ask the GLM-V vision-language model a question, optionally about one image.

        Args:
            question: what to ask.
            image_url: an http(s) URL or a data: URI of an image (empty for a text-only question).

        Returns:
            The model's answer (its reasoning left out).
        """
        return _reply(question, image_url).content

    def ground(image_url: str, description: str) -> str:
        """Find things in an image: bounding boxes of what ``description`` names.

        Args:
            image_url: an http(s) URL or a data: URI of the image.
            description: what to locate, for example "the red car".

        Returns:
            JSON: {"answer": text, "boxes": [[x1, y1, x2, y2] in pixels of the image], "points": [[x, y], ...]}.
        """
        image = load_image(image_url, policy)
        question = f"Help me to locate {description} in the image and give me its bounding boxes."
        reply = _reply(question, image_url)
        width, height = image.size
        return json.dumps(
            {
                "answer": reply.content,
                "boxes": [[round(v) for v in box.to_pixels(width, height)] for box in reply.boxes],
                "points": [[round(v) for v in point.to_pixels(width, height)] for point in reply.points],
            }
        )

    with demo:
        gr.api(ask, api_name="ask")
        gr.api(ground, api_name="ground")
