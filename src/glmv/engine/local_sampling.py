"""Per-row sampling: every row of a batch picks its next token by its own settings.

:class:`Sampling` is a request's settings (temperature 0 is greedy). :class:`RowSampler` is one row's state:
the ids it has seen (for the repetition penalty, prompt included, as transformers counts them), its thinking
budget and its random generator (seeded per choice: ``seed + index``, so a seed reproduces a request whatever
else shares its batch). :func:`pick` takes the batch's last-position logits and returns one token per row, in the
order transformers' ``generate`` applies its processors: repetition penalty, thinking budget, then temperature,
top-k and top-p for sampling rows (greedy rows take the arg-max). :func:`pick_scored` also gives the
log-probability of each picked token (and the likeliest alternatives) for the rows that asked for them, taken
from the raw logits before any of those processors, as vLLM reports them by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch

    from glmv.engine.budget import ThinkingBudget

__all__ = ["RowSampler", "Sampling", "Scored", "pick", "pick_scored"]


class Scored(NamedTuple):
    """A picked token's log-probability and the ``k`` likeliest ``(token, logprob)`` pairs at its place."""

    token: int
    logprob: float
    top: list[tuple[int, float]]


@dataclass(frozen=True)
class Sampling:
    """How one request samples: ``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1 switch those off."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


class RowSampler:
    """One row's sampling state; :meth:`observe` it with every id the row gains (the prompt first)."""

    def __init__(
        self,
        settings: Sampling,
        budget: ThinkingBudget | None = None,
        index: int = 0,
        *,
        logprobs: int | None = None,
    ) -> None:
        self.settings = settings
        self.logprobs = logprobs  # None: no logprobs; k: the picked token's and the k likeliest
        self.budget = budget if budget is not None and budget.active else None
        self.index = index
        self._seen: set[int] = set()
        self._seen_tensor: torch.Tensor | None = None
        self._forced: int | None = None
        self._generator: torch.Generator | None = None

    def observe(self, ids: Sequence[int], length: int) -> None:
        """The row's new ids; ``length`` is how many it holds now (prompt included)."""
        if self.settings.repetition_penalty != 1.0:
            before = len(self._seen)
            self._seen.update(ids)
            if len(self._seen) != before:
                self._seen_tensor = None
        if self.budget is not None:
            self._forced = self.budget.feed(ids, length)

    def adjust(self, logits: torch.Tensor) -> None:
        """Repetition penalty and thinking budget on one row's logits, in place."""
        import torch

        penalty = self.settings.repetition_penalty
        if penalty != 1.0 and self._seen:
            if self._seen_tensor is None or self._seen_tensor.device != logits.device:
                self._seen_tensor = torch.tensor(sorted(self._seen), device=logits.device)
            scores = logits[self._seen_tensor]
            logits[self._seen_tensor] = torch.where(scores < 0, scores * penalty, scores / penalty)
        if self.budget is not None:
            from glmv.engine.budget import force

            force(logits, self._forced, self.budget)

    @property
    def plain(self) -> bool:
        """Nothing to adjust: greedy arg-max of the raw logits is this row's choice."""
        return self.settings.repetition_penalty == 1.0 and self.budget is None

    def sample(self, logits: torch.Tensor) -> int:
        """Draw from one adjusted row of logits with temperature, top-k and top-p."""
        import torch

        settings = self.settings
        if settings.temperature != 1.0:
            logits = logits / settings.temperature
        if settings.top_k > 0:
            kth = torch.topk(logits, min(settings.top_k, logits.shape[-1])).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if settings.top_p < 1.0:
            ordered, order = torch.sort(logits)
            cumulative = ordered.softmax(-1).cumsum(-1)
            remove = cumulative <= 1 - settings.top_p
            remove[-1] = False
            logits = logits.masked_fill(remove.scatter(0, order, remove), float("-inf"))
        if self._generator is None and settings.seed is not None:
            self._generator = torch.Generator(device=logits.device)
            self._generator.manual_seed((settings.seed + self.index) & (2**64 - 1))
        return int(torch.multinomial(logits.softmax(-1), 1, generator=self._generator))


def pick(logits: torch.Tensor, samplers: Sequence[RowSampler]) -> list[int]:
    """The next token of every row: ``logits`` is ``[rows, vocab]`` (the last position of each row)."""
    if all(sampler.plain and sampler.settings.greedy for sampler in samplers):
        return logits.argmax(-1).tolist()
    logits = logits.float()
    for row, sampler in enumerate(samplers):
        if not sampler.plain:
            sampler.adjust(logits[row])
    greedy = logits.argmax(-1).tolist()
    return [
        greedy[row] if sampler.settings.greedy else sampler.sample(logits[row])
        for row, sampler in enumerate(samplers)
    ]


def pick_scored(
    logits: torch.Tensor, samplers: Sequence[RowSampler]
) -> tuple[list[int], list[Scored | None]]:
    """:func:`pick`, with a :class:`Scored` for every row whose sampler asks for logprobs (None for the others)."""
    import torch

    asked = [row for row, sampler in enumerate(samplers) if sampler.logprobs is not None]
    if not asked:
        return pick(logits, samplers), [None] * len(samplers)
    scores = torch.log_softmax(logits[asked].float(), -1)  # a copy, before pick adjusts the logits in place
    tokens = pick(logits, samplers)
    picked = torch.tensor([tokens[row] for row in asked], device=scores.device)
    chosen = scores.gather(1, picked.unsqueeze(1)).squeeze(1).tolist()
    most = max(samplers[row].logprobs or 0 for row in asked)
    top_values: list[list[float]] = [[] for _ in asked]
    top_ids: list[list[int]] = [[] for _ in asked]
    if most:
        values, ids = scores.topk(min(most, scores.shape[-1]), -1)
        top_values, top_ids = values.tolist(), ids.tolist()
    out: list[Scored | None] = [None] * len(samplers)
    for place, row in enumerate(asked):
        k = samplers[row].logprobs or 0
        top = list(zip(top_ids[place][:k], top_values[place][:k], strict=True))
        out[row] = Scored(tokens[row], chosen[place], top)
    return tokens, out
