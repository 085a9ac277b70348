"""The reward pipeline's fast paths give the same answers as the plain definitions they replace.

- :func:`glmv.reward.text.detect_long_paragraph_mixing` skips ASCII text, text without CJK characters and
  paragraphs too short to qualify; it must agree with the plain paragraph-by-paragraph detector.
- :func:`glmv.reward.text.count_cjk` counts CJK ideographs from UTF-16 high bytes; it must count what the
  official ``[\\u4e00-\\u9fff]`` pattern finds.
- :func:`glmv.reward.format.think_split` finds ``<think>`` / ``</think>`` with two searches instead of the
  official P2 pattern's lazy scan; it must split exactly as that pattern does, case variants included.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from glmv.reward.format import check_format, think_split
from glmv.reward.text import count_cjk, detect_long_paragraph_mixing

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"\b[a-zA-Z]{2,}\b")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_P2 = re.compile(r"^<think>(.*?)</think>(.*)$", re.DOTALL | re.IGNORECASE)


def plain_mixing(text: str, min_chinese_chars: int, min_english_words: int) -> bool:
    """The detector as the official glmv_reward defines it: every paragraph counted, no shortcuts."""
    chinese = english = False
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        cjk = len(_CJK.findall(paragraph))
        if cjk >= min_chinese_chars and cjk / len(paragraph) > 0.8:
            chinese = True
        words = len(_WORD.findall(paragraph))
        tokens = len(paragraph.split())
        if words >= min_english_words and tokens and words / tokens > 0.7:
            english = True
    return chinese and english


# Replies are built from paragraphs: Chinese runs, English word lists (single separators, so paragraphs sit
# right at the size limits), and noise (words with digits / underscores / accents, which are not English words,
# CJK punctuation, other non-ASCII symbols), joined by paragraph breaks, line breaks or spaces.
_CHINESE = st.text(alphabet="我们计算图中数据这个问题首先看", min_size=1, max_size=12)
_ENGLISH = st.builds(
    lambda words, sep: sep.join(words),
    st.lists(
        st.sampled_from(["ab", "the", "Click", "OK", "x2", "I", "café", "is_ok"]), min_size=1, max_size=8
    ),
    st.sampled_from([" ", ",", "—", "\t", "  "]),
)
_NOISE = st.text(alphabet="，。—≥.,3 ｘé_\t", max_size=4)
_PARAGRAPH = st.builds(lambda a, b: a + b, st.one_of(_CHINESE, _ENGLISH), _NOISE | st.just(""))
_JOIN = st.sampled_from(["\n\n", "\n \n", "\n", " ", "\n\n\n"])


@st.composite
def replies(draw: st.DrawFn) -> str:
    paragraphs = draw(st.lists(_PARAGRAPH, max_size=6))
    text = ""
    for paragraph in paragraphs:
        text += (draw(_JOIN) if text else "") + paragraph
    return text


@settings(max_examples=200, deadline=None)
@given(replies(), st.integers(min_value=-1, max_value=8), st.integers(min_value=-1, max_value=6))
def test_mixing_shortcuts_agree_with_plain_detector(text: str, min_chinese: int, min_english: int) -> None:
    assert detect_long_paragraph_mixing(text, min_chinese, min_english) == plain_mixing(
        text, min_chinese, min_english
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=0, max_value=260),
    st.sampled_from(["\n\n", "\n", " ", "\n  \n"]),
    st.sampled_from(["word", "x2", "é", "词"]),
)
def test_mixing_agrees_at_default_thresholds(chinese: int, english: int, gap: str, noise: str) -> None:
    """Paragraph sizes around the official thresholds (50 CJK characters, 200 English words)."""
    text = "我" * chinese + gap + " ".join(["ab"] * english) + " " + noise
    assert detect_long_paragraph_mixing(text) == plain_mixing(text, 50, 200)


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.characters(),
            # the range edges, astral characters (surrogate pairs in UTF-16; 𠀀 is a CJK extension-B
            # ideograph outside the counted range), a lone surrogate, CJK punctuation
            st.sampled_from(
                ["\u4dff", "\u4e00", "\u9fff", "\ua000", "𠀀", "😀", "\ud800", "\udfff", "，", "。"]
            ),
        ),
        max_size=40,
    )
)
def test_count_cjk_counts_what_the_pattern_finds(text: str) -> None:
    assert count_cjk(text) == len(_CJK.findall(text))


def test_mixing_real_cases() -> None:
    zh = "我们一步一步地来计算这个问题，首先看图中的数据。" * 4
    en = " ".join(["step"] * 210)
    for text, mixed in [
        (zh + "\n\n" + en, True),
        (en + "\n\n" + zh, True),
        (zh + " " + en, False),  # one paragraph: neither Chinese enough nor English enough
        (zh + "\n\n" + " ".join(["step"] * 150), False),
        (en + "\n\n" + en, False),
        ("<think>" + en + "</think>答案是 42", False),
    ]:
        assert detect_long_paragraph_mixing(text) is mixed == plain_mixing(text, 50, 200), text[:40]


# Tag fragments in random case, with the Unicode letters that IGNORECASE matches to ASCII (İ ı ſ K).
_TAG_PIECES = st.one_of(
    st.sampled_from(["<think>", "</think>", "<THINK>", "</Think>", "<answer>", "</answer>", "<", ">", "/"]),
    st.sampled_from(["<thİnk>", "</thınk>", "<thinK>", "</thinK>", "\n", "x", "ſ", "42", " "]),
    st.text(alphabet="<>/thinkTHINK \n", max_size=10),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TAG_PIECES, max_size=20).map("".join))
def test_think_split_matches_official_pattern(text: str) -> None:
    match = _P2.match(text)
    assert think_split(text) == (None if match is None else (match.group(1), match.group(2)))


def test_check_format_on_long_reasoning() -> None:
    """The gate reads a long reply the same way whatever the reasoning length."""
    reasoning = "Let me check each element of the screen. " * 500
    ok = f"<think>{reasoning}</think><answer><|begin_of_box|>42<|end_of_box|></answer>"
    assert check_format(ok) is None
    assert check_format(ok.replace("</think>", "</think><think>", 1)) is not None
    assert check_format(f"<think>{reasoning}<answer>x</answer></think>42") is not None
    assert check_format("  " + ok) is not None
