"""Stop strings: limits refused with a clear error, and a matcher that agrees with the plain definition."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glmv.engine.stops import MAX_STOP_CHARS, MAX_STOPS, StopMatcher, check_stops
from glmv.errors import RequestError


def _reference(text: str, stops: list[str]) -> tuple[str, bool]:
    """The text up to the first stop string to end (the longest when several end together)."""
    for end in range(1, len(text) + 1):
        ending = [stop for stop in stops if stop and text[:end].endswith(stop)]
        if ending:
            return text[: end - max(map(len, ending))], True
    return text, False


def _run(pieces: list[str], stops: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = []
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("Hello world", ["wor"], ("Hello ", True)),
        ("Hello world", ["xyz"], ("Hello world", False)),
        ("abcd", ["abcd", "bc"], ("a", True)),  # "bc" ends first
        ("abcd", ["bcd", "abcd"], ("", True)),  # both end at d: the longer wins
        ("aaab", ["aab"], ("a", True)),  # a failed partial match restarts inside itself
        ("tail ab", ["abc"], ("tail ab", False)),  # a held-back tail is flushed at the end
        ("x</answer>y", ["</answer>"], ("x", True)),
        ("", ["a"], ("", False)),
        ("abc", [], ("abc", False)),
        ("abc", [""], ("abc", False)),
    ],
    ids=[
        "cut-before-stop",
        "no-stop",
        "first-to-end-wins",
        "longest-of-those-ending-together",
        "restart-inside-partial-match",
        "held-tail-flushed",
        "markup-stop",
        "empty-text",
        "no-stops",
        "empty-stop-ignored",
    ],
)
def test_cuts_at_the_first_stop(text, stops, expected):
    assert _run([text], stops) == expected
    assert _run(list(text), stops) == expected


@given(
    text=st.text(alphabet="abc", max_size=40),
    stops=st.lists(st.text(alphabet="abc", min_size=1, max_size=5), max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_any_chunking_agrees_with_the_definition(text, stops, cuts):
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert _run(pieces, stops) == _reference(text, stops)


def test_held_back_text_is_never_longer_than_a_stop():
    matcher = StopMatcher(["x" * 50 + "y"])
    emitted, _ = matcher.feed("x" * 10_000)
    assert len(emitted) == 10_000 - 50 and len(matcher.held) == 50


def test_long_stops_cost_linear_time():
    stops = ["a" * MAX_STOP_CHARS + str(i) for i in range(MAX_STOPS)]
    matcher = StopMatcher(stops)
    started = time.perf_counter()
    for _ in range(2000):  # 2000 tokens of text that keeps every stop half-matched
        matcher.feed("aaaa")
    # the naive scan took ~MAX_STOPS × MAX_STOP_CHARS² per token (seconds here); the automaton takes microseconds
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("stops", "message"),
    [
        (["s"] * (MAX_STOPS + 1), f"At most {MAX_STOPS} stop strings"),
        (["x" * (MAX_STOP_CHARS + 1)], f"at most {MAX_STOP_CHARS} characters"),
        ([3], "must be strings"),
    ],
    ids=["too-many", "too-long", "not-a-string"],
)
def test_limits_are_refused(stops, message):
    with pytest.raises(RequestError, match=message) as caught:
        check_stops(stops)
    assert caught.value.field == "stop"


def test_a_single_string_is_a_list():
    assert check_stops("END") == ["END"]
    assert check_stops(None) is None
