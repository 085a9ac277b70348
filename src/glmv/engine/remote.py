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
such field). What the server has already parsed goes straight into the chunks and the reply through the
:class:`~glmv.engine.pump.ChunkPump`: its reasoning field as reasoning, its tool calls as tool calls (arguments
typed as the server's JSON has them). Its content is still parsed by :mod:`glmv.output`, so answers, boxes,
``<answer>`` tags and HTML come out as from a local model. Chunks carry no ``raw`` text: the server sends the
model's text already split. ``logprobs`` / ``top_logprobs`` are sent as asked, and the server's
``logprobs.content`` entries come back as :class:`~glmv.output.TokenLogprob` (a server that sends none gives a
reply without them).

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

from glmv.engine.pump import ChunkPump
from glmv.engine.types import ChatRequest, Chunk, EngineBase
from glmv.errors import EngineBusyError, EngineError, FamilyError, MediaError, RequestError
from glmv.families import Family, detect_family, get_family
from glmv.messages import data_uri, image_part
from glmv.output.reply import Reply, TokenLogprob, Usage
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
            from glmv.media import read_media_file

            try:
                data = read_media_file(path, kind.removesuffix("_url"))
            except MediaError as exc:
                raise RequestError(str(exc), field="messages") from exc
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


@dataclass
class _Sent:
    """What the server has sent for one choice: the text the two-pass recipe continues from, and its finish."""

    thinking_end: tuple[str, ...]
    reasoning_text: list[str] = field(default_factory=list)
    content_text: list[str] = field(default_factory=list)
    finish: str | None = None
    as_content: bool = False  # continuation pass: everything the server sends is answer text

    def reasoning(self, pump: ChunkPump, index: int, text: str) -> Chunk | None:
        if self.as_content:
            return self.content(pump, index, text)
        if not text:
            return None
        self.reasoning_text.append(text)
        return pump.reasoning(index, text)

    def content(self, pump: ChunkPump, index: int, text: str) -> Chunk | None:
        if not text:
            return None
        self.content_text.append(text)
        return pump.content(index, text)

    def continuation(self) -> str:
        """The assistant text so far with the reasoning closed as the recipe does (``</think>``, 4.1V ``<answer>``)."""
        reasoning, content = "".join(self.reasoning_text), "".join(self.content_text)
        self.as_content = True
        if not content:
            return "<think>" + reasoning + "".join(self.thinking_end)
        text = ("<think>" + reasoning + "</think>" if reasoning else "") + content
        if len(self.thinking_end) > 1 and self.thinking_end[-1] not in text:
            text += self.thinking_end[-1]
        return text


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
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
        return body

    # -- generation ------------------------------------------------------------------------------------------

    def _pump(self, request: ChatRequest) -> ChunkPump:
        return ChunkPump(self.family, request.tools, keep_box_markers=request.keep_box_markers)

    def _sent(self) -> _Sent:
        return _Sent(self.family.thinking_end if self.family else ("</think>",))

    def _stream(
        self, body: dict[str, Any], pump: ChunkPump, choices: dict[int, _Sent]
    ) -> Iterator[Chunk | Usage]:
        """Chunks of one streamed call (finish reasons land in ``choices``), then the usage when sent."""
        import httpx

        try:
            yield from self._read_stream(body, pump, choices)
        except httpx.HTTPError as exc:
            raise EngineError(
                f"Lost {self.base_url}/chat/completions: {exc}. Is the server running?"
            ) from exc

    def _read_stream(
        self, body: dict[str, Any], pump: ChunkPump, choices: dict[int, _Sent]
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
                    sent = choices.get(index)
                    if sent is None:
                        sent = choices[index] = self._sent()
                    pump.logprobs(index, _logprob_entries(item.get("logprobs")))
                    delta = item.get("delta") or {}
                    reasoning = delta.get("reasoning") or delta.get("reasoning_content") or ""
                    pieces = [
                        sent.reasoning(pump, index, reasoning),
                        sent.content(pump, index, delta.get("content") or ""),
                    ]
                    pieces += [pump.tool_call(index, fragment) for fragment in delta.get("tool_calls") or []]
                    yield from (piece for piece in pieces if piece is not None)
                    if item.get("finish_reason"):
                        sent.finish = item["finish_reason"]
            if usage is not None:
                yield usage

    def _finish(
        self, pump: ChunkPump, choices: dict[int, _Sent], usage: Usage | None, n: int
    ) -> Iterator[Chunk]:
        for index in range(n):
            if index not in choices:
                continue
            share = usage if index == 0 else (Usage(usage.prompt_tokens, 0) if usage else None)
            yield pump.end(index, choices[index].finish or "stop", share)

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
        pump, choices = self._pump(request), {}
        usage = None
        for item in self._stream(self._body(request, stream=True), pump, choices):
            if isinstance(item, Usage):
                usage = item
            else:
                yield item
        yield from self._finish(pump, choices, usage, request.n)

    def _two_pass(self, request: ChatRequest) -> Iterator[Chunk]:
        if request.n != 1:
            raise RequestError("A thinking budget on a vLLM/SGLang server needs n=1.", field="n")
        budget = request.thinking_budget or 0
        total = request.max_tokens or (self.family.sampling.max_tokens if self.family else DEFAULT_MAX_TOKENS)
        pump, choices = self._pump(request), {0: self._sent()}
        first: Usage | None = None
        for item in self._stream(
            self._body(request, True, max_tokens=max(1, min(budget, total))), pump, choices
        ):
            if isinstance(item, Usage):
                first = item
            else:
                yield item
        sent = choices[0]
        used = first.completion_tokens if first else budget
        if sent.finish != "length" or total - used <= 0:
            yield from self._finish(pump, choices, first, 1)
            return
        text = sent.continuation()
        continued = request.with_(messages=[*request.messages, {"role": "assistant", "content": text}])
        body = self._body(continued, True, max_tokens=total - used)
        body.update(continue_final_message=True, add_generation_prompt=False)
        sent.finish = None
        second: Usage | None = None
        for item in self._stream(body, pump, choices):
            if isinstance(item, Usage):
                second = item
            else:
                yield item
        prompt = first.prompt_tokens if first else (second.prompt_tokens if second else 0)
        usage = Usage(prompt, used + (second.completion_tokens if second else 0))
        yield from self._finish(pump, choices, usage, 1)

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
        pump = self._pump(request)
        pump.logprobs(0, _logprob_entries(item.get("logprobs")))
        pump.reasoning(0, message.get("reasoning") or message.get("reasoning_content") or "")
        pump.content(0, message.get("content") or "")
        for number, call in enumerate(message.get("tool_calls") or []):
            pump.tool_call(0, {**call, "index": number})
        usage = data.get("usage") or {}
        final = pump.end(
            0,
            item.get("finish_reason") or "stop",
            Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
        )
        return final.reply

    def close(self) -> None:
        self._http.close()


def _logprob_entries(body: Any) -> list[TokenLogprob]:
    """The entries of an OpenAI ``logprobs`` object (``{"content": [...]}``); none for anything else."""
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, list):
        return []
    return [_entry(item) for item in content if isinstance(item, dict)]


def _entry(item: dict[str, Any]) -> TokenLogprob:
    token = str(item.get("token", ""))
    top = tuple(
        (str(alt.get("token", "")), float(alt.get("logprob", 0.0)), _raw(alt, str(alt.get("token", ""))))
        for alt in item.get("top_logprobs") or ()
        if isinstance(alt, dict)
    )
    return TokenLogprob(token, float(item.get("logprob", 0.0)), _raw(item, token), top)


def _raw(item: dict[str, Any], token: str) -> tuple[int, ...]:
    raw = item.get("bytes")
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return tuple(raw)
    return tuple(token.encode("utf-8"))
