"""The chat and grounding as API endpoints, which Gradio's MCP server (``glmv web --mcp``) offers as tools, so an
agent client can call the model with images.

``ask`` answers a question about zero or more images; ``ground`` locates what a description names in one image and
gives its boxes and points in pixels of that image. Each call is one stateless question to the engine. Images are
``http(s)`` URLs or ``data:`` URIs (never local paths: the server's files are not the client's), checked by the
media policy before the model is asked; a refused image or a failed reply comes back to the client as a tool error
carrying glmv's message.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

    from glmv.engine import Engine
    from glmv.web.settings import WebSettings

__all__ = ["add_tools", "require_mcp"]


def require_mcp() -> None:
    """Gradio's MCP server needs the ``mcp`` package; a :class:`~glmv.errors.MissingDependencyError` names the
    extra that installs it."""
    from glmv.errors import require

    require("mcp", extra="web", purpose="glmv web --mcp, Gradio's MCP server")


def _tool_error(exc: Exception) -> Exception:
    """A glmv error as the tool error the MCP client reads (its message, no server-side traceback)."""
    import gradio as gr

    return gr.Error(str(exc), print_exception=False)


def add_tools(demo: gr.Blocks, engine: Engine, settings: WebSettings) -> None:
    """Add the ``ask`` and ``ground`` endpoints to ``demo`` (documented in the API page and, with
    ``mcp_server=True``, listed as MCP tools)."""
    import gradio as gr

    from glmv.engine import ChatRequest, chat
    from glmv.errors import GlmvError, RequestError
    from glmv.media import MediaPolicy, load_image
    from glmv.messages import image_part, text_part
    from glmv.web.app import engine_family

    policy = (settings.policy or getattr(engine, "media_policy", None) or MediaPolicy.strict()).replace(
        allow_local_paths=False, allowed_local_dir=None
    )
    family = engine_family(engine, settings)

    def reply(question: str, images: list[str], thinking: bool | None):
        if not question.strip():
            raise RequestError("The question is empty: say what the model should do with the images.")
        if len(images) > settings.max_files:
            raise RequestError(f"{len(images)} images is over the limit of {settings.max_files} per call.")
        opened = [load_image(image, policy) for image in images]  # refused here, before the model is asked
        content = [*(image_part(image) for image in images), text_part(question)]
        keywords: dict[str, Any] = {"max_tokens": settings.max_tokens}
        if thinking is not None and family.can_switch_thinking:
            keywords["enable_thinking"] = thinking
        request = ChatRequest(messages=[{"role": "user", "content": content}], **keywords)
        return chat(engine, request), opened

    def ask(question: str, images: list[str] | None = None, thinking: bool = True) -> str:
        """Ask the GLM-V vision-language model a question, optionally about images (photos, screenshots, charts,
        scanned pages). Use it to read text in an image, describe or compare images, or answer a question about
        them. The model sees the images in the order given, then the question.

        Args:
            question: what to ask, in plain words ("What does the sign say?", "Compare the two charts.").
            images: the images, each an http(s) URL or a data: URI such as "data:image/png;base64,iVBOR..."
                (local file paths are refused); none or an empty list for a text-only question.
            thinking: let the model reason before it answers (better on hard questions, slower); the answer
                returned never includes the reasoning.

        Returns:
            The model's answer as text (markdown). Box markers are removed; boxes it gives are in thousandths of
            the image's width and height (0 to 1000); call ground to get them in pixels.
        """
        try:
            return reply(question, list(images or []), thinking)[0].content
        except GlmvError as exc:
            raise _tool_error(exc) from exc

    def ground(image: str, description: str) -> str:
        """Locate things in one image: the bounding boxes (or points) of what the description names, in pixels
        of that image. Use it to find where an object, a button or a piece of text is, for example before
        cropping or clicking.

        Args:
            image: the image, an http(s) URL or a data: URI such as "data:image/png;base64,iVBOR..." (local file
                paths are refused).
            description: what to locate, in plain words ("the red car", "every face", "the Submit button").

        Returns:
            JSON text: {"width": image width in pixels, "height": image height in pixels, "answer": the model's
            answer, "boxes": [{"label": name or null, "box": [x1, y1, x2, y2]}], "points": [{"label": name or
            null, "point": [x, y]}]}; coordinates are whole pixels from the image's top-left corner, and the
            lists are empty when the model found nothing.
        """
        question = f"Help me to locate {description.strip()} in the image and give me its bounding boxes."
        try:
            if not description.strip():
                raise RequestError("The description is empty: say what to locate in the image.")
            answer, (opened,) = reply(question, [image], thinking=None)
        except GlmvError as exc:
            raise _tool_error(exc) from exc
        width, height = opened.size

        def pixels(shape) -> list[int]:
            return [round(value) for value in shape.to_pixels(width, height)]

        return json.dumps(
            {
                "width": width,
                "height": height,
                "answer": answer.content,
                "boxes": [{"label": box.label, "box": pixels(box)} for box in answer.boxes],
                "points": [{"label": point.label, "point": pixels(point)} for point in answer.points],
            }
        )

    shared = {
        "concurrency_limit": settings.concurrency,
        "concurrency_id": "generate",
    }  # with the page's replies
    with demo:
        gr.api(ask, api_name="ask", **shared)
        gr.api(ground, api_name="ground", **shared)
