"""Math answer equivalence for eval tasks, through the reward system's public :class:`glmv.reward.MathChecker`.

Plain numbers and identical answers are decided in-process; LaTeX, fractions, sets and intervals go to
math-verify in worker processes with a hard timeout (started only when first needed). One checker is shared by
every task of the process and closed at exit.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glmv.reward import MathChecker

__all__ = ["math_equal"]

_checker: MathChecker | None = None
_lock = threading.Lock()


def _shared_checker() -> MathChecker:
    global _checker
    with _lock:
        if _checker is None:
            from glmv.reward import MathChecker

            _checker = MathChecker(workers=1, timeout=10.0)
            atexit.register(_checker.close)
        return _checker


def math_equal(
    prediction: str, answer: str, tolerance: float = 1e-5, checker: MathChecker | None = None
) -> bool:
    """Whether ``prediction`` is mathematically equivalent to the gold ``answer`` (``0.5`` = ``\\frac{1}{2}``).

    Numbers compare within the relative ``tolerance``; a check that times out counts as not equal (the reward
    system's rule: fail closed). ``checker`` defaults to one shared :class:`~glmv.reward.MathChecker`.
    """
    if not prediction.strip():
        return False
    outcome = (checker or _shared_checker()).check(answer, prediction, tolerance)
    return outcome.equal
