"""Evaluation protocols: how much a model may think before it must answer.

- ``official`` — GLM-V's academic setting (``trans_infer_bench.py``): think up to 8,192 tokens, then the answer
  is forced (``</think>``, plus ``<answer>`` for GLM-4.1V) and the model goes on for up to 8,192 more; sampling
  at temperature 0.1. The engines do the forcing from :attr:`ChatRequest.thinking_budget
  <glmv.engine.ChatRequest.thinking_budget>`: the local engine closes the reasoning in the same generation (same
  KV state); a remote vLLM / SGLang engine runs the two-pass continuation; ``glmv serve`` takes the budget
  natively.
- ``budget N`` — the same with a thinking budget of ``N`` tokens (and ``N + 8192`` tokens in all).
- ``no-think`` — thinking switched off (GLM-4.5V / 4.6V; GLM-4.1V always thinks), 8,192 tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from glmv.errors import ConfigError

__all__ = ["ANSWER_TOKENS", "OFFICIAL_BUDGET", "Protocol"]

OFFICIAL_BUDGET = 8192
ANSWER_TOKENS = 8192
_BUDGET = re.compile(r"budget[\s:=]+(\d+)")


@dataclass(frozen=True)
class Protocol:
    """A protocol's request settings; ``name`` is what the results and the summary record."""

    name: str = "official"
    thinking_budget: int | None = OFFICIAL_BUDGET
    enable_thinking: bool | None = None
    max_tokens: int | None = OFFICIAL_BUDGET + ANSWER_TOKENS
    temperature: float | None = 0.1
    seed: int | None = None

    @classmethod
    def official(cls) -> Protocol:
        return cls()

    @classmethod
    def budget(cls, tokens: int) -> Protocol:
        if tokens < 0:
            raise ConfigError(f"A thinking budget is 0 or more tokens, got {tokens}.")
        return cls(f"budget {tokens}", thinking_budget=tokens, max_tokens=tokens + ANSWER_TOKENS)

    @classmethod
    def no_think(cls) -> Protocol:
        return cls("no-think", thinking_budget=None, enable_thinking=False, max_tokens=ANSWER_TOKENS)

    @classmethod
    def parse(cls, text: str | Protocol) -> Protocol:
        """``official``, ``budget N`` (also ``budget:N``, ``budget=N``) or ``no-think``."""
        if isinstance(text, Protocol):
            return text
        spec = text.strip().lower()
        if spec == "official":
            return cls.official()
        if spec in ("no-think", "no_think", "nothink"):
            return cls.no_think()
        match = _BUDGET.fullmatch(spec)
        if match:
            return cls.budget(int(match.group(1)))
        raise ConfigError(f"Unknown protocol {text!r}; use official, 'budget N' or no-think.")

    def with_(self, **changes: Any) -> Protocol:
        """A copy with some settings changed (a sampling temperature, a seed, a token limit)."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "thinking_budget": self.thinking_budget,
            "enable_thinking": self.enable_thinking,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }
