"""Stop strings: their limits, and a matcher whose cost is linear in the new text.

A request may carry at most :data:`MAX_STOPS` stop strings of at most :data:`MAX_STOP_CHARS` characters each;
:func:`check_stops` refuses anything past that with a :class:`~glmv.errors.RequestError` (a 400 over HTTP).

:class:`StopMatcher` runs one Aho–Corasick automaton over all the stop strings of a row, so each new character
costs O(1) amortised however many stops there are and however long they are (the naive scan cost time
quadratic in each stop's length on every token, inside the batch thread). It holds back the tail of the text
that could still become a stop string and emits the rest. The text is cut at the first stop string to end
(the longest one when several end at the same character), so the result does not depend on how the text was
cut into deltas.
"""

from __future__ import annotations

from collections.abc import Sequence

from glmv.errors import RequestError

__all__ = ["MAX_STOPS", "MAX_STOP_CHARS", "StopMatcher", "check_stops"]

MAX_STOPS = 16
"""Stop strings one request may carry."""

MAX_STOP_CHARS = 1024
"""Characters one stop string may have."""


def check_stops(stops: Sequence[str] | None) -> list[str] | None:
    """``stops`` as a list, refused when there are too many, one is too long or one is not a string."""
    if stops is None:
        return None
    if isinstance(stops, str):
        stops = [stops]
    stops = list(stops)
    if len(stops) > MAX_STOPS:
        raise RequestError(f"At most {MAX_STOPS} stop strings are allowed; got {len(stops)}.", field="stop")
    for stop in stops:
        if not isinstance(stop, str):
            raise RequestError(f"Stop strings must be strings; got {type(stop).__name__}.", field="stop")
        if len(stop) > MAX_STOP_CHARS:
            raise RequestError(
                f"A stop string may have at most {MAX_STOP_CHARS} characters; one has {len(stop)}.",
                field="stop",
            )
    return stops


class StopMatcher:
    """Cuts a row's text at its first stop string, holding back a tail that may be the start of one."""

    def __init__(self, stops: Sequence[str] | None) -> None:
        self._goto: list[dict[str, int]] = [{}]
        self._depth = [0]
        self._hit = [0]  # node → length of the longest stop string that ends here (0: none)
        for stop in stops or ():
            if stop:
                self._add(stop)
        self._link()
        self._state = 0
        self.held = ""

    @property
    def active(self) -> bool:
        return len(self._goto) > 1

    def _add(self, stop: str) -> None:
        node = 0
        for char in stop:
            child = self._goto[node].get(char)
            if child is None:
                child = len(self._goto)
                self._goto[node][char] = child
                self._goto.append({})
                self._depth.append(self._depth[node] + 1)
                self._hit.append(0)
            node = child
        self._hit[node] = len(stop)

    def _link(self) -> None:
        self._fail = [0] * len(self._goto)
        order = list(self._goto[0].values())
        for node in order:
            for char, child in self._goto[node].items():
                fallback = self._fail[node]
                while fallback and char not in self._goto[fallback]:
                    fallback = self._fail[fallback]
                link = self._goto[fallback].get(char, 0)
                self._fail[child] = link if link != child else 0
                self._hit[child] = self._hit[child] or self._hit[self._fail[child]]
                order.append(child)

    def feed(self, text: str) -> tuple[str, bool]:
        """The text safe to emit, and whether a stop string was hit (then nothing more should be fed)."""
        if not self.active or not text:
            return text, False
        held = self.held
        goto, fail, hit = self._goto, self._fail, self._hit
        state = self._state
        for position, char in enumerate(text):
            while state and char not in goto[state]:
                state = fail[state]
            state = goto[state].get(char, 0)
            if hit[state]:
                combined = held + text[: position + 1]
                self._state, self.held = 0, ""
                return combined[: len(combined) - hit[state]], True
        self._state = state
        combined = held + text
        keep = self._depth[state]
        self.held = combined[len(combined) - keep :] if keep else ""
        return combined[: len(combined) - keep], False

    def flush(self) -> str:
        """What was held back (the text ended without completing a stop string)."""
        held, self.held, self._state = self.held, "", 0
        return held
