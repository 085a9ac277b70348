"""The verifier contract and what every verifier shares.

A verifier keeps the official two methods — ``extract_answer(response, question=None)`` and
``judge(extracted_answer, ground_truth, question=None, image_file=None) -> float`` — and adds
:meth:`Verifier.evaluate`, which returns a :class:`Verdict` (reward, reason, error, timeout, judge calls) so
the reward system can count what went wrong instead of seeing a bare 0.

The rules most verifiers share live here too: :meth:`Verifier.exact_gate` (not text → 0, equal → 1),
:meth:`Verifier.math_then_judge` (math-verify, then the judge), :meth:`Verifier.ask_judge` (the judge, else the
rule's verdict) and :class:`BoxedVerifier` (the answer is the one box of the answer part).

:class:`Services` holds the shared machinery a verifier may use: the math checker (worker processes) and the
judge client. A :class:`~glmv.reward.RewardSystem` owns one; :func:`default_services` serves verifiers built
alone with :func:`~glmv.reward.get_verifier`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from glmv.reward.config import JudgeFields, VerifierConfig
from glmv.reward.extract import extract_boxed_answer
from glmv.reward.judge import JudgeClient, JudgeParams, LLMJudge, endpoints_from, parse_substring
from glmv.reward.mathcheck import MathChecker, MathOutcome

__all__ = [
    "NOT_TEXT",
    "BoxedVerifier",
    "Services",
    "Verdict",
    "Verifier",
    "both_text",
    "default_services",
]


@dataclass(frozen=True)
class Verdict:
    """One judgement: the reward in [0, 1] and why. ``error`` marks an internal failure, not a wrong answer."""

    reward: float
    reason: str
    error: str | None = None
    timed_out: bool = False
    judge_calls: int = 0


NOT_TEXT = Verdict(0.0, "the answer or the ground truth is not text")
_ANSWERS_DIFFER = Verdict(0.0, "answers differ")
_EXACT_MATCH = Verdict(1.0, "exact match")


def both_text(answer: Any, truth: Any) -> bool:
    """Whether the extracted answer and ground truth are both strings (text verifiers judge nothing else)."""
    return isinstance(answer, str) and isinstance(truth, str)


@dataclass
class Services:
    """Shared machinery: the math checker and the judge client."""

    math: MathChecker = field(default_factory=MathChecker)
    judge: JudgeClient = field(default_factory=JudgeClient)

    def close(self) -> None:
        self.math.close()
        self.judge.close()


_default: Services | None = None
_default_lock = threading.Lock()


def default_services() -> Services:
    """The process-wide services used by verifiers built without a reward system."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Services()
        return _default


class Verifier(ABC):
    """Base of every verifier. Subclasses set ``config_class`` and implement the two official methods."""

    config_class: ClassVar[type[VerifierConfig]]
    judge_parser: ClassVar[Callable[[str], float | None]] = staticmethod(parse_substring)
    judge_combine: ClassVar[str] = "majority"
    min_reward: float = 0.0
    is_batch_verifier: bool = False

    def __init__(self, config: VerifierConfig, *, services: Services | None = None, name: str = "") -> None:
        self.config = config
        self.name = name or config.verifier_type
        self._services = services
        self.llm_judge: LLMJudge | None = self._build_judge()

    @property
    def services(self) -> Services:
        return self._services or default_services()

    @property
    def blocking(self) -> bool:
        """Whether judging may wait (math workers or a judge), so items are worth running in threads."""
        return self.llm_judge is not None

    @property
    def where(self) -> str:
        return f"reward_configs.{self.name}"

    def _build_judge(self) -> LLMJudge | None:
        config = self.config
        if not isinstance(config, JudgeFields) or not config.enable_llm_judge_fallback:
            return None
        if not config.llm_judge_url or not (config.llm_judge_prompt_template or "").strip():
            return None
        return self.make_judge(config.llm_judge_prompt_template or "")

    def make_judge(self, template: str, **options: Any) -> LLMJudge:
        """An :class:`LLMJudge` from this config's ``llm_*`` keys."""
        c: Any = self.config
        return LLMJudge(
            self.services.judge,
            endpoints_from(c.llm_api_key, c.llm_judge_url, c.llm_model, where=self.where),
            template,
            options.pop("parser", type(self).judge_parser),
            params=JudgeParams(c.llm_max_tokens, c.llm_temperature, c.llm_top_p),
            combine=options.pop("combine", type(self).judge_combine),
            where=self.where,
            **options,
        )

    def ground_truth_is_reply(self, ground_truth: Any) -> bool:
        """Whether ``ground_truth`` is a model-style reply that must pass the format gate (geoquest: not a dict)."""
        return True

    # The official API -----------------------------------------------------------------------------------

    @abstractmethod
    def extract_answer(self, response: Any, question: str | None = None) -> Any:
        """The answer inside ``response`` (the same rule serves the ground truth), or None."""

    @abstractmethod
    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        """Judge an extracted answer against an extracted ground truth."""

    def judge(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> float:
        """The official entry point: the reward only (see :meth:`evaluate` for the reason and errors)."""
        return self.evaluate(extracted_answer, ground_truth, question=question, image_file=image_file).reward

    # Helpers for subclasses ------------------------------------------------------------------------------

    def exact_gate(self, answer: Any, truth: Any, *, strip: bool = False) -> Verdict | None:
        """The first two rules of a text verifier: :data:`NOT_TEXT` unless both are strings, 1.0 for an exact
        match (after trimming both with ``strip``); None when the verifier's other rules must decide."""
        if not both_text(answer, truth):
            return NOT_TEXT
        if (answer.strip() == truth.strip()) if strip else answer == truth:
            return _EXACT_MATCH
        return None

    def ask_judge(
        self,
        predict: str,
        label: str,
        question: str | None,
        *,
        fallback: Verdict = _ANSWERS_DIFFER,
        **extra: str,
    ) -> Verdict:
        """Ask the LLM judge if one is configured, else return ``fallback`` (the rule's verdict)."""
        if self.llm_judge is None:
            return fallback
        verdict = self.llm_judge.ask(question=question or "", predict=predict, label=label, **extra)
        calls = verdict.calls
        if verdict.score is None:
            return Verdict(
                self.min_reward,
                "the LLM judge gave no usable reply",
                error="; ".join(verdict.errors) or "no judge reply",
                timed_out=verdict.timeouts > 0 or fallback.timed_out,
                judge_calls=calls,
            )
        votes = ", ".join("error" if v is None else f"{v:g}" for v in verdict.votes)
        return Verdict(
            verdict.score,
            f"LLM judge ({votes})",
            error=("; ".join(verdict.errors) or None) if verdict.errors else fallback.error,
            timed_out=verdict.timeouts > 0 or fallback.timed_out,
            judge_calls=calls,
        )

    def math_verdict(self, outcome: MathOutcome) -> Verdict:
        return Verdict(
            1.0 if outcome.equal else self.min_reward, outcome.reason, outcome.error, outcome.timed_out
        )

    def math_then_judge(self, answer: str, truth: str, question: str | None, tolerance: float) -> Verdict:
        """The math checker's verdict when it is equal or was decided in-process (plain numbers), else the
        judge's (with the checker's verdict as the fallback)."""
        outcome = self.services.math.check(truth, answer, tolerance)
        verdict = self.math_verdict(outcome)
        if outcome.equal or outcome.in_process:
            return verdict
        return self.ask_judge(answer, truth, question, fallback=verdict)


class BoxedVerifier(Verifier):
    """A verifier whose answer is the one box of the answer part: :func:`~glmv.reward.extract.extract_boxed_answer`
    with the config's ``strict_boxed_extraction`` and ``answer_tags`` (``"strip"``: answer tags anywhere after
    ``</think>`` are dropped, see :func:`~glmv.reward.format.answer_part`)."""

    answer_tags: ClassVar[str] = "strict"

    def extract_answer(self, response: Any, question: str | None = None) -> Any:
        if not isinstance(response, str):
            return None
        config: Any = self.config
        return extract_boxed_answer(response, strict=config.strict_boxed_extraction, tags=self.answer_tags)
