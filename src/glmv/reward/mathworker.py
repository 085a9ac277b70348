"""What runs inside a math worker process: math-verify ``parse`` + ``verify`` and the numeric tolerance check.

The parent (:mod:`glmv.reward.mathcheck`) starts ``python -m glmv.reward.mathworker``, sends tasks over stdin and
kills the process when one takes too long, so math-verify's own SIGALRM timeouts are switched off here. Parsed answers are
cached: in RL a group of rollouts shares one ground truth.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from typing import Any

__all__ = ["check", "main"]


def _as_latex(text: str) -> str:
    """Bare answers go inside ``$…$`` so math-verify's LaTeX extraction reads them whole."""
    return text if any(mark in text for mark in ("$", "\\(", "\\[")) else f"${text}$"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Any, ...]:
    from math_verify import parse

    return tuple(parse(_as_latex(text), parsing_timeout=None))


def _numeric_close(gold: tuple[Any, ...], pred: tuple[Any, ...], tolerance: float) -> bool:
    from sympy import Basic, N

    g, p = gold[0], pred[0]
    if not (isinstance(g, Basic) and isinstance(p, Basic) and g.is_number and p.is_number):
        return False
    gv, pv = complex(N(g, 20)), complex(N(p, 20))
    return abs(pv - gv) / (abs(gv) + 1e-6) < tolerance


def check(gold: str, pred: str, tolerance: float) -> tuple[bool, str]:
    """Whether ``pred`` is equivalent to ``gold``, and why."""
    from math_verify import verify

    g = _parse(gold)
    if not g:
        return False, "math-verify cannot read the ground truth"
    p = _parse(pred)
    if not p:
        return False, "math-verify cannot read the answer"
    if verify(list(g), list(p), timeout_seconds=None):
        return True, "math-verify: equivalent"
    if tolerance > 0 and _numeric_close(g, p, tolerance):
        return True, f"numerically equal within tolerance {tolerance:g}"
    return False, "math-verify: not equivalent"


def main() -> None:
    """The worker loop over stdin/stdout, one JSON line each way.

    Writes ``"ready"`` once math-verify is imported, then answers each ``[gold, pred, tolerance]`` line with
    ``["ok", equal, reason]`` or ``["error", false, message]``. Anything libraries print goes to stderr.
    """
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    check(
        "1", "\\frac{1}{2}", 0.0
    )  # load math-verify and its grammar before "ready": tasks are timed from here

    out.write('"ready"\n')
    for line in sys.stdin:
        try:
            gold, pred, tolerance = json.loads(line)
            equal, reason = check(gold, pred, float(tolerance))
            reply = ["ok", equal, reason]
        except Exception as exc:  # the parent counts it as an internal error
            reply = ["error", False, f"{type(exc).__name__}: {exc}"]
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
