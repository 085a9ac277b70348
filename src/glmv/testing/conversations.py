"""The fixed conversations a taught tiny checkpoint has memorised, per family.

Each :class:`TaughtConversation` is data: the prompt as OpenAI chat messages (images as ``image_url`` parts whose
``url`` is a ``data:image/png;base64,…`` URI of a :func:`taught_image`), the tools, the ``enable_thinking`` flag,
and the exact raw text the model writes (``reply``, written by :func:`glmv.output.render_reply` from the
reasoning, answer and tool calls) followed by the token that stops it (``stop``). Greedy
generation of a taught checkpoint on exactly these prompts (same text, same image sizes) produces
``reply + stop`` token for token; any other prompt gets noise.

Images are solid colour blocks of fixed sizes that are multiples of 28 pixels (one LM token per 28×28), so
loading the data URI and resizing with the tiny processor leaves them unchanged.

The set per family covers: a thinking reply (4.1V: ``<answer>`` + a box), thinking off (4.5V/4.6V: the template
adds ``/nothink`` and ``<think></think>``), an image grounding answer with a box, a second image prompt, a
two-image prompt, two tool calls differing by one word plus the answer after a tool result (tool families), a
multi-turn conversation whose history already follows the family's policy (no reasoning in earlier turns), and a
long reasoning (about 40 tokens) for thinking-budget tests.

Other conversations can be taught too — whole requests an application sent, their images loaded from their own
URLs, replies written by :func:`taught_reply` — with :func:`glmv.testing.teach_head.teach_checkpoint`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from glmv.families import FAMILIES, Family, get_family
from glmv.output.render import render_reply

__all__ = [
    "TAUGHT_CONVERSATIONS",
    "TAUGHT_IMAGES",
    "WEATHER_TOOL",
    "TaughtConversation",
    "image_data_uri",
    "taught_conversations",
    "taught_image",
    "taught_reply",
]

# name → (width, height, RGB colour)
TAUGHT_IMAGES: dict[str, tuple[int, int, tuple[int, int, int]]] = {
    "red": (56, 56, (220, 30, 30)),
    "blue": (84, 56, (30, 60, 220)),
    "green": (56, 84, (30, 180, 60)),
}

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}


def taught_image(name: str):
    """The solid colour image ``name`` (``red`` 56×56, ``blue`` 84×56, ``green`` 56×84) as an RGB PIL image."""
    from PIL import Image

    width, height, colour = TAUGHT_IMAGES[name]
    return Image.new("RGB", (width, height), colour)


def image_data_uri(name: str) -> str:
    """``taught_image(name)`` as a lossless ``data:image/png;base64,…`` URI."""
    from glmv.messages import image_part

    return image_part(taught_image(name))["image_url"]["url"]


@dataclass(frozen=True)
class TaughtConversation:
    """One memorised prompt and its exact reply.

    ``messages`` are OpenAI chat messages; ``images`` names the :func:`taught_image` of every ``image_url`` part
    in order, or is empty: then each part's own URL (a ``data:`` URI, a file) is loaded as the engines load it,
    so a request an application really sent (a screenshot, say) can be taught as it is. The model writes ``reply``
    and then the ``stop`` token (``</answer>`` for GLM-4.1V, ``<|user|>``, or ``<|observation|>`` after tool
    calls); :func:`taught_reply` writes both for a family.
    """

    name: str
    messages: tuple[dict[str, Any], ...]
    reply: str
    stop: str
    images: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    enable_thinking: bool | None = None
    note: str = field(default="", compare=False)

    def chat_template_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``apply_chat_template`` besides the messages (``tools``, ``enable_thinking``)."""
        kwargs: dict[str, Any] = {}
        if self.tools:
            kwargs["tools"] = [dict(tool) for tool in self.tools]
        if self.enable_thinking is not None:
            kwargs["enable_thinking"] = self.enable_thinking
        return kwargs

    @staticmethod
    def _image(part: dict[str, Any], name: str | None) -> Any:
        """The PIL image of one ``image_url`` part: the taught image ``name``, else the part's URL loaded."""
        if name is not None:
            return taught_image(name)
        from glmv.media import load_image

        return load_image(part["image_url"]["url"])

    def processor_messages(self) -> list[dict[str, Any]]:
        """The messages in the transformers processor form: ``{"type": "image", "image": PIL}`` parts and tool
        call arguments as dicts (what the chat template needs)."""
        names = iter(self.images)
        out = []
        for message in self.messages:
            message = dict(message)
            content = message.get("content")
            if isinstance(content, list):
                parts = []
                for part in content:
                    if part.get("type") == "image_url":
                        parts.append({"type": "image", "image": self._image(part, next(names, None))})
                    else:
                        parts.append(dict(part))
                message["content"] = parts
            if message.get("tool_calls"):
                message["tool_calls"] = [
                    {
                        "type": "function",
                        "function": {
                            "name": call["function"]["name"],
                            "arguments": json.loads(call["function"]["arguments"]),
                        },
                    }
                    for call in message["tool_calls"]
                ]
            out.append(message)
        return out


def _user(text: str, *images: str) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image_data_uri(name)}} for name in images
    ]
    parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


_BOX = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"
_COUNT = (
    "Counting: one, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, thirteen, "
    "fourteen, fifteen, sixteen, seventeen, eighteen, nineteen, twenty."
)

# (name, messages, images, reasoning, answer) shared by every family; replies are shaped per family below.
_COMMON: tuple[tuple[str, tuple[dict[str, Any], ...], tuple[str, ...], str, str], ...] = (
    (
        "plain",
        (_user("What is 15 + 27?"),),
        (),
        "I need to add 15 and 27. 15 + 27 = 42.",
        "The sum is <|begin_of_box|>42<|end_of_box|>.",
    ),
    (
        "grounding",
        (_user("Where is the red square? Give its bounding box.", "red"),),
        ("red",),
        "The red square is in the picture.",
        f"The red square is at {_BOX}.",
    ),
    (
        "image",
        (_user("What colour is this image?", "blue"),),
        ("blue",),
        "The whole image is one flat colour: blue.",
        "The image is <|begin_of_box|>blue<|end_of_box|>.",
    ),
    (
        "two-images",
        (_user("Compare the two images.", "green", "red"),),
        ("green", "red"),
        "The first image is green and the second one is red.",
        "The first is green, the second is red.",
    ),
    (
        "multi-turn",
        (_user("What is 2 + 2?"), _assistant("2 + 2 = 4."), _user("And 3 + 3?")),
        (),
        "Add 3 and 3 to get 6.",
        "3 + 3 = <|begin_of_box|>6<|end_of_box|>.",
    ),
    (
        "long-reasoning",
        (_user("Count from one to twenty."),),
        (),
        _COUNT,
        "I counted to <|begin_of_box|>20<|end_of_box|>.",
    ),
)


def taught_reply(
    family: str | Family,
    *,
    reasoning: str = "",
    content: str = "",
    tool_calls: tuple[dict[str, Any], ...] = (),
    thinking: bool | None = None,
) -> tuple[str, str]:
    """The raw reply ``family`` writes and the token that stops it (GLM-4.1V stops on its own ``</answer>``).

    ``reasoning``, ``content`` and ``tool_calls`` are written by :func:`glmv.output.render_reply`; the pair is
    what a :class:`TaughtConversation` takes as ``reply`` and ``stop``.
    """
    family = get_family(family)
    text = render_reply(
        reasoning=reasoning, content=content, tool_calls=tool_calls, family=family, thinking=thinking
    )
    if family.answer_tags:
        return text.removesuffix("</answer>"), "</answer>"
    return text, "<|observation|>" if tool_calls else "<|user|>"


def _build(family: Family) -> tuple[TaughtConversation, ...]:
    convs: list[TaughtConversation] = []
    for name, messages, images, reasoning, answer in _COMMON:
        reply, stop = taught_reply(
            family, reasoning=reasoning if family.thinks_by_default else "", content=answer
        )
        convs.append(TaughtConversation(name, messages, reply, stop, images))
    if family.can_switch_thinking:
        reply, stop = taught_reply(
            family, content="The capital of France is <|begin_of_box|>Paris<|end_of_box|>.", thinking=False
        )
        convs.append(
            TaughtConversation(
                "thinking-off",
                (_user("What is the capital of France?"),),
                reply,
                stop,
                enable_thinking=False,
            )
        )
    if family.tool_calls:
        tools = (WEATHER_TOOL,)
        for city in ("Paris", "Rome"):
            reply, stop = taught_reply(
                family,
                reasoning=f"The user wants the weather in {city}. I will call the tool.",
                tool_calls=({"name": "get_weather", "arguments": {"city": city}},),
            )
            convs.append(
                TaughtConversation(
                    f"tool-call-{city.lower()}",
                    (_user(f"What is the weather in {city}?"),),
                    reply,
                    stop,
                    tools=tools,
                )
            )
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
        }
        reply, stop = taught_reply(
            family, reasoning="The tool says sunny, 21C.", content="It is sunny and 21C in Paris."
        )
        convs.append(
            TaughtConversation(
                "tool-result",
                (
                    _user("What is the weather in Paris?"),
                    {"role": "assistant", "content": "", "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
                ),
                reply,
                stop,
                tools=tools,
            )
        )
    return tuple(convs)


TAUGHT_CONVERSATIONS: dict[str, tuple[TaughtConversation, ...]] = {
    name: _build(family) for name, family in FAMILIES.items()
}


def taught_conversations(family: str | Family) -> tuple[TaughtConversation, ...]:
    """The conversations a taught checkpoint of ``family`` has memorised."""
    return TAUGHT_CONVERSATIONS[get_family(family).name]
