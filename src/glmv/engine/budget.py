"""The thinking budget: a logits processor that closes reasoning after N tokens.

transformers' ``generate`` has no thinking budget of its own, so :class:`ThinkingBudgetProcessor` is handed to it
in ``logits_processor``. Per row it follows the **last open** ``<think>`` of prompt + output:

- it arms on a ``<think>`` the chat template wrote into the prompt *and* on one the model generates itself
  (GLM-4.1V and thinking-on GLM-4.5V / 4.6V prompts hold no ``<think>``);
- a closed ``<think>…</think>`` pair (earlier turns in history, or a reasoning the model closed itself) disarms it;
- rows whose prompt ends in a pre-closed ``<think></think>`` (thinking switched off; trailing newlines and the
  family's answer opener such as ``<answer>`` allowed after it) are left alone;
- once ``budget`` tokens follow the open ``<think>`` (prompt tokens after a pre-opened ``<think>`` count), it
  forces the family's ``thinking_end`` tokens one per step — ``</think>`` then ``<answer>`` for GLM-4.1V,
  ``</think>`` for GLM-4.5V / 4.6V — by setting every other logit to −inf, so forcing works at any temperature;
- after a forced close the row may not open ``<think>`` again (its logit stays −inf): the budget caps all of
  the reply's reasoning, and the model has to answer.

Decision: no newline is forced before ``</think>`` (SGLang forces ``\\n`` first on GLM-4.5); one rule for every
family keeps the reasoning at exactly ``budget`` tokens, and :mod:`glmv.output` strips the reasoning anyway.

Token ids come from the tokenizer of the loaded model (:meth:`ThinkingBudgetProcessor.for_tokenizer`). The state
is kept per row and advanced only over new tokens, so each step costs O(batch), not O(sequence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glmv.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

    from glmv.families import Family

__all__ = ["ThinkingBudgetProcessor", "ThinkingTokens"]


@dataclass(frozen=True)
class ThinkingTokens:
    """The token ids the budget needs: ``<think>``, ``</think>``, the forced end sequence and what may trail a
    pre-closed think block in a thinking-off prompt."""

    think: int
    think_end: int
    forced: tuple[int, ...]
    trailing: frozenset[int] = frozenset()

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, family: Family) -> ThinkingTokens:
        """Resolve the ids from ``tokenizer`` (raises :class:`~glmv.errors.ModelLoadError` when one is missing)."""

        def token_id(token: str) -> int:
            ids = tokenizer.convert_tokens_to_ids([token])
            if not ids or ids[0] is None or ids[0] == tokenizer.unk_token_id:
                raise ModelLoadError(
                    f"The tokenizer has no {token!r} token, which {family.title} needs for thinking budgets; "
                    "is the checkpoint's tokenizer complete?"
                )
            return int(ids[0])

        newline = tokenizer.encode("\n", add_special_tokens=False)
        forced = tuple(token_id(token) for token in family.thinking_end)
        return cls(
            think=token_id("<think>"),
            think_end=token_id("</think>"),
            forced=forced,
            trailing=frozenset((*newline, *forced[1:])),
        )


@dataclass
class _Row:
    budget: int | None  # None: no budget (or thinking is off)
    open_at: int | None = None  # position of the last open <think>
    pending: deque[int] = field(default_factory=deque)  # forced ids still to emit
    spent: bool = False  # the budget ran out: reasoning was closed and may not open again

    @property
    def active(self) -> bool:
        return self.budget is not None


class ThinkingBudgetProcessor:
    """A transformers ``LogitsProcessor`` enforcing one thinking budget per row (``None`` = no budget).

    ``budgets`` has one entry per row of the batch, in row order.
    """

    def __init__(self, tokens: ThinkingTokens, budgets: Sequence[int | None]) -> None:
        self.tokens = tokens
        self.rows = [_Row(budget) for budget in budgets]
        self._started = False

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, family: Family, budgets: Sequence[int | None]
    ) -> ThinkingBudgetProcessor:
        return cls(ThinkingTokens.for_tokenizer(tokenizer, family), budgets)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not any(row.active for row in self.rows):
            return scores
        ids = input_ids.tolist() if not self._started else input_ids[:, -1:].tolist()
        if not self._started:
            self._started = True
            for row, prompt in zip(self.rows, ids, strict=True):
                if row.budget is not None and self._thinking_off(prompt):
                    row.budget = None
        length = input_ids.shape[1]
        for index, (row, new) in enumerate(zip(self.rows, ids, strict=True)):
            if not row.active:
                continue
            self._scan(row, new, length)
            token = self._next_forced(row, length)
            if token is not None:
                kept = scores[index, token].clone()
                scores[index, :] = float("-inf")
                scores[index, token] = kept if kept.isfinite() else 0.0
            elif row.spent:
                scores[index, self.tokens.think] = float("-inf")
        return scores

    def _thinking_off(self, prompt: list[int]) -> bool:
        """Whether the prompt ends in a pre-closed ``<think></think>`` (plus newlines / answer opener)."""
        end = len(prompt)
        while end and prompt[end - 1] in self.tokens.trailing:
            end -= 1
        return end >= 2 and prompt[end - 2] == self.tokens.think and prompt[end - 1] == self.tokens.think_end

    def _scan(self, row: _Row, new: list[int], length: int) -> None:
        start = length - len(new)
        for offset, token in enumerate(new):
            if token == self.tokens.think:
                row.open_at = start + offset
            elif token == self.tokens.think_end:
                row.open_at = None

    def _next_forced(self, row: _Row, length: int) -> int | None:
        if row.pending:
            return row.pending.popleft()
        if row.spent or row.open_at is None or row.budget is None:
            return None
        if length - row.open_at - 1 >= row.budget:
            row.spent = True
            row.pending.extend(self.tokens.forced)
            return row.pending.popleft()
        return None
