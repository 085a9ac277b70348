"""Text helpers of the reward system: numbers, units, genotypes, judge templates and the language-mix detector.

All of them are cheap and in-process. Numbers are parsed exactly (:class:`fractions.Fraction`) so the fast path of
the math check never rounds; units are found as whole tokens next to a number (the official substring test
sent almost every word to the judge).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

__all__ = [
    "CHEMISTRY_UNITS",
    "PHYSICS_UNITS",
    "count_cjk",
    "detect_long_paragraph_mixing",
    "find_units",
    "normalize_genotype",
    "parse_number",
    "placeholders",
    "protect_template",
    "relative_close",
    "value_with_unit",
]

_DOLLARS = re.compile(r"^\$+|\$+$")
_PLAIN = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_LATEX_FRAC = re.compile(r"^([+-]?)\\[dt]?frac\{\s*([+-]?\d+)\s*\}\{\s*([+-]?\d+)\s*\}$")
_SLASH_FRAC = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")


def parse_number(text: str) -> Fraction | None:
    """``text`` as an exact number when it is a plain one (``42``, ``-0.5``, ``3/4``, ``\\frac{3}{4}``), else None."""
    body = _DOLLARS.sub("", text.strip()).strip()
    if len(body) > 64:
        return None
    if _PLAIN.match(body):
        return Fraction(body)
    match = _LATEX_FRAC.match(body) or _SLASH_FRAC.match(body)
    if match is None:
        return None
    groups = match.groups()
    sign, num, den = ("", *groups) if len(groups) == 2 else groups
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return -value if sign == "-" else value


def relative_close(answer: Fraction | float, truth: Fraction | float, tolerance: float) -> bool:
    """The official tolerance rule: ``|a - g| / (|g| + 1e-6) < tolerance`` (exact equality always passes)."""
    if answer == truth:
        return True
    return float(abs(answer - truth)) / (float(abs(truth)) + 1e-6) < tolerance


PHYSICS_UNITS: tuple[str, ...] = (
    "kg", "g", "mg", "m", "cm", "mm", "km", "nm", "s", "ms", "h", "min", "J", "kJ", "N", "Pa", "kPa", "W", "kW",
    "V", "A", "mA", "Ω", "℃", "°C", "K", "mol", "L", "ml", "mL", "Hz", "eV", "T", "C", "F", "m/s", "m/s^2",
    "m/s²", "km/h", "N·m", "％", "%", "米", "厘米", "毫米", "千米", "千克", "克", "秒", "小时", "分钟", "牛",
    "焦", "焦耳", "瓦", "伏", "安", "欧", "摩尔", "升", "毫升",
)  # fmt: skip
CHEMISTRY_UNITS: tuple[str, ...] = (
    "mol", "L", "ml", "mL", "M", "N", "g", "kg", "mg", "g/mol", "mol/L", "mol·L^{-1}", "atm", "kPa", "Pa",
    "mmHg", "cal", "kcal", "J", "kJ", "kJ/mol", "eV", "ppm", "ppb", "K", "℃", "°C", "%", "摩尔", "升", "毫升",
    "克", "千克", "千焦",
)  # fmt: skip
# Quantities that mark a chemistry answer even without a number in front of them.
_CHEMISTRY_SYMBOLS = ("pH", "pOH", "K_w", "K_a", "K_b", "K_sp", "K_c", "K_p", "N_A", "ΔH", "ΔS", "ΔG", "E°")

_UNWRAP = re.compile(r"\\(?:text|mathrm|rm|,|;|!|\s)\{?")
_NUMBER = r"(?<![\w.])([+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:\s*[×x*]\s*10\^\{?-?\d+\}?)?)"
_unit_patterns: dict[tuple[str, ...], re.Pattern[str]] = {}


def _unit_pattern(units: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _unit_patterns.get(units)
    if pattern is None:
        alternatives = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
        pattern = re.compile(_NUMBER + r"\s*~?\s*(" + alternatives + r")(?![A-Za-z])")
        _unit_patterns[units] = pattern
    return pattern


def _unwrap(text: str) -> str:
    return _UNWRAP.sub(" ", text).replace("}", " ").replace("{", " ")


def find_units(text: str, units: tuple[str, ...]) -> list[str]:
    """Units written right after a number in ``text`` (``5 m``, ``3.2\\,\\text{kg}``, ``20%``), plus chemistry
    symbols such as ``pH`` or ``K_sp`` written as whole words."""
    found = [m.group(2) for m in _unit_pattern(units).finditer(_unwrap(text))]
    if units is CHEMISTRY_UNITS:
        found += [
            s
            for s in _CHEMISTRY_SYMBOLS
            if re.search(r"(?<![A-Za-z])" + re.escape(s) + r"(?![A-Za-z])", text)
        ]
    return found


def value_with_unit(text: str, units: tuple[str, ...]) -> tuple[Fraction, str] | None:
    """``(value, unit)`` when ``text`` is exactly one number followed by one unit, else None."""
    body = _unwrap(_DOLLARS.sub("", text.strip())).strip()
    match = _unit_pattern(units).fullmatch(body)
    if match is None:
        return None
    value = parse_number(match.group(1))
    return None if value is None else (value, match.group(2))


def normalize_genotype(text: str) -> str:
    """``bBAa`` → ``AaBb``: genes in alphabetical order, the dominant allele first; other text is unchanged."""
    body = text.strip()
    if not body or not body.isascii() or not body.isalpha():
        return text
    letters = sorted({c.lower() for c in body})
    if any(body.lower().count(c) != 2 for c in letters):
        return text
    return "".join("".join(sorted((c for c in body if c.lower() == g), key=str.islower)) for g in letters)


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders of a judge template (literal braces elsewhere are ignored)."""
    names = set()
    for match in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template):
        names.add(match.group(1))
    return names


def protect_template(template: str, allowed: Iterable[str]) -> str:
    """``template`` ready for ``str.format``: every brace doubled except the ``{name}`` of ``allowed`` names, so
    judge prompts may hold literal JSON and LaTeX."""
    protected = template.replace("{", "{{").replace("}", "}}")
    for name in allowed:
        protected = protected.replace("{{" + name + "}}", "{" + name + "}")
    return protected


_WORD = re.compile(r"\b[a-zA-Z]{2,}\b")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_CJK_HIGH_BYTES = bytes(range(0x4E, 0xA0))


def count_cjk(text: str) -> int:
    """The number of CJK Unified Ideographs (U+4E00–U+9FFF) in ``text``: ``len(re.findall("[\\u4e00-\\u9fff]",
    text))``, counted in C. In UTF-16 they are exactly the code units whose high byte is 0x4E–0x9F (surrogate
    halves have 0xD8–0xDF), so the high bytes are counted."""
    high = text.encode("utf-16-be", "surrogatepass")[::2]
    return len(high) - len(high.translate(None, _CJK_HIGH_BYTES))


def detect_long_paragraph_mixing(
    text: str, min_chinese_chars: int = 50, min_english_words: int = 200
) -> bool:
    """True when ``text`` has both a long Chinese paragraph (≥ ``min_chinese_chars`` CJK characters making up
    over 80 % of it) and a long English one (≥ ``min_english_words`` words making up over 70 % of its tokens).

    Exact shortcuts decide most replies without splitting them: a Chinese paragraph needs at least
    ``max(min_chinese_chars, 1)`` CJK characters (so ASCII text, or text with fewer, never mixes) and an English
    one at least ``max(min_english_words, 1)`` words of two or more ASCII letters, each pair separated by a
    non-word character: ``3·words − 1`` characters, none of them CJK. Paragraphs too short for either are skipped.
    """
    chinese_chars = max(min_chinese_chars, 1)
    english_chars = 3 * max(min_english_words, 1) - 1
    if text.isascii() or len(text) < chinese_chars + english_chars or count_cjk(text) < chinese_chars:
        return False
    chinese = english = False
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = paragraph.strip()
        size = latin = len(paragraph)
        if not chinese and size >= chinese_chars:
            cjk = count_cjk(paragraph)
            latin -= cjk
            if cjk >= min_chinese_chars and cjk / size > 0.8:
                chinese = True
        if not english and latin >= english_chars:
            words = len(_WORD.findall(paragraph))
            tokens = len(paragraph.split())
            if words >= min_english_words and tokens and words / tokens > 0.7:
                english = True
        if chinese and english:
            return True
    return False
