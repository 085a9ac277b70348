"""The request body of ``POST /v1/chat/completions``, validated with clear messages.

Field names follow the OpenAI API plus the vLLM / SGLang extras GLM clients send: ``top_k``,
``repetition_penalty``, ``skip_special_tokens``, ``chat_template_kwargs`` (``enable_thinking`` or
``thinking``), ``thinking_budget`` / ``thinking_token_budget``, and the hosted API's ``thinking: {"type": ...}``.
Unknown fields are ignored, as vLLM and SGLang do. Content parts are checked later, when media are resolved
(an unknown part type is a 400, not a 422), and so are ``stop`` (:func:`glmv.engine.stops.check_stops`: a 400 past
its limits) and ``response_format`` (a 400 saying why anything but ``text`` is not served). ``logprobs`` /
``top_logprobs`` (0–20) are served: the engine reports each token's log-probability.

``seed`` is a signed 64-bit integer, as in vLLM. An assistant message's ``tool_calls`` must each be
``{"type": "function", "function": {"name": ..., "arguments": "<a JSON object>"}}`` (``arguments`` may also be
the object itself), so a malformed history is a 422 naming the field rather than a failure inside the template.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "HistoryToolCall",
    "ResponseFormat",
    "StreamOptions",
    "ThinkingSwitch",
    "Tool",
]

SEED_RANGE = (-(2**63), 2**63 - 1)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _CalledFunction(_Lenient):
    name: str = Field(min_length=1, max_length=128)
    arguments: str | dict[str, Any] = "{}"

    @field_validator("arguments")
    @classmethod
    def _json_object(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise ValueError(f"arguments must be a JSON object; this is not JSON ({exc})") from exc
        if not isinstance(parsed, dict):
            raise ValueError(f"arguments must be a JSON object, not a JSON {type(parsed).__name__}")
        return value


class HistoryToolCall(_Lenient):
    """A tool call of an earlier assistant turn, as the client sends it back."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    type: Literal["function"] = "function"
    function: _CalledFunction


class ChatMessage(_Lenient):
    """One message; ``reasoning`` is accepted as a synonym of ``reasoning_content``."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[Any] | None = None
    name: str | None = None
    tool_calls: list[HistoryToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None

    @model_validator(mode="after")
    def _content_needed(self) -> ChatMessage:
        if self.role in ("user", "system", "tool") and self.content is None:
            raise ValueError(f"a {self.role} message needs content")
        if self.role == "assistant" and self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class _Function(_Lenient):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Tool(_Lenient):
    type: Literal["function"] = "function"
    function: _Function


class StreamOptions(_Lenient):
    include_usage: bool = False
    continuous_usage_stats: bool = False


class ThinkingSwitch(_Lenient):
    """The hosted Z.ai API's switch: ``{"type": "enabled" | "disabled"}``."""

    type: Literal["enabled", "disabled"]


class ResponseFormat(_Lenient):
    """``{"type": "text" | "json_object" | "json_schema", ...}``; only ``text`` is served."""

    model_config = ConfigDict(extra="allow")

    type: str


class ChatCompletionRequest(_Lenient):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=-1)
    repetition_penalty: float | None = Field(default=None, gt=0, le=10)
    seed: int | None = Field(default=None, ge=SEED_RANGE[0], le=SEED_RANGE[1])
    n: int = Field(default=1, ge=1, le=128)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    skip_special_tokens: bool = True
    chat_template_kwargs: dict[str, Any] | None = None
    thinking_budget: int | None = Field(default=None, ge=0)
    thinking_token_budget: int | None = Field(default=None, ge=0)
    thinking: ThinkingSwitch | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)

    @field_validator("tool_choice")
    @classmethod
    def _named_choice(cls, value: Any) -> Any:
        if isinstance(value, dict):
            function = value.get("function")
            if value.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
                raise ValueError('a named tool_choice is {"type": "function", "function": {"name": ...}}')
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.max_tokens and self.max_completion_tokens and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens disagree; send one of them")
        if (
            self.thinking_budget is not None
            and self.thinking_token_budget is not None
            and self.thinking_budget != self.thinking_token_budget
        ):
            raise ValueError("thinking_budget and thinking_token_budget disagree; send one of them")
        if self.tool_choice not in (None, "none") and not self.tools:
            raise ValueError(f"tool_choice {self.tool_choice!r} needs tools")
        return self

    @property
    def length_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def budget(self) -> int | None:
        return self.thinking_budget if self.thinking_budget is not None else self.thinking_token_budget

    @property
    def enable_thinking(self) -> bool | None:
        """The thinking switch from ``chat_template_kwargs`` (``enable_thinking`` or ``thinking``) or ``thinking``."""
        kwargs = self.chat_template_kwargs or {}
        for key in ("enable_thinking", "thinking"):
            if kwargs.get(key) is not None:
                return bool(kwargs[key])
        if self.thinking is not None:
            return self.thinking.type == "enabled"
        return None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)
