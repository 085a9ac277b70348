"""The error a GUI action parse raises: :class:`ActionParseError`, an :class:`~glmv.errors.OutputError`."""

from __future__ import annotations

from glmv.errors import OutputError

__all__ = ["ActionParseError"]

_SHOWN_CHARS = 300


class ActionParseError(OutputError):
    """A model's text holds no action that parses; the message names the text and what was wrong.

    ``text`` is the text that failed (the action text, or the whole reply when no action was found) and
    ``dialect`` the dialect it was read in (None when no dialect could be told).
    """

    def __init__(self, problem: str, text: str, dialect: str | None = None) -> None:
        shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
        where = f" as {dialect}" if dialect else ""
        super().__init__(
            f"Cannot read a GUI action{where} from {shown!r}: {problem}. Ask the model for one action in the "
            f"format its prompt gives."
        )
        self.problem = problem
        self.text = text
        self.dialect = dialect
