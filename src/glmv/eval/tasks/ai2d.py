"""AI2D: science-diagram multiple choice; the gold is an option index (lmms-eval's ``lmms-lab/ai2d``) or a letter."""

from __future__ import annotations

from glmv.eval.tasks.choice import ChoiceTask

__all__ = ["AI2D"]


class AI2D(ChoiceTask):
    """AI2D (test): ``question``, ``options`` (list), ``answer`` (index or letter), ``image``."""

    name = "ai2d"
    title = "AI2D"
    required = ("question", "options", "answer", "image")
