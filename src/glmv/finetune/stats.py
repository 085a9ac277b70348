"""Dataset statistics: how many samples of each source, how long, how many media, how much reasoning.

:func:`stats` renders each sample for a family (lengths in tokens: media from :mod:`glmv.media`, text through
the tokenizer or the estimate) and sums per source (``openai``, ``sharegpt``, ``llamafactory``, ``swift``,
``conversation``, ``agent``, ``eval``) and over all.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from glmv.errors import GlmvError
from glmv.families import Family, get_family
from glmv.finetune.render import render
from glmv.finetune.sample import Problem, Sample
from glmv.finetune.tokens import TokenCounter

__all__ = ["SourceStats", "Stats", "stats"]


@dataclass
class SourceStats:
    """Totals of the samples of one source; ``tokens`` and ``reasoning_tokens`` hold one value per sample."""

    samples: int = 0
    turns: int = 0
    images: int = 0
    videos: int = 0
    tool_calls: int = 0
    tokens: list[int] = field(default_factory=list)
    reasoning_tokens: list[int] = field(default_factory=list)

    @property
    def mean_tokens(self) -> float:
        return statistics.fmean(self.tokens) if self.tokens else 0.0

    @property
    def max_tokens(self) -> int:
        return max(self.tokens, default=0)

    @property
    def p95_tokens(self) -> int:
        if not self.tokens:
            return 0
        ordered = sorted(self.tokens)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def media_per_sample(self) -> float:
        return (self.images + self.videos) / self.samples if self.samples else 0.0

    @property
    def mean_reasoning_tokens(self) -> float:
        return statistics.fmean(self.reasoning_tokens) if self.reasoning_tokens else 0.0

    def add(self, other: SourceStats) -> None:
        for name in ("samples", "turns", "images", "videos", "tool_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.tokens += other.tokens
        self.reasoning_tokens += other.reasoning_tokens


@dataclass
class Stats:
    """Per-source :class:`SourceStats`, the total, the unreadable records and whether lengths are estimated."""

    sources: dict[str, SourceStats] = field(default_factory=dict)
    unreadable: int = 0
    estimated: bool = True

    @property
    def total(self) -> SourceStats:
        total = SourceStats()
        for one in self.sources.values():
            total.add(one)
        return total


def stats(
    samples: Iterable[Sample | Problem], family: Family | str, *, counter: TokenCounter | None = None
) -> Stats:
    """Statistics of ``samples`` rendered for ``family``, by source."""
    family = get_family(family)
    counter = counter or TokenCounter()
    result = Stats(estimated=counter.estimated)
    for sample in samples:
        if isinstance(sample, Problem):
            result.unreadable += 1
            continue
        one = result.sources.setdefault(sample.source, SourceStats())
        one.samples += 1
        one.turns += sum(m["role"] == "assistant" for m in sample.messages)
        for kind, _url in sample.media():
            one.images += kind == "image"
            one.videos += kind == "video"
        replies = [m for m in sample.messages if m["role"] == "assistant"]
        one.tool_calls += sum(len(m["tool_calls"]) for m in replies)
        reasoning = replies[-1]["reasoning_content"] if replies else ""
        one.reasoning_tokens.append(counter.count(reasoning) if reasoning else 0)
        try:
            one.tokens.append(render(sample, family, counter=counter, labels=False).tokens)
        except GlmvError:
            continue
    return result
