"""The thinking budget: closing reasoning after N tokens, one row at a time.

:class:`ThinkingBudget` is one row's budget: fed the row's ids as they come, it says which id must come next. The
local engine's continuous-batching loop keeps one per row (:mod:`glmv.engine.local_sampling` applies it with
:func:`force`); :class:`ThinkingBudgetProcessor` wraps one per row of a batch as a transformers
``LogitsProcessor`` for ``model.generate``. Per row it follows the **last open** ``<think>`` of prompt + output:

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

Token ids come from the tokenizer of the loaded model (:meth:`ThinkingTokens.for_tokenizer`). The state
is kept per row and advanced only over new tokens, so each step costs O(batch), not O(sequence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glmv.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

    from glmv.families import Family

__all__ = ["ThinkingBudget", "ThinkingBudgetProcessor", "ThinkingTokens", "force"]


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


class ThinkingBudget:
    """The thinking budget of one row: fed the row's token ids as they come, it says which id to force next.

    The first :meth:`feed` takes the whole prompt (a prompt ending in a pre-closed think block switches the budget
    off); each later one takes the ids generated since. ``length`` is how many ids the row holds after them.
    """

    def __init__(self, tokens: ThinkingTokens, budget: int | None) -> None:
        self.tokens = tokens
        self.budget = budget  # None: no budget (or thinking is off)
        self.open_at: int | None = None  # position of the last open <think>
        self.pending: deque[int] = deque()  # forced ids still to emit
        self.spent = False  # the budget ran out: reasoning was closed and may not open again
        self._started = False

    @property
    def active(self) -> bool:
        return self.budget is not None

    def feed(self, new: Sequence[int], length: int) -> int | None:
        """Take the row's new ids; the id that must come next (None: the model chooses, see :attr:`spent`)."""
        if not self._started:
            self._started = True
            if self.budget is not None and self._thinking_off(new):
                self.budget = None
        if self.budget is None:
            return None
        start = length - len(new)
        for offset, token in enumerate(new):
            if token == self.tokens.think:
                self.open_at = start + offset
            elif token == self.tokens.think_end:
                self.open_at = None
        if self.pending:
            return self.pending.popleft()
        if self.spent or self.open_at is None:
            return None
        if length - self.open_at - 1 >= self.budget:
            self.spent = True
            self.pending.extend(self.tokens.forced)
            return self.pending.popleft()
        return None

    def _thinking_off(self, prompt: Sequence[int]) -> bool:
        """Whether the prompt ends in a pre-closed ``<think></think>`` (plus newlines / answer opener)."""
        end = len(prompt)
        while end and prompt[end - 1] in self.tokens.trailing:
            end -= 1
        return end >= 2 and prompt[end - 2] == self.tokens.think and prompt[end - 1] == self.tokens.think_end


class ThinkingBudgetProcessor:
    """A transformers ``LogitsProcessor`` enforcing one thinking budget per row (``None`` = no budget).

    ``budgets`` has one entry per row of the batch, in row order.
    """

    def __init__(self, tokens: ThinkingTokens, budgets: Sequence[int | None]) -> None:
        self.tokens = tokens
        self.rows = [ThinkingBudget(tokens, budget) for budget in budgets]
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
        self._started = True
        length = input_ids.shape[1]
        for index, (row, new) in enumerate(zip(self.rows, ids, strict=True)):
            if row.active:
                force(scores[index], row.feed(new, length), row)
        return scores


def force(scores: torch.FloatTensor, token: int | None, row: ThinkingBudget) -> None:
    """Apply one row's budget decision to its logits (in place): only ``token`` may come, or no new ``<think>``."""
    if token is not None:
        kept = scores[token].clone()
        scores[:] = float("-inf")
        scores[token] = kept if kept.isfinite() else 0.0
    elif row.spent:
        scores[row.tokens.think] = float("-inf")
