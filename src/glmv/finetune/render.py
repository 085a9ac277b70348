"""Rendering a sample exactly as training sees it: the family's chat template, media expanded, labels marked.

:func:`template_messages` turns a :class:`~glmv.finetune.Sample` into the messages the chat template renders:
reasoning only on assistant turns after the last user turn (earlier turns keep an empty think block, as the
GLM-V README asks), every reply written by :func:`glmv.output.render_reply` for the family (4.1V
``<think>…</think><answer>…</answer>``, 4.5V / 4.6V without answer tags), media parts as ``{"type": "image"}`` /
``{"type": "video"}``. :func:`render_text` runs the template (Jinja2 with ``trim_blocks`` and
``lstrip_blocks``, as transformers does; the reference templates shipped in ``glmv/templates`` unless a
checkpoint's own ``chat_template.jinja`` text is given).

:func:`render` cuts the rendered conversation into :class:`Segment` s: prompt text (not trained), each assistant
reply (trained: the text after ``<|assistant|>``, up to the next turn) and the ``<|endoftext|>`` closing the final
reply (trained, as LLaMA-Factory's ``efficient_eos`` and ms-swift's suffix train it), and one segment per image
or video holding the tokens the processor expands its placeholder into (``<|image|>`` x N; a video's frame
pairs with their timestamps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from glmv.errors import ConfigError
from glmv.families import Family, get_family
from glmv.finetune.media import Measured, measure
from glmv.finetune.sample import Sample
from glmv.finetune.tokens import TokenCounter
from glmv.output import render_reply

__all__ = [
    "END_OF_TEXT",
    "Rendered",
    "Segment",
    "expand_video",
    "render",
    "render_text",
    "reply_text",
    "template_media",
    "template_messages",
]

END_OF_TEXT = "<|endoftext|>"
_PLACEHOLDERS = {"image": "<|image|>", "video": "<|video|>"}
Message = dict[str, Any]


@dataclass(frozen=True)
class Segment:
    """A piece of the rendered sample: ``kind`` text / image / video, whether it is ``trained`` (label), its ``text``
    (media: the placeholder the template wrote) and, for media, the ``measured`` tokens it expands into."""

    kind: Literal["text", "image", "video"]
    text: str
    trained: bool = False
    measured: Measured | None = None

    def expanded(self) -> str:
        """The text the model reads: media placeholders expanded as the processor does."""
        if self.measured is None:
            return self.text
        if self.kind == "image":
            return "<|image|>" * self.measured.tokens
        return expand_video(self.measured)


def expand_video(measured: Measured) -> str:
    """What the processor writes for ``<|video|>``: per frame pair ``<|begin_of_image|>`` + ``<|image|>`` x n +
    ``<|end_of_image|>`` + the pair's timestamp."""
    pairs = max(1, len(measured.timestamps))
    per_pair = measured.tokens // pairs
    stamps = measured.timestamps or ("0",)
    return "".join(f"<|begin_of_image|>{'<|image|>' * per_pair}<|end_of_image|>{stamp}" for stamp in stamps)


@dataclass(frozen=True)
class Rendered:
    """A sample rendered for a family: its segments, the text training sees and its length in tokens."""

    sample: Sample
    family: Family
    segments: tuple[Segment, ...]
    tokens: int
    trained_tokens: int
    estimated: bool

    @property
    def text(self) -> str:
        """The whole training text, media expanded."""
        return "".join(segment.expanded() for segment in self.segments)

    @property
    def media_tokens(self) -> int:
        return sum(s.measured.tokens for s in self.segments if s.measured is not None)


def _last_user(messages: list[Message]) -> int:
    return max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)


def reply_text(message: Message, family: Family, keep_reasoning: bool = True) -> str:
    """The raw GLM text of one assistant message for ``family`` (through :func:`glmv.output.render_reply`)."""
    return render_reply(
        reasoning=message.get("reasoning_content", "") if keep_reasoning else "",
        content=message.get("content") or "",
        tool_calls=[c["function"] for c in message.get("tool_calls") or ()],
        family=family,
    )


def _parts(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    out = []
    for part in content:
        kind = part["type"]
        out.append({"type": kind[: -len("_url")]} if kind in ("image_url", "video_url") else dict(part))
    return out


def template_messages(sample: Sample, family: Family | str) -> list[Message]:
    """The messages of ``sample`` as ``family``'s chat template takes them (see the module docstring)."""
    family = get_family(family)
    last_user = _last_user(sample.messages)
    out: list[Message] = []
    for index, message in enumerate(sample.messages):
        role = message["role"]
        if role == "assistant":
            out.append({"role": "assistant", "content": reply_text(message, family, index > last_user)})
        elif role == "tool" and isinstance(message["content"], list) and not family.multimodal_tool_results:
            text = "".join(p.get("text", "") for p in message["content"])
            out.append({"role": "tool", "content": text})
        else:
            out.append({"role": role, "content": _parts(message["content"])})
    return out


def template_media(sample: Sample, family: Family | str) -> list[tuple[str, str]]:
    """``(kind, url)`` of the media ``family``'s template writes a placeholder for, in order (tool-result media
    only on families whose template shows them)."""
    family = get_family(family)
    found = []
    for message in sample.messages:
        role, content = message["role"], message.get("content")
        if not isinstance(content, list) or role not in ("user", "tool"):
            continue
        if role == "tool" and not family.multimodal_tool_results:
            continue
        found += [
            (p["type"][:5], p[p["type"]]["url"]) for p in content if p["type"] in ("image_url", "video_url")
        ]
    return found


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, **kwargs: Any) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, **kwargs)


@lru_cache(maxsize=16)
def _compiled(text: str, sandboxed: bool) -> Any:
    from jinja2 import Environment
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    kind = ImmutableSandboxedEnvironment if sandboxed else Environment
    env = kind(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson

    def raise_exception(message: str) -> None:
        raise ConfigError(f"The chat template refused the conversation: {message}")

    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(text)
    except TemplateError as exc:
        raise ConfigError(f"The chat template does not compile: {exc}") from exc


@lru_cache(maxsize=16)
def _reference_template(name: str) -> str:
    return resources.files("glmv.templates").joinpath(name).read_text(encoding="utf-8")


def render_text(
    messages: list[Message],
    family: Family | str,
    *,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    chat_template: str | None = None,
) -> str:
    """``messages`` (from :func:`template_messages`) through ``family``'s chat template, one placeholder a medium."""
    family = get_family(family)
    # glmv's own reference templates are trusted; a checkpoint's template text runs sandboxed, as in transformers
    if chat_template is None:
        template = _compiled(_reference_template(family.template), False)
    else:
        template = _compiled(chat_template, True)
    return template.render(
        messages=messages, tools=tools or None, add_generation_prompt=add_generation_prompt
    )


def _text_segments(text: str, trained: bool, media: list[Measured], kinds: list[str]) -> list[Segment]:
    segments: list[Segment] = []
    rest = text
    while rest:
        positions = [(rest.find(token), kind) for kind, token in _PLACEHOLDERS.items() if token in rest]
        if not positions:
            segments.append(Segment("text", rest, trained))
            break
        at, kind = min(positions)
        if at:
            segments.append(Segment("text", rest[:at], trained))
        expected, measured = (kinds.pop(0), media.pop(0)) if media else (kind, None)
        if measured is None or expected != kind:
            measured = Measured(kind, error=f"the template wrote a {kind} placeholder where no {kind} is")
        segments.append(Segment(kind, _PLACEHOLDERS[kind], False, measured))  # type: ignore[arg-type]
        rest = rest[at + len(_PLACEHOLDERS[kind]) :]
    return segments


def render(
    sample: Sample,
    family: Family | str,
    *,
    counter: TokenCounter | None = None,
    chat_template: str | None = None,
    labels: bool = True,
) -> Rendered:
    """``sample`` as ``family`` trains on it (see the module docstring). ``counter`` counts the text tokens
    (default: the estimate); ``labels=False`` renders the whole conversation at once without cutting out the
    trained replies (faster; every segment is then marked untrained but the final ``<|endoftext|>``)."""
    family = get_family(family)
    counter = counter or TokenCounter()
    messages = template_messages(sample, family)
    pieces: list[tuple[str, bool]] = []
    if labels:
        done = ""
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prefix = render_text(
                messages[:index],
                family,
                tools=sample.tools,
                add_generation_prompt=True,
                chat_template=chat_template,
            )
            whole = render_text(
                messages[: index + 1], family, tools=sample.tools, chat_template=chat_template
            )
            if not prefix.startswith(done) or not whole.startswith(prefix):
                raise ConfigError(
                    f"{sample.where}: the chat template renders this conversation's history differently turn by "
                    "turn, so the trained replies cannot be cut out."
                )
            pieces += [(prefix[len(done) :], False), (whole[len(prefix) :], True)]
            done = whole
        tail = render_text(messages, family, tools=sample.tools, chat_template=chat_template)
        pieces.append((tail[len(done) :], False))
    else:
        pieces.append((render_text(messages, family, tools=sample.tools, chat_template=chat_template), False))
    media_list = template_media(sample, family)
    measured = [measure(kind, url, family, counter.limits) for kind, url in media_list]
    kinds = [kind for kind, _ in media_list]
    segments: list[Segment] = []
    for text, trained in pieces:
        if text:
            segments += _text_segments(text, trained, measured, kinds)
    if messages and messages[-1]["role"] == "assistant":
        segments.append(Segment("text", END_OF_TEXT, True))
    text_tokens = counter.count("".join(s.text for s in segments if s.kind == "text"))
    placeholders = [s for s in segments if s.measured is not None]
    video_extra = sum(
        2 * len(s.measured.timestamps) + counter.count("".join(s.measured.timestamps))
        for s in placeholders
        if s.kind == "video" and s.measured
    )
    media_tokens = sum(s.measured.tokens for s in placeholders if s.measured)
    trained = counter.count("".join(s.text for s in segments if s.trained)) if labels else 1
    return Rendered(
        sample,
        family,
        tuple(segments),
        text_tokens + media_tokens + video_extra,
        trained,
        counter.estimated,
    )
