"""Answer extraction for multiple-choice and open questions: MMMU's official rules, made deterministic.

:func:`extract_choice` reads which option a reply names; :func:`mmmu_open_match` checks an open answer the way
MMMU's ``parse_open_response`` + ``eval_open`` do.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

__all__ = ["extract_choice", "mmmu_open_match", "option_letters"]


def option_letters(options: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Options as ``{letter: text}``: a mapping as given, a sequence lettered ``A``, ``B``, … in order."""
    if isinstance(options, Mapping):
        return {str(key).strip().upper(): str(value) for key, value in options.items()}
    return {string.ascii_uppercase[index]: str(text) for index, text in enumerate(options)}


def extract_choice(response: str, options: Sequence[str] | Mapping[str, str]) -> str | None:
    """The option letter ``response`` names, or ``None`` when it names none.

    MMMU's ``parse_multi_choice_response``, in its order: ``(A)`` anywhere; else a bare letter followed by a
    space (``A is right``); else a letter followed by a period (``A.``); else — only for replies longer than five
    words — the text of an option. When several options are named, the one named **last** wins (for each form,
    the last occurrence of that form).

    Deliberate differences from the official code: nothing parses → ``None`` (MMMU and VLMEvalKit pick a random
    option, which makes scores irreproducible); a bare letter must start a word (MMMU's ``f"{choice} " in
    response`` also finds ``B`` in ``"the JOB is done"``); and with several ``A.``-style candidates the last
    ``A.`` wins (MMMU looks for ``" A "`` there and so picks the first candidate).
    """
    letters = option_letters(options)
    text = response
    for char in ",.!?;:'":
        text = text.strip(char)
    text = f" {text} "
    by_bracket = [letter for letter in letters if f"({letter})" in text]
    if by_bracket:
        return max(by_bracket, key=lambda letter: text.rfind(f"({letter})"))
    for form in ("{} ", "{}."):
        found = {
            letter: match.start()
            for letter in letters
            for match in re.finditer(r"(?<![A-Za-z0-9])" + re.escape(form.format(letter)), text)
        }
        if found:
            return max(found, key=found.__getitem__)
    if len(text.split()) > 5:
        lowered = text.lower()
        named = {
            letter: lowered.rfind(option.lower())
            for letter, option in letters.items()
            if option and option.lower() in lowered
        }
        if named:
            return max(named, key=named.__getitem__)
    return None


_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+)(?![eE][+-]?\d+)(?![,\d])")
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")


def _numbers(text: str) -> list[str]:
    return _COMMAS.findall(text) + _SCIENTIFIC.findall(text) + _SIMPLE.findall(text)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _normalise(text: str) -> list[str | float]:
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    pieces = response.split("\n")
    keys = []
    for index, piece in enumerate(pieces):
        indicators = (*_INDICATORS, "=") if index == len(pieces) - 1 else _INDICATORS
        tails = [piece.split(indicator)[-1].strip() for indicator in indicators if indicator in piece]
        shortest = min(tails, key=len) if tails else ""
        if shortest and shortest not in (":", ",", ".", "!", "?", ";", "'"):
            keys.append(shortest)
    return keys or [response]


def mmmu_open_match(response: str, answers: Sequence[str] | str) -> bool:
    """Whether an open-question reply matches a gold answer by MMMU's rules (``parse_open_response``).

    The reply is cut into key sub-answers (the shortest text after ``is`` / ``so`` / ``therefore`` / ``answer`` …,
    and after ``=`` in the last line); numbers in them are extracted too. Numbers compare rounded to two decimals
    (``1,000`` = ``1000.0``); strings match when a normalised gold answer is a substring of a sub-answer (a
    one-letter gold must stand alone). As in MMMU, MMMU's sentence split (after lower-casing, so it never fires)
    is left out: sub-answers are split on newlines.
    """
    keys = _key_responses(response)
    candidates: list[str] = list(keys)
    for key in keys:
        candidates.extend(_numbers(key))
    predictions = {value for candidate in candidates for value in _normalise(candidate)}
    golds = [answers] if isinstance(answers, str) else list(answers)
    normal = [value for gold in golds for value in _normalise(str(gold))]
    for prediction in predictions:
        if isinstance(prediction, str):
            if any(isinstance(gold, str) and gold in prediction for gold in normal):
                return True
        elif prediction in normal:
            return True
    return False
