"""One choice of a running request, as the continuous-batching loop sees it: its stop rules and its stream.

A :class:`Row` takes the tokens the loop picks for it (:meth:`Row.take`, with their log-probabilities when the
request asked for them, named by :class:`TokenNames`), turns them into text deltas with its own
:class:`Detokenizer`, cuts them at the request's stop strings (:class:`~glmv.engine.stops.StopMatcher`), stops on
the family's stop tokens and on ``max_tokens``, and streams :class:`~glmv.engine.batching.Text` /
:class:`~glmv.engine.batching.End` events to its :class:`~glmv.engine.batching.Job`. It also holds what the loop
needs to feed it again: the latest token and its M-RoPE position (rope delta included). No torch here: the
tensors live in the batch (:mod:`glmv.engine.local_kv`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from glmv.engine.batching import End, Job, Text
from glmv.engine.local_sampling import Scored
from glmv.engine.stops import StopMatcher
from glmv.output.reply import TokenLogprob

__all__ = ["Detokenizer", "Row", "TokenNames", "decoder_of"]


class Detokenizer:
    """Turns token ids into text deltas, holding back bytes of a character that is not complete yet.

    Each token decodes only a small window (the tokens of the previous delta as context, then the new ones), so
    a step costs the same at token 10 and at token 10 000.
    """

    def __init__(self, decode: Callable[[list[int]], str]) -> None:
        self.decode = decode
        self.ids: list[int] = []
        self.prefix = 0  # ids[prefix:read] is context for decoding the next delta
        self.read = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        before = self.decode(self.ids[self.prefix : self.read])
        after = self.decode(self.ids[self.prefix :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        before = self.decode(self.ids[self.prefix : self.read])
        after = self.decode(self.ids[self.prefix :])
        self.prefix = self.read = len(self.ids)
        return after[len(before) :]


def decoder_of(tokenizer: Any) -> Callable[[list[int]], str]:
    """``tokenizer.decode`` keeping special tokens; the Rust decoder directly when that is all it does."""
    from functools import partial

    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    if (
        isinstance(tokenizer, TokenizersBackend)
        and type(tokenizer)._decode is TokenizersBackend._decode
        and not tokenizer.clean_up_tokenization_spaces
    ):
        return partial(tokenizer.backend_tokenizer.decode, skip_special_tokens=False)
    return partial(tokenizer.decode, skip_special_tokens=False)


def _byte_alphabet() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2's, which GLM's tokenizers use): its character → the byte it stands for."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


class TokenNames:
    """The text and exact bytes of single token ids, for log-probability entries (cached per id).

    The bytes come from the token's byte-level spelling, so a token that holds part of a multi-byte character
    has its real bytes (its text shows U+FFFD); special tokens and tokenizers that are not byte-level give the
    UTF-8 of their text.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._decode = decoder_of(tokenizer)
        self._spell = tokenizer.convert_ids_to_tokens
        self._alphabet = _byte_alphabet()
        self.name = lru_cache(maxsize=65536)(self._name)

    def _name(self, token: int) -> tuple[str, tuple[int, ...]]:
        text = self._decode([token])
        spelling = self._spell(token)
        if isinstance(spelling, str) and spelling and all(char in self._alphabet for char in spelling):
            return text, tuple(self._alphabet[char] for char in spelling)
        return text, tuple(text.encode("utf-8"))

    def entry(self, scored: Scored) -> TokenLogprob:
        text, raw = self.name(scored.token)
        top = tuple((*self.name(token), logprob) for token, logprob in scored.top)
        return TokenLogprob(text, scored.logprob, raw, tuple((name, lp, raw) for name, raw, lp in top))


class Row:
    """Choice ``index`` of ``job``: takes its tokens, applies its stop rules and streams to the job.

    ``prompt_ids`` and ``rope_delta`` (the prompt's highest M-RoPE position + 1 − its length) place the row's
    tokens: :attr:`position` is where the latest token is fed; ``vision_keys`` name the prompt's images (for the
    prefix cache).
    """

    def __init__(
        self,
        job: Job,
        index: int,
        decode: Callable[[list[int]], str],
        stop_ids: frozenset[int],
        stops: Sequence[str] | None,
        max_tokens: int,
        *,
        prompt_ids: list[int],
        rope_delta: int = 0,
        vision_keys: Sequence[str] = (),
        names: TokenNames | None = None,
    ) -> None:
        self.job = job
        self.names = names  # set when the request asked for logprobs
        self.unsent: list[TokenLogprob] = []
        self.index = index
        self.decoder = Detokenizer(decode)
        self.stop_ids = stop_ids
        self.stops = StopMatcher(stops)
        self.max_tokens = max_tokens
        self.prompt_ids = prompt_ids
        self.prompt_length = len(prompt_ids)
        self.rope_delta = rope_delta
        self.vision_keys = vision_keys
        self.generated: list[int] = []
        self.last = -1  # the latest token, fed at the next decode step
        self.count = 0
        self.done = False

    @property
    def length(self) -> int:
        """Tokens the row holds: its prompt and what it generated."""
        return self.prompt_length + self.count

    @property
    def position(self) -> int:
        """The M-RoPE position of the latest token (the one the next decode step feeds)."""
        return self.length - 1 + self.rope_delta

    @property
    def cancelled(self) -> bool:
        return self.job.cancelled.is_set()

    def take(self, token: int, scored: Scored | None = None) -> bool:
        """Take the row's new token (``scored``: its log-probabilities); True when the row is finished."""
        if self.done:
            return True
        if scored is not None and self.names is not None:
            self.unsent.append(self.names.entry(scored))
        self.last = token
        self.generated.append(token)
        self.count += 1
        if token in self.stop_ids:
            self.finish("stop")
            return True
        text, hit = self.stops.feed(self.decoder.push(token))
        if text:
            self._put_text(text)
        if hit:
            self.finish("stop", flush=False)
        elif self.count >= self.max_tokens:
            self.finish("length")
        return self.done

    def finish(self, reason: str, flush: bool = True) -> None:
        """End the row for ``reason`` (``stop``, ``length``, ``cancelled``), flushing held-back text first."""
        if self.done:
            return
        self.done = True
        if flush:
            text, _ = self.stops.feed(self.decoder.flush())
            text += self.stops.flush()
            if text:
                self._put_text(text)
        timings = self.job.timings
        timings.tokens += self.count
        timings.ended = time.perf_counter()
        self.job.put(End(self.index, reason, self.count, tuple(self.unsent), timings.request_timings()))
        self.unsent = []

    def _put_text(self, text: str) -> None:
        self.job.put(Text(self.index, text, tuple(self.unsent)))
        self.unsent = []
