"""The language_mix verifier: 1 unless the reply mixes a long Chinese and a long English paragraph."""

from __future__ import annotations

from typing import Any

from glmv.reward.config import LanguageMixConfig
from glmv.reward.text import detect_long_paragraph_mixing
from glmv.reward.verifiers.base import Verdict, Verifier

__all__ = ["LanguageMixVerifier"]


class LanguageMixVerifier(Verifier):
    config_class = LanguageMixConfig

    def extract_answer(self, response: Any, question: str | None = None) -> Any:
        return response

    def ground_truth_is_reply(self, ground_truth: Any) -> bool:
        """The language-mix check reads the reply alone; its ground truth is ignored, blank included."""
        return False

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if not isinstance(extracted_answer, str):
            return Verdict(0.0, "the answer is not text")
        if detect_long_paragraph_mixing(extracted_answer):
            return Verdict(0.0, "language mix: long Chinese and long English paragraphs")
        return Verdict(1.0, "no language mix")
