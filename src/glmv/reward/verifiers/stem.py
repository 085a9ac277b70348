"""Verifiers of exact subjects: math, physics, chemistry, biology, geography, liberal_arts.

All extract with the math-family rule (think block, then an ``<answer>`` block or the 4.5V form, then exactly
one box) and fall back to a majority-vote LLM judge when their rules cannot say yes — except where a rule is
decisive (two plain numbers; numbers with the same unit), which never waits for a judge.
"""

from __future__ import annotations

import re
from typing import Any

from glmv.reward.config import MathConfig
from glmv.reward.judge import parse_chemistry, parse_last
from glmv.reward.mathcheck import fast_check
from glmv.reward.text import (
    CHEMISTRY_UNITS,
    PHYSICS_UNITS,
    find_units,
    normalize_genotype,
    relative_close,
    value_with_unit,
)
from glmv.reward.verifiers.base import NOT_TEXT, BoxedVerifier, Verdict, both_text

__all__ = [
    "BiologyVerifier",
    "ChemistryVerifier",
    "GeographyVerifier",
    "LiberalArtsVerifier",
    "MathVerifier",
    "PhysicsVerifier",
]


class _MathFamily(BoxedVerifier):
    config_class = MathConfig
    config: MathConfig


class MathVerifier(_MathFamily):
    """Exact match, then numbers under ``sympy_tolerance``, then math-verify (worker processes), then the judge."""

    @property
    def blocking(self) -> bool:
        return True

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth)) is not None:
            return gate
        return self.math_then_judge(extracted_answer, ground_truth, question, self.config.sympy_tolerance)


class _UnitVerifier(_MathFamily):
    units: tuple[str, ...] = ()

    @property
    def blocking(self) -> bool:
        return True

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        if not (find_units(extracted_answer, self.units) or find_units(ground_truth, self.units)):
            return self.math_then_judge(extracted_answer, ground_truth, question, self.config.sympy_tolerance)
        answer, truth = (
            value_with_unit(extracted_answer, self.units),
            value_with_unit(ground_truth, self.units),
        )
        if answer and truth and answer[1] == truth[1]:
            if relative_close(answer[0], truth[0], self.config.sympy_tolerance):
                return Verdict(1.0, f"same value in {truth[1]}")
            return Verdict(self.min_reward, f"different values in {truth[1]}")
        return self.ask_judge(
            extracted_answer,
            ground_truth,
            question,
            fallback=Verdict(self.min_reward, "units differ or cannot be compared by rule; no LLM judge"),
        )


class PhysicsVerifier(_UnitVerifier):
    """Units are recognised as whole tokens after a number; the judge reads the last ``1.0``/``0.0``."""

    units = PHYSICS_UNITS
    judge_parser = staticmethod(parse_last)


class ChemistryVerifier(_UnitVerifier):
    units = CHEMISTRY_UNITS
    judge_parser = staticmethod(parse_chemistry)


class BiologyVerifier(_MathFamily):
    """Equality after trimming and genotype normalisation (``bBAa`` = ``AaBb``), then the judge."""

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        if normalize_genotype(extracted_answer) == normalize_genotype(ground_truth):
            return Verdict(1.0, "same genotype")
        return self.ask_judge(extracted_answer, ground_truth, question)


_ITEMS = re.compile(r"[,;\s、，；]+")


class GeographyVerifier(_MathFamily):
    """Case-insensitive equality, equal sets of listed items, equal numbers, then the judge."""

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if not both_text(extracted_answer, ground_truth):
            return NOT_TEXT
        if extracted_answer.strip().lower() == ground_truth.strip().lower():
            return Verdict(1.0, "equal ignoring case")
        items = {i.strip() for i in _ITEMS.split(extracted_answer) if i.strip()}
        if items and items == {i.strip() for i in _ITEMS.split(ground_truth) if i.strip()}:
            return Verdict(1.0, "same set of items")
        numbers = fast_check(ground_truth, extracted_answer, self.config.sympy_tolerance)
        if numbers is not None:
            return Verdict(1.0 if numbers.equal else 0.0, numbers.reason)
        return self.ask_judge(extracted_answer, ground_truth, question)


class LiberalArtsVerifier(_MathFamily):
    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        if not extracted_answer.strip() or not ground_truth.strip():
            return Verdict(0.0, "empty answer")
        return self.ask_judge(extracted_answer, ground_truth, question)
