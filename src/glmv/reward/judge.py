"""The LLM judge: any glmv engine (a local model, ``glmv serve``, any OpenAI-compatible server, a scripted engine
in tests), several judges voting, replies parsed the way prompts ask.

Three layers, each small:

- :class:`JudgeTransport` — the one seam that talks to a judge: ``complete(endpoint, prompt, params, timeout)
  -> str``. :class:`EngineTransport`, the default, opens ``glmv.engine.open_engine(endpoint.url)`` once per
  endpoint and asks it through :func:`glmv.engine.chat`; the official glmv_reward posted to a full
  ``…/chat/completions`` URL, and both that and a ``…/v1`` base URL work. Swap it for anything with that
  method.
- :class:`JudgeClient` — policies around the transport: a concurrency limit, retries with exponential backoff, a
  reply cache and counters (calls, errors, timeouts). A failure raises :class:`JudgeCallError`; it is never
  turned into an empty reply or a negative vote.
- :class:`LLMJudge` — one verifier's judge: its endpoints, its prompt template (literal braces protected), the
  reply parser and how votes combine (``majority``, ``single`` or ``mean``). Images are never sent: the official
  prompts are text-only.

The verdict is read from the judge's answer, never from its reasoning: an engine's reply gives the reasoning
apart, and the parsers also drop anything up to a ``</think>`` left in the text.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Literal, Protocol

from glmv.engine import ChatRequest, Engine, chat, open_engine
from glmv.errors import ConfigError, GlmvError
from glmv.output.boxes import extract_boxed, extract_latex_boxed
from glmv.output.tags import strip_reasoning
from glmv.reward.cache import LruCache
from glmv.reward.text import placeholders, protect_template
from glmv.settings import DEFAULT_JUDGE_MODEL

__all__ = [
    "Endpoint",
    "EngineTransport",
    "JudgeCallError",
    "JudgeClient",
    "JudgeParams",
    "JudgeTransport",
    "JudgeVerdict",
    "LLMJudge",
    "endpoints_from",
    "parse_chemistry",
    "parse_general",
    "parse_geoquest",
    "parse_last",
    "parse_substring",
]


@dataclass(frozen=True)
class Endpoint:
    """One judge: where it is (a server URL, a hub id or checkpoint folder, ``scripted``), the key and the model
    name (the name a server serves it under)."""

    url: str
    api_key: str
    model: str


@dataclass(frozen=True)
class JudgeParams:
    """Sampling of a judge call; ``enable_thinking=None`` leaves the judge model's own default."""

    max_tokens: int = 10
    temperature: float = 0.1
    top_p: float = 1.0
    enable_thinking: bool | None = None


class JudgeCallError(Exception):
    """A judge call failed after its retries; ``timed_out`` tells a timeout from other failures."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class JudgeTransport(Protocol):
    """Sends one prompt to one judge and returns the reply text; raises :class:`JudgeCallError` on failure."""

    def complete(self, endpoint: Endpoint, prompt: str, params: JudgeParams, timeout: float) -> str: ...


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/chat/completions")] if url.endswith("/chat/completions") else url


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


class EngineTransport:
    """:class:`JudgeTransport` over glmv engines: the default transport.

    Each endpoint's engine is opened once, on first use, with ``open_engine(endpoint.url)`` — a server URL
    (``…/v1`` or ``…/chat/completions``; ``model`` and ``api_key`` go with it), a hub id or checkpoint folder (a
    local model), ``scripted`` (tests) or any registered engine — and is shared by every thread. ``engines``
    maps URLs to engines opened elsewhere (a policy's own engine, a test's scripted one); those are used as
    they are and left open by :meth:`close`.

    Every call is bounded by its timeout, waiting for an engine that is still opening included: past it the
    call raises :class:`JudgeCallError` with ``timed_out`` while the engine finishes in the background (a
    server engine's HTTP requests share the same timeout). Engine errors become :class:`JudgeCallError` too.
    The reply text is the judge's answer with box markers kept (``keep_box_markers``), its reasoning apart.
    """

    def __init__(self, engines: Mapping[str, Engine] | None = None, *, workers: int = 64) -> None:
        self._given = dict(engines or {})
        self._opened: dict[tuple[str, str, str], Engine] = {}
        self._opening: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="glmv-judge-engine")
        self._closed = False

    def engine(self, endpoint: Endpoint, timeout: float = 120.0) -> Engine:
        """The engine of ``endpoint``: given, already open, or opened now (``timeout`` bounds its HTTP calls)."""
        given = self._given.get(endpoint.url)
        if given is not None:
            return given
        # A server is one engine per key and model; a local model is loaded once whatever its judges are named.
        key = (
            (endpoint.url, endpoint.api_key, endpoint.model)
            if _is_url(endpoint.url)
            else (endpoint.url, "", "")
        )
        with self._lock:
            self._check_open()
            engine = self._opened.get(key)
            if engine is not None:
                return engine
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one thread opens an endpoint's engine; the others wait for it
            with self._lock:
                engine = self._opened.get(key)
            if engine is None:
                engine = self._open(endpoint, timeout)
                with self._lock:
                    if self._closed:  # closed while it was opening: do not leak it
                        _close_engine(engine)
                        self._check_open()
                    self._opened[key] = engine
        return engine

    def _check_open(self) -> None:
        if self._closed:
            raise JudgeCallError("the judge transport is closed; build a new RewardSystem to judge again")

    @staticmethod
    def _open(endpoint: Endpoint, timeout: float) -> Engine:
        if _is_url(endpoint.url):
            return open_engine(
                _base_url(endpoint.url),
                model=endpoint.model or None,
                api_key=endpoint.api_key or None,
                timeout=timeout,
            )
        return open_engine(endpoint.url)

    def _answer(self, endpoint: Endpoint, request: ChatRequest, timeout: float) -> str:
        reply = chat(self.engine(endpoint, timeout), request)
        if not reply.content.strip() and reply.finish_reason == "length":
            raise JudgeCallError(
                f"judge {endpoint.model} at {endpoint.url} used its max_tokens={request.max_tokens} before it "
                "answered (it was still reasoning); raise llm_max_tokens or switch the judge's thinking off"
            )
        return reply.content

    def complete(self, endpoint: Endpoint, prompt: str, params: JudgeParams, timeout: float) -> str:
        where = f"judge {endpoint.model} at {endpoint.url}"
        try:
            request = ChatRequest(
                messages=[{"role": "user", "content": prompt}],
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                enable_thinking=params.enable_thinking,
                model=endpoint.model,
                keep_box_markers=True,
            )
            future = self._pool.submit(self._answer, endpoint, request, timeout)
        except GlmvError as exc:
            raise JudgeCallError(f"{where}: {exc}") from exc
        except RuntimeError as exc:  # the pool was shut down by close()
            raise JudgeCallError(f"{where}: the judge transport is closed") from exc
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise JudgeCallError(f"{where} timed out after {timeout:g} s", timed_out=True) from None
        except GlmvError as exc:
            raise JudgeCallError(f"{where} failed: {exc}") from exc

    def close(self) -> None:
        """Close the engines this transport opened; calls still running finish or fail on their own."""
        with self._lock:
            self._closed = True
            engines = list(self._opened.values())
            self._opened.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for engine in engines:
            _close_engine(engine)


def _close_engine(engine: Engine) -> None:
    close = getattr(engine, "close", None)
    if close is not None:
        close()


@dataclass
class JudgeStats:
    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    cache_hits: int = 0


class JudgeClient:
    """Concurrency limit, retries with backoff and a cache around a :class:`JudgeTransport`."""

    def __init__(
        self,
        transport: JudgeTransport | None = None,
        *,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 16,
        cache_size: int = 100_000,
    ) -> None:
        self.transport: JudgeTransport = transport or EngineTransport()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = JudgeStats()
        self._cache: LruCache[str] = LruCache(cache_size)
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="glmv-judge")

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def complete(self, endpoint: Endpoint, prompt: str, params: JudgeParams) -> str:
        """The judge's reply, from the cache or the server; :class:`JudgeCallError` after the last retry."""
        key = (endpoint, prompt, params)
        cached = self._cache.get(key)
        if cached is not None:
            self._count(cache_hits=1)
            return cached
        error: JudgeCallError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self._count(calls=1)
            try:
                with self._slots:
                    reply = self.transport.complete(endpoint, prompt, params, self.timeout)
            except JudgeCallError as exc:
                error = exc
                continue
            except (
                Exception
            ) as exc:  # a transport bug or an unexpected failure: still counted, still reported
                error = JudgeCallError(f"judge transport failed: {type(exc).__name__}: {exc}")
                continue
            self._cache.put(key, reply)
            return reply
        assert error is not None
        self._count(errors=1, timeouts=int(error.timed_out))
        raise error

    def map(self, fn: Callable[[Endpoint], float | None], endpoints: Sequence[Endpoint]) -> list:
        """``fn`` over the endpoints, concurrently when there are several."""
        if len(endpoints) == 1:
            return [fn(endpoints[0])]
        return list(self._pool.map(fn, endpoints))

    def close(self) -> None:
        """Stop the client's threads and close its transport (its engines) when the transport has ``close``."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()


def _as_float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_substring(reply: str) -> float | None:
    """Official majority-vote rule: ``1.0`` anywhere → 1; else ``0.0`` anywhere → 0; else the reply as a number."""
    text = strip_reasoning(reply)
    if "1.0" in text:
        return 1.0
    if "0.0" in text:
        return 0.0
    return _as_float(text)


def parse_last(reply: str) -> float | None:
    """Physics / counting rule: whichever of ``1.0`` and ``0.0`` comes last."""
    text = strip_reasoning(reply)
    one, zero = text.rfind("1.0"), text.rfind("0.0")
    if one < 0 and zero < 0:
        return _as_float(text)
    return 1.0 if one > zero else 0.0


_CHEM_SCORE = re.compile(r"(?<![\d.])(1\.0|0\.0|1|0)(?![\d.])")


def parse_chemistry(reply: str) -> float | None:
    """Chemistry rule: the last of ``1.0``, ``0.0`` or a standalone ``1`` / ``0``."""
    text = strip_reasoning(reply)
    matches = _CHEM_SCORE.findall(text)
    return float(matches[-1]) if matches else _as_float(text)


def parse_general(reply: str) -> float | None:
    """General rule, agreeing with its prompt: boxed ``Correct`` / ``Incorrect``, or ``1.0`` / ``0.0``."""
    text = strip_reasoning(reply)
    boxed = [b.strip() for b in extract_latex_boxed(text) + extract_boxed(text)]
    if "Correct" in boxed:
        return 1.0
    if "Incorrect" in boxed:
        return 0.0
    return parse_substring(text)


_SCORE_FIELD = re.compile(r'"score"\s*:\s*([0-9]*\.?[0-9]+)')


def parse_geoquest(reply: str) -> float | None:
    """GeoQuest rule: ``score`` of the first JSON object (partial credit); a bare ``"score": x`` binarised at 0.7."""
    text = strip_reasoning(reply)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            value = json.loads(text[start : end + 1]).get("score")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return min(max(float(value), 0.0), 1.0)
        except (json.JSONDecodeError, AttributeError):
            pass
    match = _SCORE_FIELD.search(text)
    if match is None:
        return None
    return 1.0 if float(match.group(1)) >= 0.7 else 0.0


@dataclass
class JudgeVerdict:
    """The combined judgement. ``score`` is None when no judge gave a usable reply (see ``errors``)."""

    score: float | None
    votes: list[float | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timeouts: int = 0

    @property
    def calls(self) -> int:
        return len(self.votes)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def endpoints_from(
    api_key: str | list[str] | None,
    url: str | list[str] | None,
    model: str | list[str] | None,
    *,
    where: str = "judge",
) -> list[Endpoint]:
    """Zip the config's key / url / model values into endpoints (a single value is shared by all judges)."""
    keys, urls, models = _as_list(api_key), _as_list(url), _as_list(model)
    if not urls:
        return []
    count = max(len(keys), len(urls), len(models) or 1)
    for name, values in (("llm_api_key", keys), ("llm_judge_url", urls), ("llm_model", models)):
        if values and len(values) not in (1, count):
            raise ConfigError(
                f"{where}.{name}: {len(values)} values for {count} judges; give one or {count}."
            )

    def pick(values: list[str], i: int, default: str) -> str:
        return values[i if len(values) > 1 else 0] if values else default

    return [
        Endpoint(pick(urls, i, ""), pick(keys, i, ""), pick(models, i, DEFAULT_JUDGE_MODEL))
        for i in range(count)
    ]


class LLMJudge:
    """One verifier's judge: endpoints, a prompt template, a reply parser and a way to combine votes."""

    def __init__(
        self,
        client: JudgeClient,
        endpoints: Sequence[Endpoint],
        template: str,
        parser: Callable[[str], float | None],
        *,
        params: JudgeParams = JudgeParams(),
        combine: Literal["majority", "single", "mean"] = "majority",
        fields: Sequence[str] = ("question", "predict", "label"),
        required: Sequence[str] = ("predict", "label"),
        where: str = "judge",
    ) -> None:
        missing = [name for name in required if name not in placeholders(template)]
        if missing:
            raise ConfigError(
                f"{where}.llm_judge_prompt_template: the template lacks "
                + ", ".join("{" + name + "}" for name in missing)
                + f"; this verifier fills {', '.join('{' + f + '}' for f in fields)}."
            )
        if not endpoints:
            raise ConfigError(f"{where}.llm_judge_url: no judge endpoint configured.")
        self.client = client
        self.endpoints = list(endpoints[:1] if combine == "single" else endpoints)
        self.template = protect_template(template, fields)
        self.fields = tuple(fields)
        self.parser = parser
        self.params = params
        self.combine = combine

    def ask(self, **values: str) -> JudgeVerdict:
        """Fill the template, ask every judge and combine the usable votes."""
        prompt = self.template.format(**{name: values.get(name, "") for name in self.fields})
        errors: list[str] = []
        timeouts = 0

        def one(endpoint: Endpoint) -> float | None:
            nonlocal timeouts
            try:
                reply = self.client.complete(endpoint, prompt, self.params)
            except JudgeCallError as exc:
                errors.append(str(exc))
                timeouts += int(exc.timed_out)
                return None
            vote = self.parser(reply)
            if vote is None:
                errors.append(f"judge {endpoint.model} gave an unreadable reply: {reply[:80]!r}")
            return vote

        votes = self.client.map(one, self.endpoints)
        usable = [v for v in votes if v is not None]
        if not usable:
            return JudgeVerdict(None, votes, errors, timeouts)
        if self.combine == "majority":
            score = 1.0 if sum(usable) > len(usable) / 2 else 0.0
        elif self.combine == "mean":
            score = sum(usable) / len(usable)
        else:
            score = usable[0]
        return JudgeVerdict(min(max(score, 0.0), 1.0), votes, errors, timeouts)
