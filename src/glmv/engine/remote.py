"""``RemoteEngine``: a GLM-V model behind any OpenAI-compatible server, spoken to over HTTP (httpx).

It hides how servers differ:

============  ====================  =========================  ==========================================
flavor        reasoning field       thinking switch            thinking budget
============  ====================  =========================  ==========================================
``vllm``      ``reasoning``         ``chat_template_kwargs``   two-pass recipe (``continue_final_message``)
``sglang``    ``reasoning_content`` ``chat_template_kwargs``   two-pass recipe (``continue_final_message``)
``zai``       ``reasoning_content`` ``thinking: {type}``       not supported (RequestError)
``glmv``      both                  ``chat_template_kwargs``   native ``thinking_budget``
============  ====================  =========================  ==========================================

``flavor="auto"`` picks ``zai`` for the hosted API's hosts and otherwise reads ``owned_by`` from ``GET /models``
(vLLM, SGLang and glmv name themselves there; anything else is treated like vLLM). Either reasoning field is
read from any server. Local files and in-memory images are sent as ``data:`` URIs; ``skip_special_tokens:
false`` keeps box markers (vLLM, SGLang and glmv servers honour it; not sent to the hosted API, which has no
such field). The server's reasoning,
content and tool calls are put back together as GLM text and parsed by :mod:`glmv.output`, so answers,
boxes and ``<answer>`` tags come out exactly as from a local model.

The two-pass thinking budget is the official recipe (FORMATS.md §8.4): generate up to the budget; if that
stopped on length while still thinking, continue the same assistant message after the family's
``thinking_end`` tokens (``</think>``, plus ``<answer>`` for GLM-4.1V) with the rest of ``max_tokens``.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from glmv.engine.types import ChatRequest, Chunk, EngineBase
from glmv.errors import EngineBusyError, EngineError, FamilyError, OutputError, RequestError
from glmv.families import Family, detect_family, get_family
from glmv.messages import data_uri, image_part
from glmv.output.reply import Reply, Usage
from glmv.settings import DEFAULT_MAX_TOKENS

__all__ = ["Flavor", "RemoteEngine"]

Flavor = Literal["auto", "vllm", "sglang", "zai", "glmv"]
_FLAVORS = ("vllm", "sglang", "zai", "glmv")
_HOSTED = ("bigmodel.cn", "z.ai")


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    if "://" in url or url.startswith("data:"):
        return None
    return Path(url).expanduser()


def _portable_part(part: Any) -> Any:
    """A content part a remote server can read: local files and PIL images become data URIs."""
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "image" or kind == "video":
        source = part.get(kind)
        if hasattr(source, "save"):
            return image_part(source)
        if isinstance(source, (str, Path)):
            part = {"type": f"{kind}_url", f"{kind}_url": {"url": str(source)}}
        else:
            raise RequestError(
                f"A {kind} given as {type(source).__name__} cannot be sent to a remote server; "
                "pass a path, URL or data: URI.",
                field="messages",
            )
    kind = part.get("type")
    if kind in ("image_url", "video_url"):
        value = part[kind]
        url = value.get("url") if isinstance(value, dict) else value
        path = _local_path(url) if isinstance(url, str) else None
        if path is not None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise RequestError(
                    f"Cannot read {str(path)!r}: {exc.strerror or exc}.", field="messages"
                ) from exc
            fallback = "image/png" if kind == "image_url" else "video/mp4"
            mime = mimetypes.guess_type(path.name)[0] or fallback
            return {"type": kind, kind: {"url": data_uri(data, mime)}}
    return part


def _portable_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        message = dict(message)
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = [_portable_part(part) for part in content]
        if message.get("reasoning") and not message.get("reasoning_content"):
            message["reasoning_content"] = message.pop("reasoning")
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            if isinstance(function.get("arguments"), dict):
                function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
        out.append(message)
    return out


def _tool_call_text(name: str, arguments: str) -> str:
    """One tool call as the GLM text the model wrote (glm45 shape), for re-parsing."""
    try:
        values = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise OutputError(
            f"The server sent tool call {name!r} with arguments that are not JSON: {exc}"
        ) from exc
    if not isinstance(values, dict):
        raise OutputError(f"The server sent tool call {name!r} with arguments that are not a JSON object.")
    text = f"<tool_call>{name}\n"
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text += f"<arg_key>{key}</arg_key>\n<arg_value>{shown}</arg_value>\n"
    return text + "</tool_call>"


@dataclass
class _Choice:
    """One choice of a streamed reply, rebuilt as GLM text and parsed as it arrives."""

    parser: Any
    thinking_end: tuple[str, ...]
    state: Literal["start", "reasoning", "content"] = "start"
    raw: list[str] = field(default_factory=list)
    calls: dict[int, list[str]] = field(default_factory=dict)  # index → [name, arguments…]
    finish: str | None = None
    as_content: bool = False  # continuation pass: everything the server sends is answer text

    def _emit(self, index: int, text: str) -> Chunk:
        self.raw.append(text)
        delta = self.parser.feed(text)
        return Chunk(index, delta.reasoning, delta.content, delta.tool_calls, raw=text)

    def reasoning(self, index: int, text: str) -> Chunk | None:
        if self.as_content:
            return self.content(index, text)
        if not text:
            return None
        prefix = "<think>" if self.state == "start" else ""
        self.state = "reasoning"
        return self._emit(index, prefix + text)

    def content(self, index: int, text: str) -> Chunk | None:
        if not text:
            return None
        prefix = "</think>" if self.state == "reasoning" else ""
        self.state = "content"
        return self._emit(index, prefix + text)

    def tool_fragment(self, fragment: dict[str, Any]) -> None:
        call = self.calls.setdefault(int(fragment.get("index", len(self.calls))), [""])
        function = fragment.get("function") or {}
        if function.get("name"):
            call[0] = function["name"]
        if function.get("arguments"):
            call.append(function["arguments"])

    def flush_calls(self, index: int) -> Chunk | None:
        if not self.calls:
            return None
        text = "</think>" if self.state == "reasoning" else ""
        text += "".join("\n" + _tool_call_text(c[0], "".join(c[1:])) for _, c in sorted(self.calls.items()))
        self.calls.clear()
        self.state = "content"
        return self._emit(index, text)

    def continuation(self, index: int) -> tuple[Chunk, str]:
        """Close the reasoning as the recipe does; the chunk and the assistant text to continue from."""
        text = "".join(self.raw)
        appended = ""
        if self.state != "content":
            appended = ("<think>" if self.state == "start" else "") + "".join(self.thinking_end)
        elif len(self.thinking_end) > 1 and self.thinking_end[-1] not in text:
            appended = self.thinking_end[-1]
        self.state = "content"
        self.as_content = True
        chunk = self._emit(index, appended) if appended else Chunk(index)
        return chunk, text + appended


class RemoteEngine(EngineBase):
    """An OpenAI-compatible server as an :class:`~glmv.engine.Engine`.

    ``base_url`` ends in ``/v1`` (``http://127.0.0.1:8000/v1``); ``model=None`` takes the server's first model;
    ``family`` (a family name) guides parsing and the budget recipe and is detected from the model id when
    omitted. ``timeout`` is seconds per HTTP request.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        flavor: Flavor = "auto",
        timeout: float = 600.0,
        family: str | Family | None = None,
    ) -> None:
        import httpx

        if flavor not in ("auto", *_FLAVORS):
            raise RequestError(f"Unknown server flavor {flavor!r}; choose auto, {', '.join(_FLAVORS)}.")
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._model = model
        self._flavor: str | None = None if flavor == "auto" else flavor
        self._family_given = get_family(family) if family is not None else None
        self.family = self._family_given

    # -- discovery -------------------------------------------------------------------------------------------

    def _models(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/models").json()
        return list(data.get("data") or [])

    @property
    def model(self) -> str:
        """The model id requests name (the server's first model unless given)."""
        if self._model is None:
            models = self._models()
            if not models:
                raise EngineError(f"{self.base_url} serves no models (GET /models is empty); pass model=...")
            self._model = str(models[0]["id"])
        if self.family is None and self._family_given is None:
            try:
                self.family = detect_family(self._model)
            except FamilyError:
                self.family = None
        return self._model

    def _resolve(self) -> None:
        """Learn the model id (and from it the family) before the first request is built."""
        _ = self.model

    @property
    def flavor(self) -> str:
        """``vllm``, ``sglang``, ``zai`` or ``glmv``: which server conventions requests follow."""
        if self._flavor is None:
            host = urlparse(self.base_url).hostname or ""
            if any(host == h or host.endswith("." + h) for h in _HOSTED):
                self._flavor = "zai"
            else:
                owners = {str(m.get("owned_by", "")).lower() for m in self._models()}
                self._flavor = next((f for f in ("glmv", "sglang", "vllm") if f in owners), "vllm")
        return self._flavor

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineError(f"Cannot reach {self.base_url}{path}: {exc}. Is the server running?") from exc
        self._raise_for_status(response)
        return response

    def _raise_for_status(self, response: Any) -> None:
        if response.status_code < 400:
            return
        try:
            response.read()
            detail = response.json().get("error", {})
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
        except (ValueError, AttributeError):
            message = response.text[:500]
        text = f"{self.base_url} answered {response.status_code}: {message}"
        if response.status_code in (429, 503):
            raise EngineBusyError(text, retry_after=float(response.headers.get("retry-after", 1) or 1))
        if response.status_code in (400, 404, 413, 422):
            raise RequestError(text)
        raise EngineError(text)

    # -- request bodies --------------------------------------------------------------------------------------

    def _body(self, request: ChatRequest, stream: bool, max_tokens: int | None = None) -> dict[str, Any]:
        model = self.model
        flavor = self.flavor
        family = self.family
        limit = (
            max_tokens or request.max_tokens or (family.sampling.max_tokens if family else DEFAULT_MAX_TOKENS)
        )
        body: dict[str, Any] = {
            "model": model,
            "messages": _portable_messages(request.messages),
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        body["max_tokens" if flavor == "zai" else "max_completion_tokens"] = limit
        for name in ("temperature", "top_p", "seed", "stop"):
            if getattr(request, name) is not None:
                body[name] = getattr(request, name)
        if request.n != 1:
            body["n"] = request.n
        if flavor != "zai":
            body["skip_special_tokens"] = False
            for name in ("top_k", "repetition_penalty"):
                if getattr(request, name) is not None:
                    body[name] = getattr(request, name)
        if request.enable_thinking is not None:
            if flavor == "zai":
                body["thinking"] = {"type": "enabled" if request.enable_thinking else "disabled"}
            else:
                body["chat_template_kwargs"] = {"enable_thinking": request.enable_thinking}
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.thinking_budget is not None and flavor == "glmv":
            body["thinking_budget"] = request.thinking_budget
        return body

    # -- generation ------------------------------------------------------------------------------------------

    def _new_choice(self, request: ChatRequest) -> _Choice:
        from glmv.output import StreamParser

        family = self.family
        return _Choice(
            parser=StreamParser(family, request.tools),
            thinking_end=family.thinking_end if family else ("</think>",),
        )

    def _stream(
        self, body: dict[str, Any], choices: dict[int, _Choice], request: ChatRequest
    ) -> Iterator[Chunk | Usage]:
        """Chunks of one streamed call (text and tool calls; finish reasons land in ``choices``), then usage."""
        import httpx

        try:
            yield from self._read_stream(body, choices, request)
        except httpx.HTTPError as exc:
            raise EngineError(
                f"Lost {self.base_url}/chat/completions: {exc}. Is the server running?"
            ) from exc

    def _read_stream(
        self, body: dict[str, Any], choices: dict[int, _Choice], request: ChatRequest
    ) -> Iterator[Chunk | Usage]:
        with self._http.stream("POST", "/chat/completions", json=body) as response:
            self._raise_for_status(response)
            usage = None
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                payload = json.loads(data)
                if "error" in payload:
                    error = payload["error"]
                    raise EngineError(f"{self.base_url} failed mid-stream: {error.get('message', error)}")
                if payload.get("usage"):
                    usage = Usage(
                        payload["usage"].get("prompt_tokens", 0), payload["usage"].get("completion_tokens", 0)
                    )
                for item in payload.get("choices") or []:
                    index = int(item.get("index", 0))
                    choice = choices.setdefault(index, self._new_choice(request))
                    delta = item.get("delta") or {}
                    for piece in (
                        choice.reasoning(
                            index, delta.get("reasoning") or delta.get("reasoning_content") or ""
                        ),
                        choice.content(index, delta.get("content") or ""),
                    ):
                        if piece is not None:
                            yield piece
                    for fragment in delta.get("tool_calls") or []:
                        choice.tool_fragment(fragment)
                    if item.get("finish_reason"):
                        choice.finish = item["finish_reason"]
            for index, choice in sorted(choices.items()):
                piece = choice.flush_calls(index)
                if piece is not None:
                    yield piece
            if usage is not None:
                yield usage

    def _finish(self, choices: dict[int, _Choice], usage: Usage | None, n: int) -> Iterator[Chunk]:
        for index in range(n):
            choice = choices.get(index)
            if choice is None:
                continue
            tail = choice.parser.close()
            reason = choice.finish if choice.finish in ("stop", "length", "tool_calls") else "stop"
            if reason == "stop" and choice.parser.reply.tool_calls:
                reason = "tool_calls"
            share = usage if index == 0 else (Usage(usage.prompt_tokens, 0) if usage else None)
            yield Chunk(
                index, tail.reasoning, tail.content, tail.tool_calls, finish_reason=reason, usage=share
            )

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the reply; a thinking budget on a vLLM/SGLang server runs the two-pass recipe."""
        self._resolve()
        flavor = self.flavor
        if request.thinking_budget is not None and flavor != "glmv":
            thinking = self.family.thinking_enabled(request.enable_thinking) if self.family else True
            if flavor == "zai":
                raise RequestError(
                    "The hosted Z.ai API takes no thinking budget and cannot continue a message; drop "
                    "thinking_budget or switch thinking off.",
                    field="thinking_budget",
                )
            if thinking:
                yield from self._two_pass(request)
                return
        choices: dict[int, _Choice] = {}
        usage = None
        for item in self._stream(self._body(request, stream=True), choices, request):
            if isinstance(item, Usage):
                usage = item
            else:
                yield item
        yield from self._finish(choices, usage, request.n)

    def _two_pass(self, request: ChatRequest) -> Iterator[Chunk]:
        if request.n != 1:
            raise RequestError("A thinking budget on a vLLM/SGLang server needs n=1.", field="n")
        budget = request.thinking_budget or 0
        total = request.max_tokens or (self.family.sampling.max_tokens if self.family else DEFAULT_MAX_TOKENS)
        choices: dict[int, _Choice] = {0: self._new_choice(request)}
        first: Usage | None = None
        for item in self._stream(
            self._body(request, True, max_tokens=max(1, min(budget, total))), choices, request
        ):
            if isinstance(item, Usage):
                first = item
            else:
                yield item
        choice = choices[0]
        used = first.completion_tokens if first else budget
        if choice.finish != "length" or total - used <= 0:
            yield from self._finish(choices, first, 1)
            return
        chunk, text = choice.continuation(0)
        if chunk.raw:
            yield chunk
        continued = request.with_(messages=[*request.messages, {"role": "assistant", "content": text}])
        body = self._body(continued, True, max_tokens=total - used)
        body.update(continue_final_message=True, add_generation_prompt=False)
        choice.finish = None
        second: Usage | None = None
        for item in self._stream(body, choices, request):
            if isinstance(item, Usage):
                second = item
            else:
                yield item
        prompt = first.prompt_tokens if first else (second.prompt_tokens if second else 0)
        usage = Usage(prompt, used + (second.completion_tokens if second else 0))
        yield from self._finish(choices, usage, 1)

    def chat(self, request: ChatRequest) -> Reply:
        """The whole reply of choice 0 from one non-streamed call (the budget recipe streams)."""
        self._resolve()
        if request.thinking_budget is not None and self.flavor != "glmv":
            return super().chat(request)
        data = self._request("POST", "/chat/completions", json=self._body(request, stream=False)).json()
        if not data.get("choices"):
            raise EngineError(f"{self.base_url} answered without choices: {json.dumps(data)[:300]}")
        item = data["choices"][0]
        message = item.get("message") or {}
        choice = self._new_choice(request)
        choice.reasoning(0, message.get("reasoning") or message.get("reasoning_content") or "")
        choice.content(0, message.get("content") or "")
        for number, call in enumerate(message.get("tool_calls") or []):
            choice.tool_fragment({"index": number, **call})
        choice.flush_calls(0)
        choice.finish = item.get("finish_reason")
        usage = data.get("usage") or {}
        final = next(
            self._finish(
                {0: choice}, Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)), 1
            )
        )
        reply = choice.parser.reply
        reply.finish_reason = final.finish_reason
        reply.usage = final.usage
        return reply

    def close(self) -> None:
        self._http.close()
