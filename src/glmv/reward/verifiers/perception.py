"""Verifiers of image-reading tasks: vqa, ocr, chart, counting, mmsi, multi_image.

Rules decide what they can in-process (string equality, edit distance, numbers, years); only the rest goes
to the judge, and OCR's continuous similarity needs no judge at all with the reference config.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from rapidfuzz.distance import Levenshtein

from glmv.output.tags import has_tag, unwrap_answer
from glmv.reward.config import ChartConfig, CountingConfig, MmsiConfig, OcrConfig, VqaConfig
from glmv.reward.extract import answer_regex, boxed_answer
from glmv.reward.format import answer_part
from glmv.reward.judge import parse_last
from glmv.reward.text import parse_number, relative_close
from glmv.reward.verifiers.base import NOT_TEXT, BoxedVerifier, Services, Verdict, Verifier, both_text

__all__ = [
    "ChartVerifier",
    "CountingVerifier",
    "MmsiVerifier",
    "MultiImageVerifier",
    "OcrVerifier",
    "VqaVerifier",
    "ocr_similarity",
]


class VqaVerifier(BoxedVerifier):
    """Exact match, then the majority-vote judge."""

    config_class = VqaConfig
    config: VqaConfig

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth)) is not None:
            return gate
        return self.ask_judge(extracted_answer, ground_truth, question)


def ocr_similarity(answer: str, truth: str, *, ignore_case: bool = False) -> float:
    """``1 - edit distance / longer length`` after removing newlines and spaces (1.0 for two empty strings)."""
    if ignore_case:
        answer, truth = answer.lower(), truth.lower()
    answer = answer.strip().replace("\n", " ").replace(" ", "")
    truth = truth.strip().replace("\n", " ").replace(" ", "")
    longest = max(len(answer), len(truth))
    if longest == 0:
        return 1.0
    return 1.0 - Levenshtein.distance(answer, truth) / longest


class OcrVerifier(BoxedVerifier):
    """Edit-distance similarity: ≥ upper bound → 1, ≤ lower bound → 0, else the judge may lift it to 1,
    otherwise the similarity itself is the (continuous) reward."""

    config_class = OcrConfig
    config: OcrConfig
    answer_tags = "strip"

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if not both_text(extracted_answer, ground_truth):
            return NOT_TEXT
        similarity = ocr_similarity(extracted_answer, ground_truth, ignore_case=self.config.ignore_case)
        if similarity >= self.config.edit_distance_upper_bound:
            return Verdict(1.0, f"similarity {similarity:.3f} ≥ upper bound")
        if similarity <= self.config.edit_distance_lower_bound:
            return Verdict(0.0, f"similarity {similarity:.3f} ≤ lower bound")
        rule = Verdict(similarity, f"edit-distance similarity {similarity:.3f}")
        judged = self.ask_judge(extracted_answer, ground_truth, question, fallback=rule)
        if judged is rule or judged.reward >= 1.0:
            return judged
        return Verdict(
            similarity,
            rule.reason + "; the judge did not accept it",
            judged.error,
            judged.timed_out,
            judged.judge_calls,
        )


def _as_number(text: str) -> Fraction | None:
    """A chart value: thousands separators dropped, ``12%`` read as 0.12."""
    body = text.strip().replace(",", "")
    if body.endswith("%"):
        number = parse_number(body[:-1])
        return None if number is None else number / 100
    return parse_number(body)


class ChartVerifier(Verifier):
    """``answer_extraction_regex`` (named group ``answer`` or group 2), exact match, years exact, other numbers
    under the relative tolerance, then a single judge."""

    config_class = ChartConfig
    config: ChartConfig
    judge_combine = "single"

    def __init__(self, config: ChartConfig, *, services: Services | None = None, name: str = "") -> None:
        super().__init__(config, services=services, name=name)
        self._pattern = answer_regex(config.answer_extraction_regex, where=self.where)

    def extract_answer(self, response: Any, question: str | None = None) -> str | None:
        if not isinstance(response, str):
            return None
        match = self._pattern.search(response)
        if match is None:
            return None
        groups = match.groups()
        part = match.groupdict().get("answer") or (
            groups[1] if len(groups) > 1 else groups[-1] if groups else None
        )
        if part is None:
            return None
        # The answer group may carry the 4.1V <answer> wrapper; any other think/answer tag is nesting.
        inner = unwrap_answer(part)
        part = part if inner is None else inner
        if any(has_tag(g) for g in (*groups[:1], part) if g):
            return None
        return boxed_answer(part, strict=self.config.strict_boxed_extraction)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        answer, truth = _as_number(extracted_answer), _as_number(ground_truth)
        if answer is not None and truth is not None:
            if all(v.denominator == 1 and 1000 <= v <= 3000 for v in (answer, truth)):
                return Verdict(1.0 if answer == truth else 0.0, "years compare exactly")
            if relative_close(answer, truth, self.config.sympy_tolerance):
                return Verdict(1.0, f"numbers equal within tolerance {self.config.sympy_tolerance:g}")
            return Verdict(0.0, "numbers differ")
        return self.ask_judge(extracted_answer, ground_truth, question)


class CountingVerifier(BoxedVerifier):
    """Counts: exact match, equal numbers (``42`` = ``42.0``), then a single judge (last ``1.0``/``0.0``)."""

    config_class = CountingConfig
    config: CountingConfig
    judge_combine = "single"
    judge_parser = staticmethod(parse_last)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth, strip=True)) is not None:
            return gate
        answer, truth = extracted_answer.strip(), ground_truth.strip()
        a, t = parse_number(answer.rstrip(".")), parse_number(truth.rstrip("."))
        if a is not None and t is not None:
            return Verdict(1.0 if a == t else 0.0, "equal counts" if a == t else "different counts")
        return self.ask_judge(answer, truth, question)


def _mmsi_normalise(text: str) -> str:
    text = text.replace("°", "").strip()
    if text.endswith("%"):
        number = parse_number(text[:-1])
        if number is not None:
            return str(float(number) / 100.0)
    return text


class MmsiVerifier(Verifier):
    """Spatial reasoning: ``°``/``%`` normalised, exact match, numbers (absolute near zero, else relative
    tolerance), relations and expressions through math-verify, then a single judge."""

    config_class = MmsiConfig
    config: MmsiConfig
    judge_combine = "single"

    @property
    def blocking(self) -> bool:
        return True

    def extract_answer(self, response: Any, question: str | None = None) -> str | None:
        if not isinstance(response, str):
            return None
        part = answer_part(response, tags="strip")
        if part is None or not part.strip():
            return None
        return boxed_answer(part.strip(), strict=self.config.strict_boxed_extraction)

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if not both_text(extracted_answer, ground_truth):
            return NOT_TEXT
        answer, truth = _mmsi_normalise(extracted_answer), _mmsi_normalise(ground_truth)
        if answer == truth:
            return Verdict(1.0, "exact match")
        tolerance = self.config.sympy_tolerance
        a, t = parse_number(answer), parse_number(truth)
        if a is not None and t is not None:
            diff, scale = abs(float(a - t)), abs(float(t))
            close = diff < tolerance if scale < tolerance else diff / (scale + tolerance) < tolerance
            return Verdict(
                1.0 if close else 0.0, f"numbers {'within' if close else 'beyond'} tolerance {tolerance:g}"
            )
        outcome = self.services.math.check(truth, answer, tolerance)
        verdict = self.math_verdict(outcome)
        if outcome.equal:
            return verdict
        return self.ask_judge(answer, truth, question, fallback=verdict)


class MultiImageVerifier(MmsiVerifier):
    """Exact match, math-verify equivalence, then a single judge (using the configured ``llm_model``)."""

    def evaluate(
        self, extracted_answer: Any, ground_truth: Any, question: str | None = None, image_file: Any = None
    ) -> Verdict:
        if (gate := self.exact_gate(extracted_answer, ground_truth)) is not None:
            return gate
        return self.math_then_judge(extracted_answer, ground_truth, question, self.config.sympy_tolerance)
