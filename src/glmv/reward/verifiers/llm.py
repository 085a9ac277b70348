"""Verifiers that rest on the LLM judge: general, geoquest and long_doc.

general: the extracted text has its ``<answer>`` tags and box tokens removed on both sides, an exact match
scores 1, anything else goes to the judge, whose reply may be ``1.0``/``0.0`` (what the reference prompt asks)
or a boxed ``Correct``/``Incorrect`` (what the official parser wanted). geoquest: place guesses scored by the
judge's JSON ``score`` (partial credit, averaged over judges); the ground truth is a dict or a JSON string with
``place_name`` and ``address``. long_doc: the official config type without a verifier, given one here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from glmv.output.boxes import strip_box_markers
from glmv.output.tags import strip_answer_tags
from glmv.reward.config import GeneralConfig, GeoquestConfig, LongDocConfig
from glmv.reward.extract import answer_regex, boxed_answer
from glmv.reward.format import answer_part
from glmv.reward.judge import parse_general, parse_geoquest
from glmv.reward.verifiers.base import NOT_TEXT, BoxedVerifier, Services, Verdict, Verifier

__all__ = ["DEFAULT_LONG_DOC_TEMPLATE", "GeneralVerifier", "GeoquestVerifier", "LongDocVerifier"]


def _compile(pattern: str | None, where: str) -> re.Pattern[str] | None:
    return None if pattern is None else answer_regex(pattern, where=where)


def _regex_part(pattern: re.Pattern[str] | None, response: str) -> str | None:
    """Named group ``answer``, else the last group, of ``pattern``; None when it does not match."""
    if pattern is None:
        return None
    match = pattern.search(response)
    if match is None:
        return None
    named = match.groupdict().get("answer")
    if named is not None:
        return named
    return match.groups()[-1] if match.groups() else match.group(0)


class _JudgeBacked(Verifier):
    def _build_judge(self):  # type: ignore[override]  (the judge is not a fallback here: always built)
        return self.make_judge(self.template())

    def template(self) -> str:
        return self.config.llm_judge_prompt_template  # type: ignore[attr-defined,no-any-return]


class GeneralVerifier(_JudgeBacked):
    config_class = GeneralConfig
    config: GeneralConfig
    judge_parser = staticmethod(parse_general)

    def __init__(self, config: GeneralConfig, *, services: Services | None = None, name: str = "") -> None:
        super().__init__(config, services=services, name=name)
        self._pattern = _compile(config.answer_extraction_regex, self.where)

    def extract_answer(self, response: Any, question: str | None = None) -> str | None:
        if not isinstance(response, str):
            return None
        part = _regex_part(self._pattern, response)
        text = response if part is None else part
        return strip_box_markers(strip_answer_tags(text)).strip()

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth)) is not None:
            return gate
        return self.ask_judge(extracted_answer, ground_truth, question)


class GeoquestVerifier(_JudgeBacked, BoxedVerifier):
    """Answers longer than 50 characters score 0 without a judge call."""

    config_class = GeoquestConfig
    config: GeoquestConfig
    judge_parser = staticmethod(parse_geoquest)
    judge_combine = "mean"
    answer_tags = "strip"
    max_answer_chars = 50

    def make_judge(self, template: str, **options: Any):  # type: ignore[override]
        return super().make_judge(
            template,
            fields=("predict", "place_name", "address"),
            required=("predict", "place_name", "address"),
        )

    @staticmethod
    def _place(value: Any) -> dict | None:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return None
        if isinstance(value, dict) and "place_name" in value:
            return value
        return None

    def ground_truth_is_reply(self, ground_truth: Any) -> bool:
        return self._place(ground_truth) is None

    def extract_answer(self, response: Any, question: str | None = None) -> Any:
        place = self._place(response)
        if place is not None:
            return place
        return super().extract_answer(response, question)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        place = self._place(ground_truth)
        if place is None:
            return Verdict(
                0.0, "bad ground truth", error="geoquest ground truth needs place_name and address"
            )
        if not isinstance(extracted_answer, str):
            return NOT_TEXT
        if len(extracted_answer) > self.max_answer_chars:
            return Verdict(0.0, f"answer longer than {self.max_answer_chars} characters")
        verdict = self.llm_judge.ask(  # type: ignore[union-attr]
            predict=extracted_answer,
            place_name=str(place.get("place_name", "")),
            address=str(place.get("address", "")),
        )
        if verdict.score is None:
            return Verdict(
                0.0,
                "the LLM judge gave no usable reply",
                error="; ".join(verdict.errors),
                timed_out=verdict.timeouts > 0,
                judge_calls=verdict.calls,
            )
        return Verdict(
            verdict.score,
            f"LLM judge score {verdict.score:g}",
            error="; ".join(verdict.errors) or None,
            timed_out=verdict.timeouts > 0,
            judge_calls=verdict.calls,
        )


DEFAULT_LONG_DOC_TEMPLATE = """You judge answers to questions about long documents.
Compare the Response with the Ground Truth: score 1.0 if they state the same facts (wording, order of
list items and number formats may differ), 0.0 if the Response is wrong, incomplete or hedged.

Question: {question}
Response: {predict}
Ground Truth: {label}

Respond with only 1.0 or 0.0."""


class LongDocVerifier(_JudgeBacked):
    """``answer_extraction_regex`` or the answer part, the one-box rule (not strict by default), exact match,
    then the majority-vote judge."""

    config_class = LongDocConfig
    config: LongDocConfig

    def __init__(self, config: LongDocConfig, *, services: Services | None = None, name: str = "") -> None:
        self._pattern = _compile(
            config.answer_extraction_regex, f"reward_configs.{name or config.verifier_type}"
        )
        super().__init__(config, services=services, name=name)

    def template(self) -> str:
        return self.config.llm_judge_prompt_template or DEFAULT_LONG_DOC_TEMPLATE

    def extract_answer(self, response: Any, question: str | None = None) -> str | None:
        if not isinstance(response, str):
            return None
        part = _regex_part(self._pattern, response) if self._pattern else answer_part(response)
        if part is None:
            return None
        return boxed_answer(part, strict=self.config.strict_boxed_extraction)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        return self.ask_judge(extracted_answer, ground_truth, question)
