"""The LLM judge: any OpenAI-compatible endpoint, several judges voting, replies parsed the way prompts ask.

Three layers, each small:

- :class:`JudgeTransport` — the one seam that talks to a server: ``complete(endpoint, prompt, params) -> str``.
  :class:`OpenAITransport` uses the official ``openai`` SDK (the official glmv_reward posted to a full
  ``…/chat/completions`` URL; both that and a ``…/v1`` base URL work). Swap it for anything with that method.
- :class:`JudgeClient` — policies around the transport: a concurrency limit, retries with exponential backoff, a
  reply cache and counters (calls, errors, timeouts). A failure raises :class:`JudgeCallError`; it is never
  turned into an empty reply or a negative vote.
- :class:`LLMJudge` — one verifier's judge: its endpoints, its prompt template (literal braces protected), the
  reply parser and how votes combine (``majority``, ``single`` or ``mean``). Images are never sent: the official
  prompts are text-only.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol

from glmv.errors import ConfigError
from glmv.reward.cache import LruCache
from glmv.reward.text import placeholders, protect_template

__all__ = [
    "Endpoint",
    "JudgeCallError",
    "JudgeClient",
    "JudgeParams",
    "JudgeTransport",
    "JudgeVerdict",
    "LLMJudge",
    "OpenAITransport",
    "endpoints_from",
    "parse_chemistry",
    "parse_general",
    "parse_geoquest",
    "parse_last",
    "parse_substring",
]

DEFAULT_JUDGE_MODEL = "glm-4-flash"


@dataclass(frozen=True)
class Endpoint:
    """One judge: where it is, the key and the model name."""

    url: str
    api_key: str
    model: str


@dataclass(frozen=True)
class JudgeParams:
    max_tokens: int = 10
    temperature: float = 0.1
    top_p: float = 1.0


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


class OpenAITransport:
    """:class:`JudgeTransport` over the ``openai`` SDK (no SDK retries: :class:`JudgeClient` retries)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, float], object] = {}
        self._lock = threading.Lock()

    def _client(self, endpoint: Endpoint, timeout: float):
        key = (_base_url(endpoint.url), endpoint.api_key, timeout)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import openai

                client = openai.OpenAI(
                    base_url=key[0], api_key=endpoint.api_key or "none", timeout=timeout, max_retries=0
                )
                self._clients[key] = client
            return client

    def complete(self, endpoint: Endpoint, prompt: str, params: JudgeParams, timeout: float) -> str:
        import openai

        client = self._client(endpoint, timeout)
        try:
            response = client.chat.completions.create(  # type: ignore[attr-defined]
                model=endpoint.model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stream=False,
            )
        except openai.APITimeoutError as exc:
            raise JudgeCallError(
                f"judge {endpoint.model} at {endpoint.url} timed out after {timeout:g} s", timed_out=True
            ) from exc
        except openai.APIError as exc:
            raise JudgeCallError(f"judge {endpoint.model} at {endpoint.url} failed: {exc}") from exc
        if not response.choices:
            raise JudgeCallError(f"judge {endpoint.model} at {endpoint.url} returned no choices")
        return response.choices[0].message.content or ""


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
        self.transport = transport or OpenAITransport()
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
        self._pool.shutdown(wait=False, cancel_futures=True)


def _reply_text(reply: str) -> str:
    """The reply without a leading reasoning block (thinking judges)."""
    return reply.rsplit("</think>", 1)[-1].strip()


def _as_float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_substring(reply: str) -> float | None:
    """Official majority-vote rule: ``1.0`` anywhere → 1; else ``0.0`` anywhere → 0; else the reply as a number."""
    text = _reply_text(reply)
    if "1.0" in text:
        return 1.0
    if "0.0" in text:
        return 0.0
    return _as_float(text)


def parse_last(reply: str) -> float | None:
    """Physics / counting rule: whichever of ``1.0`` and ``0.0`` comes last."""
    text = _reply_text(reply)
    one, zero = text.rfind("1.0"), text.rfind("0.0")
    if one < 0 and zero < 0:
        return _as_float(text)
    return 1.0 if one > zero else 0.0


_CHEM_SCORE = re.compile(r"(?<![\d.])(1\.0|0\.0|1|0)(?![\d.])")


def parse_chemistry(reply: str) -> float | None:
    """Chemistry rule: the last of ``1.0``, ``0.0`` or a standalone ``1`` / ``0``."""
    text = _reply_text(reply)
    matches = _CHEM_SCORE.findall(text)
    return float(matches[-1]) if matches else _as_float(text)


def parse_general(reply: str) -> float | None:
    """General rule, agreeing with its prompt: boxed ``Correct`` / ``Incorrect``, or ``1.0`` / ``0.0``."""
    from glmv.output.boxes import extract_boxed, extract_latex_boxed

    text = _reply_text(reply)
    boxed = [b.strip() for b in extract_latex_boxed(text) + extract_boxed(text)]
    if "Correct" in boxed:
        return 1.0
    if "Incorrect" in boxed:
        return 0.0
    return parse_substring(text)


_SCORE_FIELD = re.compile(r'"score"\s*:\s*([0-9]*\.?[0-9]+)')


def parse_geoquest(reply: str) -> float | None:
    """GeoQuest rule: ``score`` of the first JSON object (partial credit); a bare ``"score": x`` binarised at 0.7."""
    text = _reply_text(reply)
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
