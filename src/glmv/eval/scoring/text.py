"""Text-answer scorers: ANLS (DocVQA, InfoVQA), relaxed accuracy (ChartQA), VQA accuracy (TextVQA, VQAv2) and
OCRBench's substring rule.

Each follows its benchmark's official scorer; the docstrings name the points where other published versions
(lmms-eval, VLMEvalKit, the papers) differ, and which way glmv goes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

__all__ = ["anls", "normalize_vqa_answer", "ocrbench_match", "relaxed_accuracy", "vqa_accuracy"]


def _collapse(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls(prediction: str, answers: Sequence[str] | str, threshold: float = 0.5) -> float:
    """Average Normalized Levenshtein Similarity of one prediction against its reference answers (DocVQA).

    Per reference: both strings lower-cased, stripped and whitespace-collapsed; ``NL = distance / max(len)`` over
    the *normalised* strings; the similarity ``1 - NL``. The score is the best similarity over the references,
    set to 0 when it is below ``1 - threshold``.

    Choices where implementations disagree: the value at exactly τ is **kept** (``NL = 0.5`` scores 0.5), as in
    the official DocVQA / RRC evaluation (``if score < threshold: score = 0``), whereas the paper's wording
    ("NL < τ") would give 0; the denominator uses the normalised lengths as the official script does, where
    lmms-eval divides by the un-normalised lengths. Two empty strings are identical (similarity 1).
    """
    references = [answers] if isinstance(answers, str) else list(answers)
    guess = _collapse(prediction)
    best = 0.0
    for reference in references:
        gold = _collapse(str(reference))
        length = max(len(gold), len(guess))
        similarity = 1.0 if length == 0 else 1.0 - Levenshtein.distance(gold, guess) / length
        best = max(best, similarity)
    return best if best >= 1.0 - threshold else 0.0


def _to_float(text: str) -> float | None:
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


def relaxed_accuracy(prediction: str, answer: str, tolerance: float = 0.05) -> float:
    """ChartQA's relaxed accuracy: 1.0 when a number is within ``tolerance`` relative error, else exact match.

    The official rule (pix2struct ``relaxed_correctness``, used by lmms-eval and VLMEvalKit): a trailing ``%``
    divides by 100; the relative error is measured **against the gold** (``|p - g| / |g|``) and the bound is
    inclusive (exactly 5 % off is correct); a gold of 0 is not treated as a number (division by zero), so it
    falls back to the case-insensitive exact string comparison, as does any non-numeric answer. Strings are not
    stripped here: the task's extraction strips the reply.
    """
    guess, gold = _to_float(prediction), _to_float(answer)
    if guess is not None and gold:
        return float(abs(guess - gold) / abs(gold) <= tolerance)
    return float(prediction.lower() == answer.lower())


# The EvalAI answer processor (TextVQA's official evaluator, m4c ``EvalAIAnswerProcessor``).
_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's", "thered": "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're", "theres": "there's",
    "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've", "theyll": "they'll",
    "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll",
    "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
    "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}  # fmt: skip
_NUMBERS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ARTICLES = {"a", "an", "the"}
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
_PUNCTUATION = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]  # fmt: skip


def _punctuation(text: str) -> str:
    out = text
    for mark in _PUNCTUATION:
        if (mark + " " in text or " " + mark in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD_STRIP.sub("", out)


def _digits_and_articles(text: str) -> str:
    words = [_NUMBERS.get(word, word) for word in text.lower().split()]
    words = [_CONTRACTIONS.get(word, word) for word in words if word not in _ARTICLES]
    return " ".join(words)


def normalize_vqa_answer(answer: str) -> str:
    """The EvalAI / TextVQA answer normalisation: lower case, ``,`` ``?`` dropped, ``'s`` split off, punctuation
    removed (or turned into spaces), periods not inside numbers dropped, number words to digits, articles dropped,
    contractions restored (``dont`` → ``don't``)."""
    text = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    return _digits_and_articles(_punctuation(text))


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """VQA accuracy of one prediction against the human answers (10 in TextVQA / VQAv2).

    ``min(1, matches / 3)`` averaged over the ten leave-one-out subsets of nine answers, so 1 matching answer
    scores 0.3, 2 score 0.6, 3 score 0.9 and 4 or more score 1.

    Normalisation: the prediction and every answer go through :func:`normalize_vqa_answer`, as TextVQA's
    official evaluator (m4c / EvalAI ``TextVQAAccuracyEvaluator``) and lmms-eval do. The VQAv2 API's
    ``vqaEval.py`` instead skips the punctuation and digit steps when all ten answers agree, so there
    ``"Two"`` against ten ``"two"`` scores 0; glmv normalises always (it scores 1). Any number of answers is
    accepted; the leave-one-out average runs over however many there are.
    """
    golds = [normalize_vqa_answer(str(answer)) for answer in answers]
    if not golds:
        return 0.0
    guess = normalize_vqa_answer(prediction)
    matches = sum(gold == guess for gold in golds)
    total = 0.0
    for gold in golds:
        others = matches - (gold == guess)
        total += min(1.0, others / 3.0)
    return total / len(golds)


_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_HME = {"handwritten mathematical expression recognition", "hme100k"}


def ocrbench_match(prediction: str, answers: Sequence[str] | str, question_type: str) -> float:
    """OCRBench's rule: 1.0 when any gold answer is a substring of the prediction, else 0.0.

    As in OCRBench's own ``eval.py`` (and both kits): answer and prediction are stripped, newlines become spaces
    and the comparison is case-insensitive; for the handwritten mathematical expressions (``question_type``
    ``"Handwritten Mathematical Expression Recognition"``, dataset HME100k) every space is removed and case is
    kept. Full-width ASCII (``Ａ``, ``１``, the ideographic space) is folded to ASCII first, as VLMEvalKit does.
    The 1,000-point total is the sum of these scores over the benchmark's 1,000 items.
    """
    references = [answers] if isinstance(answers, str) else list(answers)
    guess = prediction.translate(_FULL_WIDTH)
    formula = question_type.strip().lower() in _HME
    for reference in references:
        gold = str(reference).translate(_FULL_WIDTH)
        if formula:
            gold_text = gold.strip().replace("\n", " ").replace(" ", "")
            guess_text = guess.strip().replace("\n", " ").replace(" ", "")
        else:
            gold_text = gold.lower().strip().replace("\n", " ")
            guess_text = guess.lower().strip().replace("\n", " ")
        if gold_text in guess_text:
            return 1.0
    return 0.0
